"""Per-kind write strategy: what the apiserver resets, keeps or bumps on create, update and status update,
plus the Scale view of scalable resources. Pure functions over JSON objects.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Sequence
from typing import Final

from api import labels
from api.quantity import Quantity, QuantityError
from api.schema import JSON, Resource

_STATUS_ON_CREATE: Final[dict[tuple[str, str], JSON]] = {
    ("", "Namespace"): {"phase": "Active"},
    ("", "PersistentVolume"): {"phase": "Pending"},
    ("", "PersistentVolumeClaim"): {"phase": "Pending"},
    ("", "Service"): {"loadBalancer": {}},
}
_KEEP_STATUS_ON_CREATE: Final = frozenset({("", "Node")})
"""Kinds whose creators may set status directly (kubelets register Nodes with their status)."""

_NOT_SPEC: Final = frozenset({"apiVersion", "kind", "metadata", "status"})


def qos_class(pod: JSON) -> str:
    """The pod's QoS class from its containers' cpu/memory requests and limits, as the kubelet computes it."""
    spec = pod.get("spec") or {}
    requests: dict[str, Quantity] = {}
    limits: dict[str, Quantity] = {}
    guaranteed = True
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        res = c.get("resources") or {}
        for name, q in _quantities(res.get("requests")).items():
            requests[name] = requests[name] + q if name in requests else q
        c_limits = _quantities(res.get("limits"))
        for name, q in c_limits.items():
            limits[name] = limits[name] + q if name in limits else q
        if not {"cpu", "memory"} <= c_limits.keys():
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and len(requests) == len(limits) and all(limits.get(n) == q for n, q in requests.items()):
        return "Guaranteed"
    return "Burstable"


def _quantities(values: JSON) -> dict[str, Quantity]:
    out = {}
    for name, text in (values or {}).items():
        if name not in ("cpu", "memory"):
            continue
        try:
            q = Quantity.parse(str(text))
        except QuantityError:
            continue
        if q.value != 0:
            out[name] = q
    return out


def spec_of(obj: JSON) -> dict[str, JSON]:
    """Everything generation tracks: the object minus metadata, status and type fields."""
    return {k: v for k, v in obj.items() if k not in _NOT_SPEC}


def fold_string_data(secret: dict[str, JSON]) -> dict[str, JSON]:
    """Secrets store `stringData` base64-encoded in `data` (it wins over `data` for the same key) and never
    return it; modifies and returns `secret`."""
    string_data = secret.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = secret.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
    return secret


DEFAULT_TOLERATION_SECONDS: Final = 300
_NOT_READY_TAINTS: Final = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def add_default_tolerations(pod: dict[str, JSON], seconds: int = DEFAULT_TOLERATION_SECONDS) -> dict[str, JSON]:
    """The DefaultTolerationSeconds admission step: pods tolerate not-ready/unreachable nodes for five minutes
    unless they say otherwise, so node failures evict them after that delay."""
    spec = pod.setdefault("spec", {})
    tolerations = spec.setdefault("tolerations", [])
    for key in _NOT_READY_TAINTS:
        covered = any(
            t.get("key") in (key, "", None) and t.get("effect") in ("NoExecute", "", None) for t in tolerations
        )
        if not covered:
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds})
    return pod


def prepare_for_create(resource: Resource, obj: dict[str, JSON]) -> dict[str, JSON]:
    """Reset what clients may not set on create (status, generation) and fill what the server owns (a Job's
    selector); modifies and returns `obj`. Call it after metadata.uid is assigned, before defaulting."""
    key = (resource.group, resource.kind)
    if resource.has_status and key not in _KEEP_STATUS_ON_CREATE:
        obj.pop("status", None)
    if key in _STATUS_ON_CREATE:
        obj["status"] = copy.deepcopy(_STATUS_ON_CREATE[key])
    if key == ("", "Pod"):
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj)}
    meta = obj.setdefault("metadata", {})
    if resource.tracks_generation:
        meta["generation"] = 1
    else:
        meta.pop("generation", None)
    if key == ("batch", "Job") and meta.get("uid"):
        _job_selector(obj, str(meta["uid"]), str(meta.get("name", "")))
    if key == ("", "Secret"):
        fold_string_data(obj)
    return obj


def _job_selector(job: dict[str, JSON], uid: str, name: str) -> None:
    """Jobs select their pods by the Job's uid: the server writes the selector and the template labels
    unless the user asked for a manual selector."""
    spec = job.setdefault("spec", {})
    if spec.get("manualSelector"):
        return
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    template_meta = spec.setdefault("template", {}).setdefault("metadata", {})
    template_labels = template_meta.setdefault("labels", {})
    template_labels.update(
        {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
        }
    )


def prepare_for_update(resource: Resource, new: dict[str, JSON], old: JSON) -> dict[str, JSON]:
    """A main-resource update keeps the stored status and bumps generation when the spec changed."""
    if resource.has_status:
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)
    if (resource.group, resource.kind) == ("", "Secret"):
        fold_string_data(new)
    meta = new.setdefault("metadata", {})
    old_generation = (old.get("metadata") or {}).get("generation")
    if resource.tracks_generation:
        changed = spec_of(new) != spec_of(old)
        meta["generation"] = (old_generation or 1) + (1 if changed else 0)
    elif old_generation is not None:
        meta["generation"] = old_generation
    return new


def prepare_for_status_update(resource: Resource, new: JSON, old: JSON) -> dict[str, JSON]:
    """A `/status` update changes only status: the result is the stored object with the new status.

    Deployments are the exception Kubernetes makes: their status strategy also takes the annotations, because
    the Deployment controller records `deployment.kubernetes.io/revision` through `/status`.
    """
    out = copy.deepcopy(old)
    if "status" in new:
        out["status"] = copy.deepcopy(new["status"])
    else:
        out.pop("status", None)
    if (resource.group, resource.kind) == ("certificates.k8s.io", "CertificateSigningRequest"):
        csr_status_keeps_approval(out, old)
    if resource.kind == "Deployment":
        annotations = (new.get("metadata") or {}).get("annotations")
        meta = out.setdefault("metadata", {})
        if annotations:
            meta["annotations"] = copy.deepcopy(annotations)
        else:
            meta.pop("annotations", None)
    return dict(out)


CSR_APPROVAL_CONDITIONS: Final = frozenset({"Approved", "Denied"})


def _csr_conditions(status: JSON, approval: bool) -> list[JSON]:
    """The conditions of a CSR status that are (or are not) approval decisions."""
    return [c for c in (status or {}).get("conditions") or []
            if isinstance(c, dict) and (c.get("type") in CSR_APPROVAL_CONDITIONS) == approval]


def prepare_for_approval_update(new: JSON, old: JSON) -> dict[str, JSON]:
    """A CertificateSigningRequest's ``/approval`` update changes only its conditions (as Kubernetes' approval
    strategy): spec, metadata and an issued certificate stay as stored."""
    out = copy.deepcopy(old)
    conditions = copy.deepcopy(((new.get("status") or {}).get("conditions")) or [])
    status = out.setdefault("status", {})
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)
    return dict(out)


def csr_status_keeps_approval(new: dict[str, JSON], old: JSON) -> dict[str, JSON]:
    """A CSR ``/status`` update (the signer's) may not approve or deny: approval conditions stay as stored."""
    status = new.setdefault("status", {})
    conditions = [*_csr_conditions(old.get("status"), True), *_csr_conditions(status, False)]
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)
    return new


def set_csr_requester(csr: dict[str, JSON], username: str, uid: str, groups: Sequence[str]) -> None:
    """On create, a CSR records who asked (the signer and approver trust this, never the client's claim)."""
    spec = csr.setdefault("spec", {})
    spec["username"] = username
    if uid:
        spec["uid"] = uid
    else:
        spec.pop("uid", None)
    spec["groups"] = list(groups)
    spec.pop("extra", None)


def scale_of(resource: Resource, obj: JSON) -> dict[str, JSON]:
    """The autoscaling/v1 Scale view of a scalable built-in object (`/scale` GET)."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    selector = spec.get("selector")
    if resource.kind == "ReplicationController":
        selector_text = ",".join(f"{k}={v}" for k, v in sorted((selector or {}).items()))
    else:
        selector_text = str(labels.from_label_selector(selector)) if selector is not None else ""
    scale_meta = {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta}
    scale_status: dict[str, JSON] = {"replicas": status.get("replicas", 0)}
    if selector_text:
        scale_status["selector"] = selector_text
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_meta,
        "spec": {"replicas": spec.get("replicas", 0)},
        "status": scale_status,
    }


def apply_scale(obj: JSON, scale: JSON) -> dict[str, JSON]:
    """The object after a `/scale` write: only spec.replicas changes."""
    out = copy.deepcopy(obj)
    out.setdefault("spec", {})["replicas"] = (scale.get("spec") or {}).get("replicas", 0)
    return dict(out)
