"""Single-object caches of what this node's pods use (the kubelet's watch-based Secret/ConfigMap managers).

Under the Node authorizer a kubelet may read a Secret, ConfigMap, PersistentVolumeClaim or PersistentVolume
only by name, and only while a pod bound to it uses it: so instead of cluster-wide informers, each object a
pod refers to gets its own watch (``fieldSelector=metadata.name=…``), counted by the pods using it and
stopped with the last of them. A pod reaches its worker once its objects' caches have synced, so a first
start never sees a missing ConfigMap that exists.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Final

from client.backoff import Backoff
from client.informer import SharedInformer
from client.rest import ResourceRef, RestClient
from kubelet.pod_references import references

CONFIG_MAPS: Final = ResourceRef("", "v1", "configmaps", True, "ConfigMap")
SECRETS: Final = ResourceRef("", "v1", "secrets", True, "Secret")
CLAIMS: Final = ResourceRef("", "v1", "persistentvolumeclaims", True, "PersistentVolumeClaim")
VOLUMES: Final = ResourceRef("", "v1", "persistentvolumes", False, "PersistentVolume")
SYNC_SECONDS: Final = 10.0
"""How long a pod waits for its objects' first lists before its worker gets it anyway (it retries)."""
FIRST_RETRY_SECONDS: Final = 0.2
"""A pod's objects are asked for the moment its binding arrives, and an apiserver whose Node-authorizer graph
has not seen that binding yet (its pod watch a few ms behind the one this kubelet's came through) refuses them
for that moment: the lists are retried after 0.2-0.4 s, not the reflectors' usual 0.8-1.6 s, which every pod
of the node would wait out (upstream's volume manager retries a mount after 0.5 s)."""

Key = tuple[ResourceRef, str, str]


class ObjectWatches:
    """Watches of individual objects, reference-counted by the pods (uids) that use them."""

    def __init__(self, rest: RestClient) -> None:
        self.rest = rest
        self._informers: dict[Key, SharedInformer] = {}
        self._users: dict[Key, set[str]] = {}
        self._by_pod: dict[str, set[Key]] = {}

    def _watch(self, key: Key) -> SharedInformer:
        informer = self._informers.get(key)
        if informer is None:
            ref, namespace, name = key
            informer = SharedInformer(self.rest, ref, namespace=namespace or None,
                                      field_selector=f"metadata.name={name}",
                                      backoff=Backoff(initial=FIRST_RETRY_SECONDS, clock=self.rest.clock))
            informer.start()
            self._informers[key] = informer
        return informer

    def _keys(self, pod: dict[str, Any]) -> set[Key]:
        refs = references(pod)
        keys: set[Key] = {(CONFIG_MAPS, ns, n) for ns, n in refs.config_maps}
        keys |= {(SECRETS, ns, n) for ns, n in refs.secrets}
        keys |= {(CLAIMS, ns, n) for ns, n in refs.claims}
        return keys

    async def ensure(self, pod: dict[str, Any]) -> None:
        """Watch what ``pod`` uses (and the volumes its bound claims name) and wait for the first lists."""
        uid = str(pod["metadata"]["uid"])
        keys = self._keys(pod)
        await self._hold(uid, keys)
        if uid not in self._by_pod:
            return  # released (the pod went away) while its objects were listed
        claims = [k for k in keys if k[0] is CLAIMS]
        volumes: set[Key] = set()
        for _, ns, name in claims:
            claim = self._informers[(CLAIMS, ns, name)].get(name, ns)
            volume = ((claim or {}).get("spec") or {}).get("volumeName")
            if volume:
                volumes.add((VOLUMES, "", str(volume)))
        if volumes:
            await self._hold(uid, keys | volumes)

    async def _hold(self, uid: str, keys: set[Key]) -> None:
        old = self._by_pod.get(uid, set())
        for key in keys - old:
            self._users.setdefault(key, set()).add(uid)
            self._watch(key)
        self._by_pod[uid] = keys
        await self._release_keys(uid, old - keys)
        informers = [self._informers[k] for k in keys]
        if informers:
            await asyncio.wait([asyncio.ensure_future(i.wait_for_sync(SYNC_SECONDS)) for i in informers])

    async def release(self, uid: str) -> None:
        """``uid`` is gone: stop watching what only it used."""
        await self._release_keys(uid, self._by_pod.pop(uid, set()))

    async def _release_keys(self, uid: str, keys: set[Key]) -> None:
        for key in keys:
            users = self._users.get(key, set())
            users.discard(uid)
            if not users:
                self._users.pop(key, None)
                informer = self._informers.pop(key, None)
                if informer is not None:
                    await informer.stop()

    def lookup(self, ref: ResourceRef) -> Callable[[str, str], dict[str, Any] | None]:
        """A getter (namespace, name) over the watched objects of one kind (None when not watched or absent)."""

        def get(namespace: str, name: str) -> dict[str, Any] | None:
            informer = self._informers.get((ref, namespace if ref.namespaced else "", name))
            return informer.get(name, namespace if ref.namespaced else None) if informer is not None else None

        return get

    async def stop(self) -> None:
        for informer in self._informers.values():
            with contextlib.suppress(Exception):
                await informer.stop()
        self._informers.clear()
        self._users.clear()
        self._by_pod.clear()
