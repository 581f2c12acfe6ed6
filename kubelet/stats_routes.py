"""The kubelet's stats and metrics endpoints on 10250: ``/stats/summary`` (JSON), ``/metrics/resource``
(what metrics-server and the apiserver's metrics.k8s.io scrape) and ``/metrics`` (the kubelet's own)."""

from __future__ import annotations

import grpc
from aiohttp import web

from kubelet.cri import CALL_TIMEOUT, CriClient
from kubelet.stats_provider import StatsProvider
from process.metrics import Sample, render
from protos.cri import api_pb2 as cri

PROMETHEUS_TEXT = "text/plain; version=0.0.4"


def stats_routes(provider: StatsProvider, cri_client: CriClient) -> list[web.RouteDef]:
    """The routes, over ``provider`` for usage and the runtime for pod and container counts."""

    async def summary(request: web.Request) -> web.Response:
        try:
            return web.json_response(await provider.summary())
        except grpc.aio.AioRpcError as err:
            raise web.HTTPServiceUnavailable(text=f"the runtime did not answer: {err.details()}") from None

    async def resource(request: web.Request) -> web.Response:
        try:
            text = await provider.resource_metrics()
        except grpc.aio.AioRpcError as err:
            raise web.HTTPServiceUnavailable(text=f"the runtime did not answer: {err.details()}") from None
        return web.Response(text=text, headers={"Content-Type": PROMETHEUS_TEXT})

    async def own(request: web.Request) -> web.Response:
        try:
            sandboxes = await cri_client.runtime.ListPodSandbox(cri.ListPodSandboxRequest(), timeout=CALL_TIMEOUT)
            containers = await cri_client.runtime.ListContainers(cri.ListContainersRequest(), timeout=CALL_TIMEOUT)
        except grpc.aio.AioRpcError as err:
            raise web.HTTPServiceUnavailable(text=f"the runtime did not answer: {err.details()}") from None
        ready = sum(1 for s in sandboxes.items if s.state == cri.SANDBOX_READY)
        running = sum(1 for c in containers.containers if c.state == cri.CONTAINER_RUNNING)
        text = render([
            Sample("kubelet_running_pods", "gauge", "Number of pods that have a running pod sandbox",
                   lambda: ready),
            Sample("kubelet_running_containers", "gauge", "Number of containers currently running",
                   lambda: running),
        ])
        text += f'# HELP kubelet_node_name The node\'s name.\n# TYPE kubelet_node_name gauge\n' \
                f'kubelet_node_name{{node="{provider.node_name}"}} 1\n'
        return web.Response(text=text, headers={"Content-Type": PROMETHEUS_TEXT})

    return [web.get("/stats/summary", summary), web.get("/metrics/resource", resource), web.get("/metrics", own)]
