"""``tinykube kubelet``: the node agent. Registers the Node, renews its Lease, and runs the pods bound to it.

Wiring only: flags (kubelet's names) → a REST client, informers (pods on this node; the ConfigMaps, Secrets,
claims and volumes they use) → pod workers over CRI (or hollow pods with ``--hollow``) → status patches,
events and final deletions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import re
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from api.quantity import Quantity
from client.cache import DeletedFinalStateUnknown
from client.delegated_auth import DelegatedAuth
from client.errors import ApiConnectionError, ApiError, Conflict, NotFound
from client.events import EventRecorder
from client.informer import SharedInformerFactory
from client.kubeconfig import Kubeconfig
from client.rest import PatchType, ResourceRef, RestClient
from kubelet.bootstrap import BootstrapError, bootstrap_in_child
from kubelet.cpu_checkpoint import CheckpointError
from kubelet.cpu_manager import CpuManager
from kubelet.cpu_policy import NONE, POLICIES, STATIC, CpuPolicyError, reserved_cpus
from kubelet.cpuset import CpuSetError, parse_cpus
from kubelet.cri import CriClient
from kubelet.cri_config import DNSSettings
from kubelet.eviction import DEFAULT_EVICTION_HARD, parse_thresholds
from kubelet.eviction_manager import EvictionManager
from kubelet.hollow import HollowPods
from kubelet.image_gc import GcPolicy
from kubelet.image_gc_manager import IMAGE_GC_PERIOD, ImageGcManager
from kubelet.machine import default_node_ip, measure, online_cpus
from kubelet.node_sync import register_until_done, renew_lease_forever, update_status_forever
from kubelet.nodestatus import (
    Machine,
    Reservations,
    allocatable,
    capacity,
    conditions,
    images,
    new_node,
    parse_labels,
    parse_resource_list,
    parse_taints,
)
from kubelet.object_watch import CLAIMS, CONFIG_MAPS, SECRETS, VOLUMES, ObjectWatches
from kubelet.server import KubeletServer, self_signed, serving_context
from kubelet.server_auth import kubelet_action
from kubelet.static_pods import CONFIG_MIRROR, CONFIG_SOURCE, is_mirror, mirror_pod, read_manifests
from kubelet.status import rfc3339
from kubelet.tokens import TokenCache
from kubelet.volumes.manager import Lookups, VolumeManager
from kubelet.worker import Hub, NodeContext, PodWorkers
from process import log as plog
from process.flags import ComponentParser, parse_bool
from process.shutdown import serve
from process.version import KUBERNETES_GIT_VERSION

log = plog.get_logger("kubelet.main")

PODS: Final = ResourceRef("", "v1", "pods", True, "Pod")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration(text: str) -> float:
    """A Go duration (``10s``, ``1m30s``, ``500ms``) in seconds."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (examples: 10s, 1m30s, 500ms)")
    return sum(float(n) * _UNIT[u] for n, u in parts)


def cpu_list(text: str) -> frozenset[int]:
    """A --reserved-cpus value."""
    try:
        return parse_cpus(text)
    except CpuSetError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def parser() -> ComponentParser:
    """The kubelet's flags, with upstream names (each also ``TINYKUBE_KUBELET_<FLAG>``)."""
    p = ComponentParser("kubelet", description="tinykube's node agent: runs the pods bound to this node.")
    p.add_argument("--kubeconfig", required=True, help="kubeconfig for talking to the apiserver")
    p.add_argument("--container-runtime-endpoint", default="unix:///run/tinykube/runtime.sock",
                   help="the CRI runtime's endpoint, unix://PATH")
    p.add_argument("--node-ip", default="", help="the node's InternalIP (default: the default route's source)")
    p.add_argument("--hostname-override", default="", help="the Node's name (default: the hostname)")
    p.add_argument("--root-dir", default="/var/lib/tinykube/kubelet", help="pod volumes, logs and state")
    p.add_argument("--cgroup-root", default="", help="prefix for pod cgroup parents (under the runtime's root)")
    p.add_argument("--cluster-dns", default="", help="comma-separated DNS server IPs for ClusterFirst pods")
    p.add_argument("--cluster-domain", default="cluster.local", help="the cluster's DNS domain")
    p.add_argument("--max-pods", type=int, default=110, help="pods this node admits (its pods capacity)")
    p.add_argument("--node-labels", default="", help="labels to add at registration, k=v,k2=v2")
    p.add_argument("--register-with-taints", default="", help="taints at registration, key=value:Effect,…")
    p.add_argument("--eviction-hard", default=DEFAULT_EVICTION_HARD, help="hard eviction thresholds")
    p.add_argument("--system-reserved", default="", help="resources kept for the OS, cpu=…,memory=…")
    p.add_argument("--kube-reserved", default="", help="resources kept for Kubernetes daemons")
    p.add_argument("--node-status-update-frequency", type=duration, default=10.0,
                   help="how often node status is posted")
    p.add_argument("--node-lease-duration-seconds", type=int, default=40, help="the node Lease's duration")
    p.add_argument("--serialize-image-pulls", type=parse_bool, default=True, help="pull one image at a time")
    p.add_argument("--cpu-manager-policy", choices=POLICIES, default=NONE,
                   help="static: Guaranteed pods' containers with whole CPUs get them to themselves")
    p.add_argument("--reserved-cpus", type=cpu_list, default=frozenset(),
                   help="CPUs kept for the system (e.g. 0 or 0-1); overrides the cpu of --kube/system-reserved")
    p.add_argument("--cpu-manager-reconcile-period", type=duration, default=10.0,
                   help="how often running containers are moved onto their current CPUs")
    p.add_argument("--image-gc-high-threshold", type=int, default=85,
                   help="percent of the image filesystem used that starts image garbage collection")
    p.add_argument("--image-gc-low-threshold", type=int, default=80,
                   help="percent of the image filesystem used that image garbage collection frees down to")
    p.add_argument("--minimum-image-ttl-duration", type=duration, default=120.0,
                   help="minimum age of an unused image before it may be garbage collected")
    p.add_argument("--image-gc-period", type=duration, default=IMAGE_GC_PERIOD,
                   help="how often image garbage collection runs (tinykube's; fixed at 5m upstream)")
    p.add_argument("--pod-manifest-path", type=Path, help="directory of static pod manifests")
    p.add_argument("--file-check-frequency", type=duration, default=20.0,
                   help="how often the manifest directory is re-read")
    p.add_argument("--address", default="0.0.0.0", help="where the kubelet's HTTPS server listens")
    p.add_argument("--port", type=int, default=10250, help="the HTTPS port (logs, exec, attach, port-forward)")
    p.add_argument("--tls-cert-file", type=Path, help="serving certificate (default: self-signed in --root-dir)")
    p.add_argument("--tls-private-key-file", type=Path, help="key of --tls-cert-file")
    p.add_argument("--client-ca-file", type=Path,
                   help="CA whose client certificates identify callers of the server (the apiserver's, admins')")
    p.add_argument("--anonymous-auth", type=parse_bool, nargs="?", const=True, default=True,
                   help="let callers with neither a certificate nor a token in as system:anonymous")
    p.add_argument("--authentication-token-webhook", type=parse_bool, nargs="?", const=True, default=False,
                   help="identify callers by bearer token through a TokenReview")
    p.add_argument("--authorization-mode", choices=["AlwaysAllow", "Webhook"], default="AlwaysAllow",
                   help="Webhook: ask a SubjectAccessReview (nodes/proxy, nodes/log, …) for every request")
    p.add_argument("--bootstrap-kubeconfig", type=Path, default=None,
                   help="without a valid --kubeconfig, use this one (a bootstrap token) to request a client "
                        "certificate through a CSR, then write --kubeconfig")
    p.add_argument("--cert-dir", type=Path, default=None,
                   help="where the bootstrapped client certificate lives (default: <root-dir>/pki)")
    p.add_argument("--hollow", action="store_true",
                   help="kubemark mode: no runtime; bound pods are reported Running without containers")
    p.add_argument("--pod-cidr", default="10.250.0.0/16", help="where hollow pods' fake IPs come from")
    p.add_argument("--hollow-nodes", type=int, default=1,
                   help="with --hollow: how many nodes this process plays (<name>-0 … <name>-N-1, one /24 each)")
    return p


class Kubelet:
    """One node agent's long-lived parts, built from flags."""

    def __init__(self, args: argparse.Namespace, rest: RestClient, node_name: str = "", pod_cidr: str = "") -> None:
        self.args = args
        self.rest = rest
        self.node_name: str = node_name or args.hostname_override or socket.gethostname()
        self.pod_cidr: str = pod_cidr or args.pod_cidr
        self.node_ip: str = args.node_ip or default_node_ip()
        self.root = Path(args.root_dir)
        self.events = EventRecorder(rest, "kubelet", host=self.node_name)
        self.factory = SharedInformerFactory(rest)
        self.pods = self.factory.informer(PODS, field_selector=f"spec.nodeName={self.node_name}")
        system, kube = parse_resource_list(args.system_reserved), parse_resource_list(args.kube_reserved)
        if args.reserved_cpus:  # as upstream: --reserved-cpus replaces the cpu of both reservations
            kube.pop("cpu", None)
            system["cpu"] = Quantity(len(args.reserved_cpus))
        self.reserved = Reservations(system=system, kube=kube, eviction_hard=parse_thresholds(args.eviction_hard))
        self.cpus = None if args.hollow else cpu_manager(args, self.root, self.reserved)
        self.node_uid = ""
        self.machine: Machine | None = None
        self.cri: CriClient | None = None
        self.workers: PodWorkers | None = None
        self.eviction: EvictionManager | None = None
        self.server: KubeletServer | None = None
        self.objects = ObjectWatches(rest)
        self._conditions: list[dict[str, Any]] = []
        self._tasks: list[asyncio.Task[Any]] = []

    # -- sinks shared by real and hollow pods ---------------------------------------------------------------

    async def report(self, pod: dict[str, Any], status: dict[str, Any]) -> bool:
        """Write a pod's status through ``pods/status`` (static pods: onto their mirror pod)."""
        meta = pod["metadata"]
        patch: dict[str, Any] = {"metadata": {"uid": meta["uid"]}, "status": status}
        if (meta.get("annotations") or {}).get(CONFIG_SOURCE) == "file":
            mirror = self.pods.get(meta["name"], meta["namespace"])
            if mirror is None or not is_mirror(mirror):
                return False  # reported once its mirror pod exists
            patch = {"status": status}
        try:
            await self.rest.patch(PODS, meta["name"], patch, meta["namespace"], patch_type=PatchType.MERGE,
                                  subresource="status")
        except NotFound:
            return True  # deleted meanwhile; the informer will tell the worker
        except (ApiError, ApiConnectionError) as err:
            log.warning("pod status update failed", pod=f"{meta['namespace']}/{meta['name']}", error=str(err))
            return False
        return True

    async def terminated(self, pod: dict[str, Any]) -> None:
        """The pod's containers are all stopped: if it is being deleted, finish the deletion (grace 0)."""
        meta = pod["metadata"]
        if not meta.get("deletionTimestamp") or meta["deletionTimestamp"] == "removed":
            return
        try:
            await self.rest.delete(PODS, meta["name"], meta["namespace"], grace_period_seconds=0,
                                   preconditions={"uid": meta["uid"]})
        except (NotFound, Conflict):
            pass
        except (ApiError, ApiConnectionError) as err:
            log.warning("final pod deletion failed", pod=f"{meta['namespace']}/{meta['name']}", error=str(err))

    def node_event(self, type_: str, reason: str, message: str) -> None:
        """Record an Event about this Node (in the background)."""
        self.events.event({"apiVersion": "v1", "kind": "Node",
                           "metadata": {"name": self.node_name, "uid": self.node_name}}, type_, reason, message)

    def _pods_holding_cpus(self) -> set[str]:
        """Pods whose exclusive CPUs stay taken: not finished in the API, or with containers still running."""
        uids = {p["metadata"]["uid"] for p in self.pods.list()
                if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")}
        if self.workers is not None:
            uids |= {uid for uid, w in self.workers.workers.items() if not w.finished.is_set()}
        return uids

    def event(self, pod: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """Record an Event about a pod (in the background)."""
        self.events.event({"apiVersion": "v1", "kind": "Pod", **pod}, type_, reason, message)

    # -- node -----------------------------------------------------------------------------------------------

    async def node_status(self) -> dict[str, Any]:
        """The Node status to post: capacity, allocatable, conditions and images."""
        if self.machine is None:
            raise RuntimeError("node status asked for before the machine was measured")
        cap = capacity(self.machine, self.args.max_pods)
        pressures = self.eviction.pressures() if self.eviction is not None else frozenset()
        self._conditions = conditions(pressures, await self._ready_problem(), self._conditions,
                                      rfc3339(time.time()))
        status: dict[str, Any] = {"capacity": cap, "allocatable": allocatable(cap, self.reserved),
                                  "conditions": self._conditions}
        if self.cri is not None:
            with contextlib.suppress(Exception):
                status["images"] = images(await self.cri.list_images())
        return status

    async def _ready_problem(self) -> str:
        if self.cri is None:
            return ""
        try:
            await self.cri.version()
        except Exception as err:  # any failure to reach the runtime makes the node NotReady
            return f"container runtime is down: {err}"
        return ""

    async def start(self) -> None:
        """Register the Node, start heartbeats, then the pod workers (or hollow pods) and informers."""
        args = self.args
        if args.hollow:
            runtime_version = "hollow://0.1.0"
        else:
            self.cri = CriClient(args.container_runtime_endpoint)
            version = await self.cri.wait_version()
            runtime_version = f"{version.name}://{version.version}"
        self.machine = await asyncio.to_thread(measure, self.root, runtime_version, KUBERNETES_GIT_VERSION)
        node = new_node(self.node_name, self.node_ip, self.machine, self.reserved,
                        labels=parse_labels(args.node_labels), taints=parse_taints(args.register_with_taints),
                        max_pods=args.max_pods, kubelet_port=args.port, now_text=rfc3339(time.time()))
        registered = await register_until_done(self.rest, node)
        self.node_uid = registered["metadata"].get("uid", "")
        log.info("registered node", node=self.node_name, ip=self.node_ip, runtime=runtime_version)
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(renew_lease_forever(
            self.rest, self.node_name, lambda: self.node_uid, args.node_lease_duration_seconds, 10.0)))
        self._tasks.append(loop.create_task(update_status_forever(
            self.rest, self.node_name, self.node_status, args.node_status_update_frequency)))
        if args.hollow:
            self._start_hollow()
        else:
            await self._start_workers()
        self.factory.start()
        await self.factory.wait_for_cache_sync()
        if self.cri is not None:
            if self.cpus is not None and self.cpus.policy == STATIC:
                # After the cache sync, so pods that still hold CPUs are known before stale ones are released.
                self._tasks.append(asyncio.get_running_loop().create_task(self.cpus.reconcile_forever(
                    self.cri, self._pods_holding_cpus, args.cpu_manager_reconcile_period)))
            await self._serve()
        log.info("pods synced", node=self.node_name, pods=len(self.pods.list()))

    def _start_hollow(self) -> None:
        hollow = HollowPods((self.node_ip,), self.pod_cidr, self.report, self.terminated)
        loop = asyncio.get_running_loop()
        self.pods.add_event_handler(
            on_add=lambda pod: self._spawn(loop, hollow.update(pod)),
            on_update=lambda old, new: self._spawn(loop, hollow.update(new)),
            on_delete=lambda pod: hollow.remove(_uid(pod)))

    def _spawn(self, loop: asyncio.AbstractEventLoop, coro: Any) -> None:
        task = loop.create_task(coro)
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    async def _start_workers(self) -> None:
        if self.cri is None or self.machine is None:
            raise RuntimeError("pod workers need the runtime and the machine first")
        objects = self.objects
        alloc = allocatable(capacity(self.machine, self.args.max_pods), self.reserved)
        tokens = TokenCache(self.rest)
        config_maps, secrets = objects.lookup(CONFIG_MAPS), objects.lookup(SECRETS)
        lookups = Lookups(config_maps=config_maps, secrets=secrets, claims=objects.lookup(CLAIMS),
                          volumes=objects.lookup(VOLUMES), token_request=tokens.get, node_allocatable=alloc)
        dns = DNSSettings(tuple(s for s in self.args.cluster_dns.split(",") if s), self.args.cluster_domain)
        node = NodeContext(node_name=self.node_name, host_ips=(self.node_ip,), root_dir=self.root,
                           memory_capacity=self.machine.memory_bytes, cgroup_root=self.args.cgroup_root, dns=dns,
                           node_allocatable=alloc, runtime_name=(await self.cri.version()).name)
        hub = Hub(cri=self.cri, volumes=VolumeManager(self.root, lookups), node=node, config_maps=config_maps,
                  secrets=secrets, report=self.report, on_terminated=self.terminated, events=self.event,
                  pull_lock=asyncio.Lock() if self.args.serialize_image_pulls else None, tokens=tokens,
                  cpus=self.cpus)
        workers = PodWorkers(hub)
        self.workers = workers
        # Mirror pods stand for static pods, which run from their manifests: the informer copy is not run.
        loop = asyncio.get_running_loop()
        self.pods.add_event_handler(
            on_add=lambda pod: None if is_mirror(pod) else self._spawn(loop, self._admit(pod, workers)),
            on_update=lambda old, new: None if is_mirror(new) else self._spawn(loop, self._admit(new, workers)),
            on_delete=lambda pod: None if is_mirror(_last_known(pod)) else self._forget(loop, _uid(pod), workers))
        if self.args.pod_manifest_path is not None:
            self._tasks.append(asyncio.get_running_loop().create_task(
                self._static_pods_forever(self.args.pod_manifest_path, workers)))
        self._tasks.append(asyncio.get_running_loop().create_task(workers.relist()))
        self.eviction = EvictionManager(self.reserved.eviction_hard, self.cri, self.root, self.pods.list,
                                        workers.evict)
        self._tasks.append(asyncio.get_running_loop().create_task(self.eviction.run_forever()))
        gc = ImageGcManager(self.cri, GcPolicy(self.args.image_gc_high_threshold, self.args.image_gc_low_threshold,
                                               self.args.minimum_image_ttl_duration), self.node_event)
        self._tasks.append(asyncio.get_running_loop().create_task(gc.run_forever(self.args.image_gc_period)))

    async def _admit(self, pod: dict[str, Any], workers: PodWorkers) -> None:
        """Hand ``pod`` (its newest version) to its worker once the objects it uses are cached."""
        await self.objects.ensure(pod)
        meta = pod["metadata"]
        current = self.pods.get(meta["name"], meta["namespace"])
        if current is not None and current["metadata"].get("uid") == meta.get("uid"):
            workers.update(current)

    def _forget(self, loop: asyncio.AbstractEventLoop, uid: str, workers: PodWorkers) -> None:
        workers.remove(uid)
        self._spawn(loop, self.objects.release(uid))

    async def _static_pods_forever(self, directory: Path, workers: PodWorkers) -> None:
        """Run what the manifest directory holds, and keep a mirror pod in the API for each."""
        running: dict[str, dict[str, Any]] = {}
        while True:
            pods, errors = await asyncio.to_thread(read_manifests, directory, self.node_name)
            for error in errors:
                log.warning("bad static pod manifest", error=error)
            for uid, pod in pods.items():
                if uid not in running:
                    log.info("static pod", pod=pod["metadata"]["name"], uid=uid)
                    workers.update(pod)
            for uid in set(running) - set(pods):
                workers.remove(uid)
                await self._delete_mirror(running[uid])
            running = pods
            for pod in pods.values():
                await self._ensure_mirror(pod)
            await asyncio.sleep(self.args.file_check_frequency)

    async def _ensure_mirror(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        current = self.pods.get(meta["name"], meta["namespace"])
        want = meta["uid"]
        try:
            if current is not None:
                if ((current["metadata"].get("annotations") or {}).get(CONFIG_MIRROR) == want
                        and not current["metadata"].get("deletionTimestamp")):
                    return
                await self.rest.delete(PODS, meta["name"], meta["namespace"], grace_period_seconds=0)
            await self.rest.create(PODS, mirror_pod(pod, self.node_name, self.node_uid), meta["namespace"])
            worker = self.workers.workers.get(want) if self.workers is not None else None
            if worker is not None:
                worker.reported = None  # report the status again, now that there is somewhere to put it
                worker.wake()
        except (ApiError, ApiConnectionError) as err:
            log.warning("mirror pod not written", pod=f"{meta['namespace']}/{meta['name']}", error=str(err))

    async def _delete_mirror(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        with contextlib.suppress(NotFound):
            try:
                await self.rest.delete(PODS, meta["name"], meta["namespace"], grace_period_seconds=0)
            except (ApiError, ApiConnectionError) as err:
                log.warning("mirror pod not deleted", pod=f"{meta['namespace']}/{meta['name']}", error=str(err))

    async def _serve(self) -> None:
        if self.cri is None:
            raise RuntimeError("the kubelet server needs the runtime")
        args = self.args
        if args.tls_cert_file and args.tls_private_key_file:
            cert, key = args.tls_cert_file, args.tls_private_key_file
        else:
            cert, key = await asyncio.to_thread(self_signed, self.root / "pki", self.node_name, self.node_ip)
        auth = DelegatedAuth(self.rest, token_webhook=args.authentication_token_webhook,
                             authorize_webhook=args.authorization_mode == "Webhook", anonymous=args.anonymous_auth)
        node = self.node_name
        guard = auth.middleware(lambda request: kubelet_action(request.method, request.path, node))
        self.server = KubeletServer(lambda ns, name: self.pods.get(name, ns), self.cri, self.root, [guard],
                                    node_name=node)
        await self.server.start(args.address, args.port, serving_context(cert, key, args.client_ca_file))
        log.info("serving", address=f"{args.address}:{args.port}")

    async def remove_orphans(self) -> None:
        """Pods the runtime still holds but neither the API nor the manifests have (deleted while we were down)."""
        if self.cri is None:
            return
        known = {p["metadata"]["uid"] for p in self.pods.list()}
        if self.args.pod_manifest_path is not None:
            static, _ = await asyncio.to_thread(read_manifests, self.args.pod_manifest_path, self.node_name)
            known |= set(static)
        for uid, runtime in (await self.cri.all_pods()).items():
            if uid in known:
                continue
            log.info("removing orphaned pod", uid=uid)
            for sandbox in runtime.sandboxes:
                await self.cri.stop_sandbox(sandbox.id)
                await self.cri.remove_sandbox(sandbox.id)

    async def stop(self) -> None:
        """Stop every loop and the server; pods' containers are left running for the next kubelet."""
        for task in self._tasks:
            task.cancel()
        if self.server is not None:
            await self.server.stop()
        if self.workers is not None:
            await self.workers.stop()
        await self.factory.shutdown()
        await self.objects.stop()
        await self.events.flush()
        if self.cri is not None:
            await self.cri.close()


def cpu_manager(args: argparse.Namespace, root: Path, reserved: Reservations) -> CpuManager:
    """The CPU manager the flags ask for (raises CpuPolicyError or CheckpointError when it cannot start)."""
    cpus = online_cpus()
    if args.cpu_manager_policy == NONE:
        return CpuManager(NONE, root, cpus, frozenset())
    milli = sum(q.milli_value() for r in (reserved.system, reserved.kube) if (q := r.get("cpu")) is not None)
    return CpuManager(STATIC, root, cpus, reserved_cpus(cpus, args.reserved_cpus, milli))


def _last_known(pod: dict[str, Any] | DeletedFinalStateUnknown) -> dict[str, Any]:
    """A deleted pod, or the last state the cache knew when the deletion itself was missed."""
    return pod.obj if isinstance(pod, DeletedFinalStateUnknown) else pod


def _uid(pod: dict[str, Any] | DeletedFinalStateUnknown) -> str:
    return str(_last_known(pod)["metadata"]["uid"])


async def run(args: argparse.Namespace, stop: asyncio.Event) -> int:
    """Register, run pods until ``stop`` is set, then stop driving them (containers keep running)."""
    if args.bootstrap_kubeconfig is not None:
        node_name = args.hostname_override or socket.gethostname()
        joining = asyncio.create_task(bootstrap_in_child(Path(args.kubeconfig), args.bootstrap_kubeconfig,
                                                         args.cert_dir or Path(args.root_dir) / "pki", node_name,
                                                         args.verbosity))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({joining, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not joining.done():
            joining.cancel()
            return 0
        try:
            joining.result()
        except (BootstrapError, OSError) as err:
            log.error("TLS bootstrap failed", error=str(err))
            return 1
    config = Kubeconfig.load(args.kubeconfig).client_config()
    async with RestClient(config, user_agent=f"kubelet/{KUBERNETES_GIT_VERSION}") as rest:
        try:
            kubelets = [Kubelet(args, rest, name, cidr) for name, cidr in hollow_fleet(args)] if args.hollow else [
                Kubelet(args, rest)]
        except (CpuPolicyError, CheckpointError) as err:
            log.error("cannot start the CPU manager", error=str(err))
            return 1
        await asyncio.gather(*(k.start() for k in kubelets))
        for kubelet in kubelets:
            await kubelet.remove_orphans()
        await stop.wait()
        await asyncio.gather(*(k.stop() for k in kubelets))
    return 0


def hollow_fleet(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(node name, pod CIDR) for each hollow node this process plays."""
    base = args.hostname_override or socket.gethostname()
    if args.hollow_nodes <= 1:
        return [(base, args.pod_cidr)]
    subnets = ipaddress.ip_network(args.pod_cidr).subnets(new_prefix=24)
    try:
        return [(f"{base}-{i}", str(next(subnets))) for i in range(args.hollow_nodes)]
    except StopIteration:
        raise SystemExit(f"--pod-cidr {args.pod_cidr} has fewer than {args.hollow_nodes} /24s") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tinykube kubelet``."""
    flags = parser()
    args = flags.parse_args(argv)
    gc_problem = GcPolicy(args.image_gc_high_threshold, args.image_gc_low_threshold).problem()
    if gc_problem:
        flags.error(gc_problem)
    plog.configure("kubelet", args.verbosity)
    return serve(lambda stop: run(args, stop))
