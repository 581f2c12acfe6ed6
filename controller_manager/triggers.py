"""Which work-queue keys an informer event concerns: the driver's event handlers call these.

An object's controller is found through its controller ownerReference; an orphan concerns every
controller whose selector matches it (one of them may adopt it), as upstream's handlers enqueue.
A pod concerns every Service that selects it, under its old labels as well as its new ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from api import labels
from api.labels import Selector
from client.rest import ResourceRef
from controller_manager.ownership import controller_of
from controller_manager.view import SERVICES, Obj, View, key_of, meta


def label_selector(owner: Obj) -> Selector:
    """``spec.selector`` as a LabelSelector (ReplicaSet, Deployment, Job, DaemonSet, StatefulSet)."""
    return labels.from_label_selector((owner.get("spec") or {}).get("selector"))


def map_selector(owner: Obj) -> Selector:
    """``spec.selector`` as a plain map (ReplicationController); an empty map selects nothing."""
    sel = (owner.get("spec") or {}).get("selector")
    return labels.from_label_selector({"matchLabels": sel}) if sel else labels.NOTHING


def owner_keys(view: View, obj: Obj, owner: ResourceRef,
               selector_of: Callable[[Obj], Selector] = label_selector) -> list[str]:
    """Keys of the ``owner``-kind controllers an event on ``obj`` concerns."""
    ns = meta(obj).get("namespace")
    ref = controller_of(obj)
    if ref is not None:
        return [f"{ns}/{ref['name']}" if ns else str(ref["name"])] if ref.get("kind") == owner.kind else []
    obj_labels = meta(obj).get("labels")
    return [key_of(o) for o in view.list(owner, ns) if selector_of(o).matches(obj_labels)]


def service_keys(view: View, pods: Iterable[Obj]) -> list[str]:
    """Services selecting any of these pod versions (pass old and new on an update)."""
    out: dict[str, None] = {}
    for pod in pods:
        pod_labels = meta(pod).get("labels")
        for svc in view.list(SERVICES, meta(pod).get("namespace")):
            selector = (svc.get("spec") or {}).get("selector")
            if selector and labels.from_label_selector({"matchLabels": selector}).matches(pod_labels):
                out[key_of(svc)] = None
    return list(out)
