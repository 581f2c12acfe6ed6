"""Fake kubelets for controller benchmarks: one process plays every node, as cheaply as it can.

Registers ``--nodes`` Ready nodes (``<prefix>-<i>``), then keeps a single pod informer over the whole
cluster: a pod bound to one of its nodes is reported Running and Ready (one merge patch of pods/status
with an IP from that node's /24), and a pod being deleted is confirmed at once (grace period 0). No
Leases or node-status heartbeats are sent: the benchmarks run no node-lifecycle controller, and a
hollow kubelet per node (a watch, a lease and a status write every 10 s each) would cost more than the
controllers under test. Status writes go out with ``--concurrency`` requests in flight.

    .venv/bin/python -m bench.fake_nodes --kubeconfig K --nodes 1000 [--prefix fake] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import signal
import time
from collections.abc import Iterator
from typing import Any

import uvloop

from client.cache import DeletedFinalStateUnknown
from client.errors import ApiError, ClientError, NotFound
from client.informer import SharedInformerFactory
from client.kubeconfig import load_client_config
from client.mapping import lookup
from client.rest import PatchType, RestClient
from process import log as process_log

log = process_log.get_logger("fake-nodes")

POD_NETWORK = ipaddress.IPv4Network("10.64.0.0/10")
"""One /24 per fake node (up to 16,384 nodes)."""
NODE_RESOURCES = {"cpu": "32", "memory": "128Gi", "pods": "110"}


def node_body(name: str, cidr: str) -> dict[str, Any]:
    """A Ready, schedulable Node with room for 110 pods; Nodes take their status on create."""
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
            "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
            "status": {"capacity": NODE_RESOURCES, "allocatable": NODE_RESOURCES,
                       "addresses": [{"type": "InternalIP", "address": "127.0.0.2"}],
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "fake kubelet is posting ready status"}]}}


def running_status(pod: dict[str, Any], ip: str, now: str) -> dict[str, Any]:
    """What a kubelet reports for a started pod whose containers are all running and ready."""
    conditions = [{"type": t, "status": "True", "lastTransitionTime": now}
                  for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")]
    containers = [{"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": True,
                   "restartCount": 0, "started": True, "containerID": f"fake://{pod['metadata']['uid'][:8]}-{c['name']}",
                   "state": {"running": {"startedAt": now}}}
                  for c in pod["spec"].get("containers") or []]
    return {"phase": "Running", "hostIP": "127.0.0.2", "hostIPs": [{"ip": "127.0.0.2"}], "podIP": ip,
            "podIPs": [{"ip": ip}], "startTime": now, "qosClass": "BestEffort", "conditions": conditions,
            "containerStatuses": containers}


class FakeNodes:
    """Every fake node's pod addresses, and the queue of pods to report or confirm deleted."""

    def __init__(self, client: RestClient, prefix: str, count: int) -> None:
        self.client = client
        subnets: Iterator[ipaddress.IPv4Network] = POD_NETWORK.subnets(new_prefix=24)
        self.cidrs = {f"{prefix}-{i}": next(subnets) for i in range(count)}
        self._hosts: dict[str, Iterator[ipaddress.IPv4Address]] = {}
        self._handled: set[str] = set()
        self.work: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def register(self, concurrency: int) -> None:
        """Create every node (an existing one, from an earlier run, is kept)."""
        pending = iter(self.cidrs.items())

        async def worker() -> None:
            for name, cidr in pending:
                try:
                    await self.client.create(lookup("nodes"), node_body(name, str(cidr)))
                except ApiError as err:
                    if err.code != 409:
                        raise

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    def seen(self, pod: dict[str, Any]) -> None:
        """Queue a pod of ours that needs a status report or a deletion confirmed (each once)."""
        node = pod["spec"].get("nodeName")
        if node not in self.cidrs:
            return
        m = pod["metadata"]
        deleting = m.get("deletionTimestamp") is not None
        if deleting:
            self._handled.discard(m["uid"])
            key = "delete/" + m["uid"]
        elif (pod.get("status") or {}).get("phase") == "Running":
            return
        else:
            key = m["uid"]
        if key not in self._handled:
            self._handled.add(key)
            self.work.put_nowait(pod)

    def gone(self, pod: dict[str, Any] | DeletedFinalStateUnknown) -> None:
        obj = pod.obj if isinstance(pod, DeletedFinalStateUnknown) else pod
        self._handled.discard(obj["metadata"]["uid"])
        self._handled.discard("delete/" + obj["metadata"]["uid"])

    def _ip(self, node: str) -> str:
        hosts = self._hosts.get(node)
        if hosts is None:
            hosts = self._hosts[node] = self.cidrs[node].hosts()
            next(hosts)  # .1 is the node bridge's, as on a real node
        return str(next(hosts))

    async def worker(self) -> None:
        """Report or confirm pods from the queue until cancelled."""
        pods = lookup("pods")
        while True:
            pod = await self.work.get()
            m = pod["metadata"]
            try:
                if m.get("deletionTimestamp") is not None:
                    await self.client.delete(pods, m["name"], m["namespace"], grace_period_seconds=0)
                else:
                    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                    status = running_status(pod, self._ip(pod["spec"]["nodeName"]), now)
                    await self.client.patch(pods, m["name"], {"status": status}, m["namespace"],
                                            patch_type=PatchType.MERGE, subresource="status")
            except NotFound:
                pass  # deleted meanwhile
            except ClientError as err:  # a conflict or a connection blip: the pod's next event retries it
                log.warning("pod write failed", pod=f"{m['namespace']}/{m['name']}", error=str(err))
                self._handled.discard(m["uid"])
                self._handled.discard("delete/" + m["uid"])


async def run(args: argparse.Namespace) -> None:
    config = load_client_config(args.kubeconfig)
    async with RestClient(config, user_agent="fake-nodes", connect_timeout=30.0) as client:
        nodes = FakeNodes(client, args.prefix, args.nodes)
        await nodes.register(args.concurrency)
        log.info("registered fake nodes", nodes=args.nodes)
        factory = SharedInformerFactory(client)
        factory.informer(lookup("pods")).add_event_handler(
            on_add=nodes.seen, on_update=lambda _old, new: nodes.seen(new), on_delete=nodes.gone)
        factory.start()
        workers = [asyncio.create_task(nodes.worker()) for _ in range(args.concurrency)]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await factory.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--nodes", type=int, required=True)
    parser.add_argument("--prefix", default="fake", help="node names are <prefix>-<i>")
    parser.add_argument("--concurrency", type=int, default=32, help="status writes in flight")
    args = parser.parse_args()
    if not 1 <= args.nodes <= 2 ** (24 - POD_NETWORK.prefixlen):
        parser.error(f"--nodes must be 1..{2 ** (24 - POD_NETWORK.prefixlen)} (one /24 each in {POD_NETWORK})")
    process_log.configure("fake-nodes", 0)
    uvloop.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
