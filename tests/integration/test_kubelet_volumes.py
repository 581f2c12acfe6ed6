"""Pod volumes on a real filesystem, as root: tmpfs emptyDirs and secrets, hostPath checks, PVCs, subPath."""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from kubelet.volumes.manager import Lookups, VolumeManager, resolve_sub_path
from kubelet.volumes.sources import VolumeSourceError
from tests.support.cleanup import Cleanup

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="tmpfs mounts need root")


def _mounted(path: Path) -> bool:
    return os.path.ismount(path)


def make_manager(tmp_path: Path, objects: dict[tuple[str, str, str], Any]) -> VolumeManager:
    def lookup(kind: str) -> Any:
        def get(ns: str, name: str) -> Mapping[str, Any] | None:
            found: Mapping[str, Any] | None = objects.get((kind, ns, name))
            return found
        return get

    manager = VolumeManager(tmp_path / "kubelet", Lookups(config_maps=lookup("cm"), secrets=lookup("secret"),
                                                          claims=lookup("pvc"), volumes=lookup("pv")))
    return manager


def pod(prefix: str, volumes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": f"{prefix}-uid"},
            "spec": {"volumes": volumes, "containers": [{"name": "app"}]}}


def test_empty_dirs_secrets_and_teardown(tmp_path: Path, cleanup: Cleanup, prefix: str) -> None:
    objects: dict[tuple[str, str, str], Any] = {
        ("secret", "ns", "creds"): {"data": {"pw": base64.b64encode(b"hunter2").decode()}},
        ("cm", "ns", "cfg"): {"data": {"k": "v1"}},
    }
    manager = make_manager(tmp_path, objects)
    p = pod(prefix, [{"name": "scratch", "emptyDir": {}},
                     {"name": "fast", "emptyDir": {"medium": "Memory", "sizeLimit": "8Mi"}},
                     {"name": "creds", "secret": {"secretName": "creds", "defaultMode": 0o400}},
                     {"name": "cfg", "configMap": {"name": "cfg"}}])
    cleanup.add(manager.teardown, p["metadata"]["uid"])
    vols = manager.setup(p)
    scratch, fast = Path(vols["scratch"].host_path), Path(vols["fast"].host_path)
    assert scratch.is_dir() and not _mounted(scratch)
    assert scratch.parent.name == "kubernetes.io~empty-dir"
    assert _mounted(fast)
    st = os.statvfs(fast)
    assert st.f_blocks * st.f_frsize == 8 * 1024**2
    creds = Path(vols["creds"].host_path)
    assert _mounted(creds) and vols["creds"].read_only
    assert (creds / "pw").read_bytes() == b"hunter2" and (creds / "pw").stat().st_mode & 0o777 == 0o400
    # An update to the ConfigMap reaches the volume on the next setup, atomically.
    objects[("cm", "ns", "cfg")] = {"data": {"k": "v2", "new": "n"}}
    manager.setup(p)
    cfg = Path(vols["cfg"].host_path)
    assert (cfg / "k").read_text() == "v2" and (cfg / "new").read_text() == "n"
    manager.teardown(p["metadata"]["uid"])
    assert not _mounted(fast) and not _mounted(creds)
    assert not manager.pod_dir(p["metadata"]["uid"]).exists()


def test_host_path_types(tmp_path: Path, cleanup: Cleanup, prefix: str) -> None:
    manager = make_manager(tmp_path, {})
    host = tmp_path / "host"
    host.mkdir()
    (host / "file").write_text("x")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(host / "sock"))
    cleanup.add(sock.close)

    def setup(path: Path, kind: str) -> None:
        manager.setup(pod(prefix, [{"name": "h", "hostPath": {"path": str(path), "type": kind}}]))

    setup(host / "made" / "deep", "DirectoryOrCreate")
    assert (host / "made" / "deep").is_dir()
    setup(host / "newfile", "FileOrCreate")
    assert (host / "newfile").is_file() and (host / "newfile").stat().st_mode & 0o777 == 0o644
    setup(host / "file", "File")
    setup(host / "sock", "Socket")
    setup(Path("/dev/null"), "CharDevice")
    setup(host / "anything-missing", "")
    failures = [(host / "file", "Directory", "is not a directory"),
                (host / "missing", "Directory", "is not a directory"),
                (host, "File", "is not a file"),
                (host / "file", "Socket", "is not a socket file"),
                (host / "file", "BlockDevice", "is not a block device"),
                (host / "no-parent" / "f", "FileOrCreate", "hostPath type check failed")]
    for path, kind, text in failures:
        with pytest.raises(VolumeSourceError, match=text) as err:
            setup(path, kind)
        assert str(err.value).startswith('MountVolume.SetUp failed for volume "h" : ')


def test_persistent_volume_claims(tmp_path: Path, cleanup: Cleanup, prefix: str) -> None:
    data = tmp_path / "pv-data"
    data.mkdir()
    objects: dict[tuple[str, str, str], Any] = {
        ("pvc", "ns", "bound"): {"spec": {"volumeName": "pv1"}, "status": {"phase": "Bound"}},
        ("pvc", "ns", "pending"): {"spec": {}, "status": {"phase": "Pending"}},
        ("pv", "", "pv1"): {"spec": {"local": {"path": str(data)}}},
    }
    manager = make_manager(tmp_path, objects)
    vols = manager.setup(pod(prefix, [{"name": "d", "persistentVolumeClaim": {"claimName": "bound",
                                                                               "readOnly": True}}]))
    assert vols["d"].host_path == str(data) and vols["d"].read_only
    with pytest.raises(VolumeSourceError, match=r'non-bound phase \("Pending"\)'):
        manager.setup(pod(prefix, [{"name": "d", "persistentVolumeClaim": {"claimName": "pending"}}]))
    with pytest.raises(VolumeSourceError, match='persistentvolumeclaim "nope" not found'):
        manager.setup(pod(prefix, [{"name": "d", "persistentVolumeClaim": {"claimName": "nope"}}]))
    manager.teardown(f"{prefix}-uid")
    assert data.is_dir()  # the PV's data outlives the pod


def test_sub_paths_stay_inside_the_volume(tmp_path: Path, cleanup: Cleanup, prefix: str) -> None:
    manager = make_manager(tmp_path, {})
    p = pod(prefix, [{"name": "v", "emptyDir": {}}])
    cleanup.add(manager.teardown, p["metadata"]["uid"])
    vols = manager.setup(p)
    base = Path(vols["v"].host_path)
    container = {"volumeMounts": [{"name": "v", "mountPath": "/data", "subPathExpr": "$(POD)/logs"},
                                  {"name": "v", "mountPath": "/all", "readOnly": True}]}
    mounts = manager.mounts_for(container, vols, {"POD": "web-0"})
    assert mounts[0].host_path == str(base / "web-0" / "logs") and (base / "web-0" / "logs").is_dir()
    assert mounts[1].read_only and mounts[1].container_path == "/all"
    (base / "escape").symlink_to("/etc")
    with pytest.raises(VolumeSourceError, match="not within volume path"):
        resolve_sub_path(str(base), "escape")
    with pytest.raises(VolumeSourceError, match="must not contain"):
        resolve_sub_path(str(base), "a/../../x")
    with pytest.raises(VolumeSourceError, match="relative"):
        resolve_sub_path(str(base), "/etc")
