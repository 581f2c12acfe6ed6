"""metrics.k8s.io/v1beta1 served by the apiserver itself, from kubelets' ``/metrics/resource``.

Kubernetes serves this group through an aggregated APIService backed by metrics-server, which scrapes
every kubelet each 15 s. Here the apiserver scrapes the kubelets a request needs, at request time, through
its kubelet connections: usage is the change in cumulative CPU seconds since this apiserver's previous
scrape of that node (at least a second back; the very first request scrapes twice, a second apart) and the
latest working set. ``kubectl top node|pod`` reads these objects.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from api import labels, metrics_v1beta1, status
from api.schema import JSON
from apiserver import json_codec
from apiserver.errors import APIError, bad_request, not_found_path
from apiserver.kubelet_proxy import KubeletProxy
from apiserver.registry import Registry
from client.resource_metrics import MetricsFormatError, Scrape, container_usage, node_usage, parse

MIN_WINDOW = 1.0


class ResourceMetrics:
    """NodeMetrics and PodMetrics for GET and LIST."""

    def __init__(self, registry: Registry, kubelet: KubeletProxy, pods_prefix: str) -> None:
        self.registry = registry
        self.kubelet = kubelet
        self.pods_prefix = pods_prefix
        self._previous: dict[str, tuple[float, Scrape]] = {}  # node -> (monotonic time, scrape)

    async def serve(self, request: web.Request, segments: list[str]) -> web.StreamResponse:
        """`/apis/metrics.k8s.io/v1beta1/<segments>`."""
        if request.method != "GET":
            raise APIError(status.failure("MethodNotAllowed", f"{request.method} is not supported on metrics",
                                          code=405))
        selector = self._selector(request)
        match segments:
            case ["nodes"]:
                return _json(metrics_v1beta1.metrics_list("NodeMetrics", await self._nodes(None, selector)))
            case ["nodes", name]:
                return _json(_single(await self._nodes(name, selector), "nodes", name))
            case ["pods"]:
                return _json(metrics_v1beta1.metrics_list("PodMetrics", await self._pods(None, None, selector)))
            case ["namespaces", namespace, "pods"]:
                return _json(metrics_v1beta1.metrics_list("PodMetrics", await self._pods(namespace, None, selector)))
            case ["namespaces", namespace, "pods", name]:
                return _json(_single(await self._pods(namespace, name, selector), "pods", name))
        raise not_found_path(request.path)

    @staticmethod
    def _selector(request: web.Request) -> labels.Selector:
        try:
            return labels.parse(request.query.get("labelSelector", ""))
        except labels.SelectorError as err:
            raise bad_request(f"unable to parse requirement: {err}") from None

    async def _scrape(self, node: JSON) -> tuple[Scrape, Scrape, float] | None:
        """The previous and a new scrape of ``node`` (None if its kubelet cannot be read)."""
        name = str((node.get("metadata") or {}).get("name", ""))
        try:
            now = time.monotonic()
            previous = self._previous.get(name)
            if previous is None:
                first = parse(await self.kubelet.node_get(node, "/metrics/resource"))
                previous = (now, first)
                await asyncio.sleep(MIN_WINDOW)
            current = parse(await self.kubelet.node_get(node, "/metrics/resource"))
        except (APIError, MetricsFormatError, OSError, TimeoutError):
            return None
        at = time.monotonic()
        if at - previous[0] >= MIN_WINDOW:
            self._previous[name] = (at, current)
        return previous[1], current, at

    async def _nodes(self, name: str | None, selector: labels.Selector) -> list[JSON]:
        if name is not None:
            node = await self.registry.get(f"{self.kubelet.nodes_prefix}/{name}")
            nodes = [node] if node is not None else []
        else:
            nodes = (await self.registry.list(self.kubelet.nodes_prefix + "/")).items
        nodes = [n for n in nodes if selector.matches((n.get("metadata") or {}).get("labels"))]
        scrapes = await asyncio.gather(*(self._scrape(n) for n in nodes))
        out: list[JSON] = []
        for node, scrape in zip(nodes, scrapes, strict=True):
            used = node_usage(scrape[0], scrape[1]) if scrape else None
            if used is not None:
                out.append(metrics_v1beta1.node_metrics(node, _stamp(used.at_ms), used.window_ms,
                                                        used.cpu_nanocores, used.memory_bytes))
        return out

    async def _pods(self, namespace: str | None, name: str | None, selector: labels.Selector) -> list[JSON]:
        prefix = f"{self.pods_prefix}/{namespace}/" if namespace else f"{self.pods_prefix}/"
        pods = [p for p in (await self.registry.list(prefix)).items
                if (name is None or (p.get("metadata") or {}).get("name") == name)
                and selector.matches((p.get("metadata") or {}).get("labels"))
                and (p.get("status") or {}).get("phase") == "Running" and (p.get("spec") or {}).get("nodeName")]
        node_names = sorted({str(p["spec"]["nodeName"]) for p in pods})
        nodes = [n for n in await asyncio.gather(*(self.registry.get(f"{self.kubelet.nodes_prefix}/{n}")
                                                   for n in node_names)) if n is not None]
        scrapes = await asyncio.gather(*(self._scrape(n) for n in nodes))
        usage: dict[tuple[str, str, str], Any] = {}
        for scrape in scrapes:
            if scrape is not None:
                usage.update(container_usage(scrape[0], scrape[1]))
        out: list[JSON] = []
        for pod in pods:
            meta = pod.get("metadata") or {}
            ns, pod_name = str(meta.get("namespace", "")), str(meta.get("name", ""))
            names = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]
            found = [(c, usage[(ns, pod_name, c)]) for c in names if (ns, pod_name, c) in usage]
            if not found:
                continue  # as metrics-server: a pod without measured containers is left out
            at_ms = max(u.at_ms for _, u in found)
            window_ms = min(u.window_ms for _, u in found)
            out.append(metrics_v1beta1.pod_metrics(pod, _stamp(at_ms), window_ms,
                                                   [(c, u.cpu_nanocores, u.memory_bytes) for c, u in found]))
        return out


def _json(body: JSON) -> web.Response:
    return web.Response(body=json_codec.dumps(body), content_type="application/json")


def _single(items: list[JSON], plural: str, name: str) -> JSON:
    if not items:
        raise APIError(status.not_found(plural, metrics_v1beta1.GROUP, name))
    return items[0]


def _stamp(at_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at_ms / 1000))
