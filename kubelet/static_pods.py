"""Static pods: pods from manifest files in ``--pod-manifest-path``, run without the apiserver's say-so and
mirrored into it so ``kubectl get pods`` shows them (as kubeadm's control plane is shown).

Kubernetes' rules: the pod is named ``<name>-<node>``, its uid is a hash of the manifest and node (so an
edit is a new pod), ``kubernetes.io/config.hash`` carries that uid, and the mirror pod in the API carries
``kubernetes.io/config.mirror`` and is owned by the Node. Deleting the mirror only recreates it; removing
the file stops the pod.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import yaml

from api import defaulting
from api.catalog import REGISTRY

CONFIG_HASH: Final = "kubernetes.io/config.hash"
CONFIG_MIRROR: Final = "kubernetes.io/config.mirror"
CONFIG_SOURCE: Final = "kubernetes.io/config.source"
POD_TYPE: Final = "io.k8s.api.core.v1.Pod"
MANIFEST_SUFFIXES: Final = (".yaml", ".yml", ".json")


class ManifestError(ValueError):
    """A manifest that is not a Pod."""


def static_pod(manifest: Mapping[str, Any], source: str, node_name: str) -> dict[str, Any]:
    """The pod the kubelet runs for one manifest (defaults applied, identity derived)."""
    if manifest.get("kind") != "Pod":
        raise ManifestError(f"{source}: expected kind Pod, found {manifest.get('kind')!r}")
    pod = copy.deepcopy(dict(manifest))
    meta = pod.setdefault("metadata", {})
    if not meta.get("name"):
        raise ManifestError(f"{source}: metadata.name is required")
    meta["name"] = f"{meta['name']}-{node_name}"
    meta.setdefault("namespace", "default")
    digest = hashlib.md5(usedforsecurity=False)
    digest.update(node_name.encode())
    digest.update(source.encode())
    digest.update(json.dumps(manifest, sort_keys=True).encode())
    uid = digest.hexdigest()
    meta["uid"] = uid
    meta["annotations"] = {**(meta.get("annotations") or {}), CONFIG_HASH: uid, CONFIG_SOURCE: "file"}
    pod["spec"] = {**(pod.get("spec") or {}), "nodeName": node_name}
    pod["spec"].setdefault("tolerations", [{"operator": "Exists", "effect": "NoExecute"}])
    pod.setdefault("apiVersion", "v1")
    pod["status"] = {"phase": "Pending"}
    defaulting.apply_defaults(REGISTRY, POD_TYPE, pod)
    return pod


def read_manifests(directory: Path, node_name: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Every static pod under ``directory`` by uid, plus the errors of files that could not be used."""
    pods: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    if not directory.is_dir():
        return pods, errors
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or path.suffix not in MANIFEST_SUFFIXES:
            continue
        try:
            manifest = yaml.safe_load(path.read_text())
            pod = static_pod(manifest or {}, str(path), node_name)
        except (OSError, yaml.YAMLError, ManifestError) as err:
            errors.append(f"{path}: {err}")
            continue
        pods[pod["metadata"]["uid"]] = pod
    return pods, errors


def is_mirror(pod: Mapping[str, Any]) -> bool:
    """Whether ``pod`` is a mirror pod (the API's stand-in for a static pod)."""
    return CONFIG_MIRROR in ((pod.get("metadata") or {}).get("annotations") or {})


def mirror_pod(pod: Mapping[str, Any], node_name: str, node_uid: str) -> dict[str, Any]:
    """The API object standing for a static pod."""
    meta = pod["metadata"]
    annotations = {**(meta.get("annotations") or {}), CONFIG_MIRROR: meta["uid"]}
    out_meta: dict[str, Any] = {"name": meta["name"], "namespace": meta["namespace"],
                                "labels": dict(meta.get("labels") or {}), "annotations": annotations}
    if node_uid:
        out_meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid,
                                        "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": out_meta, "spec": copy.deepcopy(pod["spec"])}
