"""metrics.k8s.io/v1beta1: NodeMetrics and PodMetrics, read-only views of current usage (what metrics-server
serves and ``kubectl top`` reads). Not stored: the apiserver computes them from kubelets' resource metrics,
so they take part in discovery only, not in the catalog of stored kinds."""

from __future__ import annotations

from typing import Any

from api.schema import Resource

GROUP, VERSION = "metrics.k8s.io", "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"

NODE_METRICS = Resource(group=GROUP, version=VERSION, kind="NodeMetrics", plural="nodes",
                        type_name="io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics", namespaced=False,
                        singular="", verbs=("get", "list"), has_status=False)
POD_METRICS = Resource(group=GROUP, version=VERSION, kind="PodMetrics", plural="pods",
                       type_name="io.k8s.metrics.pkg.apis.metrics.v1beta1.PodMetrics", namespaced=True,
                       singular="", verbs=("get", "list"), has_status=False)
RESOURCES = (NODE_METRICS, POD_METRICS)


def usage(cpu_nanocores: int, memory_bytes: int) -> dict[str, str]:
    """A ResourceList as metrics-server writes it: CPU in nanocores, memory in KiB."""
    return {"cpu": f"{cpu_nanocores}n", "memory": f"{memory_bytes // 1024}Ki"}


def window(ms: int) -> str:
    """A metav1.Duration for a window in ms."""
    return f"{ms / 1000:.3f}".rstrip("0").rstrip(".") + "s"


def _meta(source: dict[str, Any], timestamp: str) -> dict[str, Any]:
    meta = source.get("metadata") or {}
    out = {"name": meta.get("name", ""), "creationTimestamp": timestamp, "labels": meta.get("labels") or {}}
    if meta.get("namespace"):
        out["namespace"] = meta["namespace"]
    return out


def node_metrics(node: dict[str, Any], timestamp: str, window_ms: int, cpu: int, memory: int) -> dict[str, Any]:
    """The NodeMetrics of ``node``."""
    return {"kind": "NodeMetrics", "apiVersion": API_VERSION, "metadata": _meta(node, timestamp),
            "timestamp": timestamp, "window": window(window_ms), "usage": usage(cpu, memory)}


def pod_metrics(pod: dict[str, Any], timestamp: str, window_ms: int,
                containers: list[tuple[str, int, int]]) -> dict[str, Any]:
    """The PodMetrics of ``pod``: (name, cpu nanocores, memory bytes) per container."""
    return {"kind": "PodMetrics", "apiVersion": API_VERSION, "metadata": _meta(pod, timestamp),
            "timestamp": timestamp, "window": window(window_ms),
            "containers": [{"name": name, "usage": usage(cpu, memory)} for name, cpu, memory in containers]}


def metrics_list(kind: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """A NodeMetricsList or PodMetricsList."""
    return {"kind": f"{kind}List", "apiVersion": API_VERSION, "metadata": {}, "items": items}
