"""Dynamic provisioning for the default StorageClass: a hostPath volume on the node that will use it.

As k3s's local-path provisioner does: a claim handed to this provisioner (the binder annotated it)
gets a PersistentVolume ``pvc-<claim uid>`` whose hostPath lives under the provisioner's base
directory and whose node affinity pins it to the scheduler's selected node, pre-bound to the
claim so the binder completes the bind. The directory itself is made by the kubelet when the pod
mounts it (``DirectoryOrCreate``).
"""

from __future__ import annotations

import posixpath
from typing import Final

from client.cache import split_key
from controller_manager.actions import NORMAL, Action, Create, event
from controller_manager.pvbinder import PROVISIONED_BY, SELECTED_NODE, STORAGE_PROVISIONER
from controller_manager.view import PERSISTENT_VOLUME_CLAIMS, PERSISTENT_VOLUMES, STORAGE_CLASSES, Obj, View, meta

NAME: Final = "tinykube.io/local-path"
DEFAULT_BASE: Final = "/var/lib/tinykube/local-path"


def default_storage_class() -> Obj:
    """The cluster's default StorageClass, created at bring-up."""
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "local-path",
                         "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": NAME, "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer"}


def reconcile(view: View, key: str, base_dir: str = DEFAULT_BASE) -> list[Action]:
    """Provision a volume for claim ``key`` if it is ours to provision and has none yet."""
    namespace, name = split_key(key)
    pvc = view.get(PERSISTENT_VOLUME_CLAIMS, namespace, name)
    if pvc is None or meta(pvc).get("deletionTimestamp") or (pvc.get("spec") or {}).get("volumeName"):
        return []
    ann = meta(pvc).get("annotations") or {}
    node = ann.get(SELECTED_NODE)
    if ann.get(STORAGE_PROVISIONER) != NAME or not node:
        return []
    pv_name = f"pvc-{meta(pvc).get('uid')}"
    if view.get(PERSISTENT_VOLUMES, None, pv_name) is not None:
        return []
    spec = pvc.get("spec") or {}
    sc = view.get(STORAGE_CLASSES, None, str(spec.get("storageClassName") or "")) or {}
    size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "0")
    path = posixpath.join(base_dir, f"{pv_name}_{namespace}_{name}")
    pv: Obj = {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": pv_name, "annotations": {PROVISIONED_BY: NAME}},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "storageClassName": spec.get("storageClassName") or "",
            "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy", "Delete"),
            "hostPath": {"path": path, "type": "DirectoryOrCreate"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}},
            "claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": namespace, "name": name,
                         "uid": meta(pvc).get("uid")},
        },
    }
    return [Create(PERSISTENT_VOLUMES, pv),
            event(pvc, NORMAL, "ProvisioningSucceeded", f"Successfully provisioned volume {pv_name}")]
