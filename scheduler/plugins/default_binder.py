"""DefaultBinder: binding is a `pods/binding` POST, which the driver performs with the object built here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scheduler.framework import BindPlugin, CycleState
from scheduler.podinfo import PodInfo


class DefaultBinder(BindPlugin):
    """Builds the Binding; the apiserver refuses a second one, so two schedulers never bind a pod twice."""

    name = "DefaultBinder"

    def bind(self, state: CycleState, pod: PodInfo, node: str) -> Mapping[str, Any]:
        meta: dict[str, Any] = {"name": pod.name, "namespace": pod.namespace}
        if pod.uid:
            meta["uid"] = pod.uid
        return {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": meta,
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
