"""Every manifest in shared/k8s-examples applies through real kubectl with Strict validation, reads back
with what was sent intact, and deletes cleanly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.quantity import Quantity, is_quantity
from api.structure import is_zero
from tests.support.apiserver_cluster import ApiserverCluster
from tests.support.paths import K8S_EXAMPLES
from tests.support.ports import free_port
from tests.support.processes import Processes

FILES = sorted(K8S_EXAMPLES.glob("**/*.yaml"))


def _objects(path: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for doc in yaml.safe_load_all(path.read_text()):
        if doc:
            out.extend(doc["items"] if doc.get("kind") == "List" else [doc])
    return out


def _crd_files() -> dict[tuple[str, str], Path]:
    crds = {}
    for path in FILES:
        for obj in _objects(path):
            if obj.get("kind") == "CustomResourceDefinition":
                spec = obj["spec"]
                crds[(spec["group"], spec["names"]["kind"])] = path
    return crds


def _is_subset(small: object, big: object) -> bool:
    """What was sent is in what came back; defaults add fields, quantities may be canonicalized."""
    if isinstance(small, dict):
        return isinstance(big, dict) and all(
            _is_subset(v, big[k]) if k in big else is_zero(v) for k, v in small.items()
        )
    if isinstance(small, list):
        return isinstance(big, list) and len(small) == len(big) and all(map(_is_subset, small, big))
    if isinstance(small, str) and isinstance(big, str) and small != big and is_quantity(small):
        return Quantity.parse(small) == Quantity.parse(big)
    return bool(small == big)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiserverCluster]:
    root = tmp_path_factory.mktemp("examples")
    procs = Processes(root / "logs")
    try:
        c = ApiserverCluster(procs, free_port, root)
        c.start()
        yield c
    finally:
        procs.stop_all()


def test_examples_are_found() -> None:
    assert len(FILES) >= 50


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(K8S_EXAMPLES)) for p in FILES])
def test_example_applies_reads_back_and_deletes(cluster: ApiserverCluster, path: Path) -> None:
    objects = _objects(path)
    crd_files = _crd_files()
    prerequisites = sorted(
        {
            crd_files[(str(o["apiVersion"]).split("/")[0], str(o["kind"]))]
            for o in objects
            if (str(o["apiVersion"]).split("/")[0], str(o["kind"])) in crd_files
        }
        - {path}
    )
    namespaces = sorted(
        {str(o["metadata"]["namespace"]) for o in objects if o["metadata"].get("namespace")}
        - {"default", "kube-system"}
    )
    for ns in namespaces:
        cluster.kubectl("create", "namespace", ns)
    for pre in prerequisites:
        cluster.kubectl("apply", "-f", str(pre))
        cluster.kubectl("wait", "--for=condition=established", "-f", str(pre), "--timeout=20s")
    try:
        applied = cluster.kubectl("apply", "-f", str(path), "--validate=strict", check=False)
        assert applied.returncode == 0, applied.stderr
        back = json.loads(cluster.kubectl("get", "-f", str(path), "-o", "json").stdout)
        items = back["items"] if back.get("kind") == "List" else [back]
        assert len(items) == len(objects)
        for sent, stored in zip(objects, items, strict=True):
            sent_meta = dict(sent["metadata"])
            sent_meta.pop("namespace", None)
            sent_meta.pop("annotations", None)  # apply adds last-applied-configuration
            assert _is_subset({**sent, "metadata": sent_meta}, stored), (sent, stored)
    finally:
        # Namespaces wait for the namespace controller (not running here): finalize them as it would.
        own_namespaces = [str(o["metadata"]["name"]) for o in objects if o["kind"] == "Namespace"]
        deleted = cluster.kubectl(
            "delete", "-f", str(path), "--wait=" + str(not own_namespaces).lower(), "--timeout=30s", check=False
        )
        for pre in reversed(prerequisites):
            cluster.kubectl("delete", "-f", str(pre), "--wait", "--timeout=30s")
        for ns in namespaces:
            cluster.kubectl("delete", "namespace", ns, "--wait=false")
        for ns in [*namespaces, *own_namespaces]:
            finalized = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}, "spec": {"finalizers": []}}
            code, _ = cluster.request("PUT", f"/api/v1/namespaces/{ns}/finalize", json.dumps(finalized).encode())
            assert code == 200
    assert deleted.returncode == 0, deleted.stderr
    assert cluster.kubectl("get", "-f", str(path), "--ignore-not-found", "-o", "name").stdout.strip() == ""
