"""Which objects each node may reach: the pods bound to it and what those pods reference.

A pod bound to a node (spec.nodeName) makes its secrets (volumes, projected sources, env, envFrom,
imagePullSecrets), configmaps, PersistentVolumeClaims (named and ephemeral) and ServiceAccount reachable
from that node; a claim bound to a PersistentVolume makes the volume reachable too. Reference counts
per node let pods come and go in O(references).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from api.schema import JSON
from apiserver.watch_cache import Event

SECRET, CONFIG_MAP, CLAIM, SERVICE_ACCOUNT = "secrets", "configmaps", "persistentvolumeclaims", "serviceaccounts"
Ref = tuple[str, str, str]
"""(resource, namespace, name)."""


@dataclass(frozen=True, slots=True)
class PodEdges:
    """A bound pod: its node and what it references."""

    node: str
    refs: frozenset[Ref]


def _names(items: object, key: str = "name") -> Iterator[str]:
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict) and item.get(key):
            yield str(item[key])


def _volume_refs(pod_name: str, volume: dict[str, JSON]) -> Iterator[tuple[str, str]]:
    if (s := volume.get("secret")) and isinstance(s, dict) and s.get("secretName"):
        yield SECRET, str(s["secretName"])
    if (c := volume.get("configMap")) and isinstance(c, dict) and c.get("name"):
        yield CONFIG_MAP, str(c["name"])
    if (p := volume.get("persistentVolumeClaim")) and isinstance(p, dict) and p.get("claimName"):
        yield CLAIM, str(p["claimName"])
    if isinstance(volume.get("ephemeral"), dict):
        yield CLAIM, f"{pod_name}-{volume.get('name', '')}"
    projected = volume.get("projected")
    for source in (projected.get("sources") or []) if isinstance(projected, dict) else []:
        if isinstance(source, dict):
            if (s := source.get("secret")) and isinstance(s, dict) and s.get("name"):
                yield SECRET, str(s["name"])
            if (c := source.get("configMap")) and isinstance(c, dict) and c.get("name"):
                yield CONFIG_MAP, str(c["name"])
    for value in volume.values():
        if isinstance(value, dict):
            for key in ("secretRef", "nodePublishSecretRef"):
                ref = value.get(key)
                if isinstance(ref, dict) and ref.get("name"):
                    yield SECRET, str(ref["name"])


def _container_refs(container: dict[str, JSON]) -> Iterator[tuple[str, str]]:
    for env in container.get("env") or []:
        source = env.get("valueFrom") if isinstance(env, dict) else None
        if isinstance(source, dict):
            if (s := source.get("secretKeyRef")) and isinstance(s, dict) and s.get("name"):
                yield SECRET, str(s["name"])
            if (c := source.get("configMapKeyRef")) and isinstance(c, dict) and c.get("name"):
                yield CONFIG_MAP, str(c["name"])
    for env_from in container.get("envFrom") or []:
        if isinstance(env_from, dict):
            if (s := env_from.get("secretRef")) and isinstance(s, dict) and s.get("name"):
                yield SECRET, str(s["name"])
            if (c := env_from.get("configMapRef")) and isinstance(c, dict) and c.get("name"):
                yield CONFIG_MAP, str(c["name"])


def pod_edges(pod: JSON) -> PodEdges | None:
    """The node and references of a bound pod; None for an unbound one."""
    spec = pod.get("spec") or {}
    node = spec.get("nodeName")
    if not node:
        return None
    m = pod.get("metadata") or {}
    ns, name = str(m.get("namespace") or ""), str(m.get("name", ""))
    refs: set[tuple[str, str]] = {(SECRET, n) for n in _names(spec.get("imagePullSecrets"))}
    refs.add((SERVICE_ACCOUNT, str(spec.get("serviceAccountName") or "default")))
    for volume in spec.get("volumes") or []:
        if isinstance(volume, dict):
            refs.update(_volume_refs(name, volume))
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                refs.update(_container_refs(container))
    return PodEdges(str(node), frozenset((kind, ns, ref) for kind, ref in refs))


class NodeGraph:
    """Pods by node and the objects each node reaches; fed from the pods and claims watch caches."""

    def __init__(self, pods_prefix: str, claims_prefix: str) -> None:
        self.pods_prefix = pods_prefix
        self.claims_prefix = claims_prefix
        self.pods: dict[tuple[str, str], PodEdges] = {}
        self.reach: defaultdict[str, Counter[Ref]] = defaultdict(Counter)
        self.volume_claims: defaultdict[str, set[tuple[str, str]]] = defaultdict(set)
        """PersistentVolume name -> the (namespace, name) of claims bound to it."""
        self.claim_volume: dict[tuple[str, str], str] = {}

    # ---- feed ----

    def replace(self, prefix: str, objs: Iterable[dict[str, JSON]]) -> None:
        """Take the whole state of pods or claims."""
        if prefix == self.pods_prefix:
            self.pods.clear()
            self.reach.clear()
            for obj in objs:
                self._put_pod(obj)
        else:
            self.volume_claims.clear()
            self.claim_volume.clear()
            for obj in objs:
                self._put_claim(obj)

    def apply(self, prefix: str, event: Event) -> None:
        """One pod or claim change."""
        m = event.obj.get("metadata") or {}
        key = (str(m.get("namespace") or ""), str(m.get("name", "")))
        if prefix == self.pods_prefix:
            self._drop_pod(key)
            if event.type != "DELETED":
                self._put_pod(event.obj)
        else:
            self._drop_claim(key)
            if event.type != "DELETED":
                self._put_claim(event.obj)

    def _put_pod(self, pod: dict[str, JSON]) -> None:
        edges = pod_edges(pod)
        if edges is None:
            return
        m = pod.get("metadata") or {}
        self.pods[(str(m.get("namespace") or ""), str(m.get("name", "")))] = edges
        self.reach[edges.node].update(edges.refs)

    def _drop_pod(self, key: tuple[str, str]) -> None:
        edges = self.pods.pop(key, None)
        if edges is None:
            return
        counts = self.reach[edges.node]
        counts.subtract(edges.refs)
        for ref in edges.refs:
            if counts[ref] <= 0:
                del counts[ref]
        if not counts:
            del self.reach[edges.node]

    def _put_claim(self, claim: dict[str, JSON]) -> None:
        volume = (claim.get("spec") or {}).get("volumeName")
        if volume:
            m = claim.get("metadata") or {}
            key = (str(m.get("namespace") or ""), str(m.get("name", "")))
            self.claim_volume[key] = str(volume)
            self.volume_claims[str(volume)].add(key)

    def _drop_claim(self, key: tuple[str, str]) -> None:
        volume = self.claim_volume.pop(key, None)
        if volume is not None:
            claims = self.volume_claims[volume]
            claims.discard(key)
            if not claims:
                del self.volume_claims[volume]

    # ---- queries ----

    def reaches(self, node: str, resource: str, namespace: str, name: str) -> bool:
        """Whether a pod bound to `node` references the object (a volume through its bound claims)."""
        counts = self.reach.get(node)
        if not counts:
            return False
        if resource == "persistentvolumes":
            return any((CLAIM, ns, claim) in counts for ns, claim in self.volume_claims.get(name, ()))
        return (resource, namespace, name) in counts

    def pod_node(self, namespace: str, name: str) -> str | None:
        """The node a pod is bound to (None when unbound or unknown)."""
        edges = self.pods.get((namespace, name))
        return edges.node if edges is not None else None
