"""Sets up and tears down a pod's volumes under ``<root>/pods/<uid>/volumes/<plugin>/<name>``.

Setup is idempotent and re-run on every pod sync, which is how ConfigMap/Secret updates reach running pods
(the atomic writer makes each update all-or-nothing). The result maps volume names to host paths that
become CRI ``Mount``s; subPath resolution stays inside the volume, symlinks included.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from api.quantity import Quantity
from kubelet.env import expand
from kubelet.volumes.atomic_writer import AtomicWriter
from kubelet.volumes.hostpath import check_host_path
from kubelet.volumes.mounts import mount_tmpfs, unmount
from kubelet.volumes.sources import (
    Lookup,
    TokenRequest,
    VolumeSourceError,
    config_map_payload,
    downward_api_payload,
    projected_payload,
    secret_payload,
)

PLUGIN_DIRS: Final = {
    "emptyDir": "kubernetes.io~empty-dir",
    "configMap": "kubernetes.io~configmap",
    "secret": "kubernetes.io~secret",
    "downwardAPI": "kubernetes.io~downward-api",
    "projected": "kubernetes.io~projected",
}


@dataclass(frozen=True)
class PreparedVolume:
    """A volume ready to bind into containers."""

    name: str
    host_path: str
    read_only: bool = False


@dataclass(frozen=True)
class Mount:
    """One CRI mount for a container."""

    host_path: str
    container_path: str
    read_only: bool = False


@dataclass
class Lookups:
    """Read access to the API objects volumes refer to (None = not found)."""

    config_maps: Lookup
    secrets: Lookup
    claims: Lookup  # (namespace, name) -> PersistentVolumeClaim
    volumes: Lookup  # ("", name) -> PersistentVolume
    token_request: TokenRequest | None = None
    node_allocatable: Mapping[str, str] = field(default_factory=dict)


class VolumeManager:
    """Per-node owner of pod volume directories and the tmpfs mounts in them."""

    def __init__(self, root: Path, lookups: Lookups, *, tmpfs_for_secrets: bool = True) -> None:
        self.root = root
        self.lookups = lookups
        self.tmpfs_for_secrets = tmpfs_for_secrets

    def pod_dir(self, uid: str) -> Path:
        """``<root>/pods/<uid>``: the pod's volumes, /etc/hosts and termination-message files."""
        return self.root / "pods" / uid

    def setup(self, pod: Mapping[str, Any]) -> dict[str, PreparedVolume]:
        """Prepare every volume of ``pod``; VolumeSourceError names the first one that cannot be set up."""
        meta = pod.get("metadata") or {}
        out: dict[str, PreparedVolume] = {}
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            name = volume.get("name", "")
            try:
                out[name] = self._setup_one(pod, volume)
            except VolumeSourceError as err:
                raise VolumeSourceError(f'MountVolume.SetUp failed for volume "{name}" : {err}') from None
            except OSError as err:
                raise VolumeSourceError(f'MountVolume.SetUp failed for volume "{name}" : {err}') from None
        (self.pod_dir(meta.get("uid", "")) / "containers").mkdir(parents=True, exist_ok=True)
        return out

    def _plugin_dir(self, pod: Mapping[str, Any], plugin: str, name: str) -> Path:
        uid = (pod.get("metadata") or {}).get("uid", "")
        return self.pod_dir(uid) / "volumes" / PLUGIN_DIRS[plugin] / name

    def _setup_one(self, pod: Mapping[str, Any], volume: Mapping[str, Any]) -> PreparedVolume:
        name = volume.get("name", "")
        namespace = (pod.get("metadata") or {}).get("namespace", "default")
        lk = self.lookups
        if (src := volume.get("hostPath")) is not None:
            check_host_path(src.get("path", ""), src.get("type", "") or "")
            return PreparedVolume(name, src.get("path", ""))
        if (src := volume.get("emptyDir")) is not None:
            target = self._plugin_dir(pod, "emptyDir", name)
            target.mkdir(parents=True, exist_ok=True)
            if src.get("medium") == "Memory" and not os.path.ismount(target):
                limit = src.get("sizeLimit")
                mount_tmpfs(target, Quantity.parse(str(limit)).int_value() if limit else None)
            target.chmod(0o777)
            return PreparedVolume(name, str(target))
        if (src := volume.get("persistentVolumeClaim")) is not None:
            return PreparedVolume(name, self._claim_path(namespace, src.get("claimName", "")),
                                  bool(src.get("readOnly")))
        if (src := volume.get("configMap")) is not None:
            payload = config_map_payload(src, namespace, lk.config_maps)
            return self._write(pod, "configMap", name, payload, memory=False)
        if (src := volume.get("secret")) is not None:
            payload = secret_payload(src, namespace, lk.secrets)
            return self._write(pod, "secret", name, payload, memory=self.tmpfs_for_secrets)
        if (src := volume.get("downwardAPI")) is not None:
            payload = downward_api_payload(src, pod, lk.node_allocatable)
            return self._write(pod, "downwardAPI", name, payload, memory=False)
        if (src := volume.get("projected")) is not None:
            payload = projected_payload(src, pod, config_maps=lk.config_maps, secrets=lk.secrets,
                                        node_allocatable=lk.node_allocatable, token_request=lk.token_request)
            return self._write(pod, "projected", name, payload, memory=self.tmpfs_for_secrets)
        kinds = sorted(k for k in volume if k != "name")
        raise VolumeSourceError(f"volume type {kinds} is not supported by this kubelet")

    def _write(self, pod: Mapping[str, Any], plugin: str, name: str, payload: Mapping[str, Any],
               memory: bool) -> PreparedVolume:
        target = self._plugin_dir(pod, plugin, name)
        target.mkdir(parents=True, exist_ok=True)
        if memory and not os.path.ismount(target):
            mount_tmpfs(target, mode=0o755)
        AtomicWriter(target).write(payload)
        return PreparedVolume(name, str(target), read_only=True)

    def _claim_path(self, namespace: str, claim_name: str) -> str:
        claim = self.lookups.claims(namespace, claim_name)
        if claim is None:
            raise VolumeSourceError(f'persistentvolumeclaim "{claim_name}" not found')
        phase = (claim.get("status") or {}).get("phase", "")
        pv_name = (claim.get("spec") or {}).get("volumeName", "")
        if phase != "Bound" or not pv_name:
            raise VolumeSourceError(f'PVC {namespace}/{claim_name} has non-bound phase ("{phase}") or empty '
                                    f'pvc.Spec.VolumeName ("{pv_name}")')
        pv = self.lookups.volumes("", pv_name)
        if pv is None:
            raise VolumeSourceError(f'persistentvolume "{pv_name}" not found')
        spec = pv.get("spec") or {}
        for kind in ("hostPath", "local"):
            if kind in spec:
                path = str(spec[kind].get("path", ""))
                if kind == "hostPath":
                    check_host_path(path, spec[kind].get("type", "") or "")
                return path
        raise VolumeSourceError(f"persistentvolume {pv_name}: only hostPath and local volumes can be mounted here")

    def mounts_for(self, container: Mapping[str, Any], volumes: Mapping[str, PreparedVolume],
                   env: Mapping[str, str]) -> list[Mount]:
        """The container's volumeMounts as host paths, with subPath/subPathExpr resolved inside the volume."""
        mounts: list[Mount] = []
        for vm in container.get("volumeMounts") or []:
            volume = volumes.get(vm.get("name", ""))
            if volume is None:
                raise VolumeSourceError(f"volumeMount {vm.get('name', '')!r} refers to no volume of the pod")
            host = volume.host_path
            sub = vm.get("subPath") or (expand(vm["subPathExpr"], env) if vm.get("subPathExpr") else "")
            if sub:
                host = resolve_sub_path(volume.host_path, sub)
            mounts.append(Mount(host, vm.get("mountPath", ""), bool(vm.get("readOnly")) or volume.read_only))
        return mounts

    def teardown(self, uid: str) -> None:
        """Unmount and remove everything under the pod's directory (hostPath and PV data are never touched)."""
        volumes = self.pod_dir(uid) / "volumes"
        if volumes.is_dir():
            for plugin in volumes.iterdir():
                for vol in plugin.iterdir():
                    if os.path.ismount(vol):
                        unmount(vol)
        shutil.rmtree(self.pod_dir(uid), ignore_errors=True)


def resolve_sub_path(volume_path: str, sub_path: str) -> str:
    """``volume_path/sub_path``, created if missing, refusing anything (``..`` or a symlink) that leads outside."""
    if os.path.isabs(sub_path):
        raise VolumeSourceError(f"subPath {sub_path!r} must be a relative path")
    if ".." in Path(sub_path).parts:
        raise VolumeSourceError(f"subPath {sub_path!r} must not contain '..'")
    base = os.path.realpath(volume_path)
    host = os.path.join(volume_path, sub_path)
    if not os.path.lexists(host):
        os.makedirs(host, mode=0o755, exist_ok=True)
    real = os.path.realpath(host)
    if real != base and not real.startswith(base + os.sep):
        raise VolumeSourceError(f'subpath "{real}" not within volume path "{base}"')
    return real
