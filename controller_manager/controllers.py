"""Wiring each reconcile core to the process: which informer events enqueue which keys, the work queue,
and the sync that reads the View, runs the core and hands its actions to the ``Executor``.

Every controller is built by one function here from a shared ``Context`` and registered in
``CONTROLLERS`` under its kube-controller-manager name, so ``--controllers`` selects them the
upstream way. State the cores take explicitly (expectations, the IPAM allocations in flight,
ReplicaSet write errors, the node-lifecycle zone limiter) lives in the closures built here.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from api import labels
from api.labels import Selector
from client.cache import DeletedFinalStateUnknown, split_key
from client.delegated_auth import ACCESS_REVIEWS
from client.discovery import Discovery
from client.errors import ClientError, NotFound
from client.events import EventRecorder
from client.informer import SharedInformer, SharedInformerFactory
from client.resources import UnknownResource
from client.rest import ResourceRef, RestClient
from client.workqueue import WorkQueue, default_controller_rate_limiter
from controller_manager import (
    clusterroleaggregation,
    cronjob,
    daemonset,
    deployment,
    disruption,
    endpoints,
    garbagecollector,
    hpa,
    job,
    legacy_tokens,
    namespace,
    nodeipam,
    nodelifecycle,
    provisioner,
    pvbinder,
    replicaset,
    resourcequota,
    serviceaccount,
    statefulset,
)
from controller_manager.actions import Action, Delete, Patch
from controller_manager.discovery import deletable_resources
from controller_manager.executor import ActionFailed, Executor
from controller_manager.expectations import Expectations
from controller_manager.ownership import controller_of
from controller_manager.triggers import label_selector, map_selector, owner_keys, service_keys
from controller_manager.view import (
    CERTIFICATE_SIGNING_REQUESTS,
    CONFIG_MAPS,
    CONTROLLER_REVISIONS,
    CRON_JOBS,
    CUSTOM_RESOURCE_DEFINITIONS,
    DAEMON_SETS,
    DEPLOYMENTS,
    ENDPOINT_SLICES,
    ENDPOINTS,
    HORIZONTAL_POD_AUTOSCALERS,
    JOBS,
    LEASES,
    NAMESPACES,
    NODES,
    PERSISTENT_VOLUME_CLAIMS,
    PERSISTENT_VOLUMES,
    POD_DISRUPTION_BUDGETS,
    PODS,
    REPLICA_SETS,
    REPLICATION_CONTROLLERS,
    RESOURCE_QUOTAS,
    SECRETS,
    SERVICE_ACCOUNTS,
    SERVICES,
    STATEFUL_SETS,
    STORAGE_CLASSES,
    InformerView,
    Obj,
    key_of,
    meta,
)
from process import log as process_log

log = process_log.get_logger("controller_manager")

OWNER_UID_INDEX = "ownerUID"
NODES_KEY = "nodes"
"""The single work-queue key of controllers that reconcile all Nodes in one pass."""
NAMESPACE_CACHE_SYNC_TIMEOUT: Final = 10.0
"""Seconds a namespace sync waits for a newly discovered resource's first list before retrying later."""


def owner_uids(obj: Obj) -> list[str]:
    """Index function: the uids an object's ownerReferences point at."""
    return [str(r["uid"]) for r in meta(obj).get("ownerReferences") or [] if r.get("uid")]


@dataclass
class Context:
    """What every controller shares: the client, the informers (and a View over them), the recorder."""

    rest: RestClient
    informers: dict[ResourceRef, SharedInformer]
    recorder: EventRecorder
    args: argparse.Namespace
    namespaced_resources: list[ResourceRef]
    """Namespaced, listable, deletable resources found by discovery (namespace deletion, GC)."""
    root_ca: str | None = None
    factory: SharedInformerFactory | None = None
    """Makes informers for resources found after start (CRDs the GC and namespace deletion must cover)."""
    view: InformerView = field(init=False)
    on_resource_gone: list[Callable[[ResourceRef], None]] = field(default_factory=list)
    """Called with each resource ``rediscover`` found no longer served, before its informer stops."""
    _served: set[tuple[str, str]] = field(init=False)

    def __post_init__(self) -> None:
        self.view = InformerView(self.informers)
        self._served = {(ref.group, ref.resource) for ref in self.namespaced_resources}

    def now(self) -> datetime:
        """Wall time for reconcile cores."""
        return self.rest.clock.wall().astimezone(UTC)

    def informer(self, ref: ResourceRef) -> SharedInformer:
        """The informer for ``ref`` (main created one for every resource a selected controller reads)."""
        return self.informers[ref]

    def add_informer(self, ref: ResourceRef) -> SharedInformer:
        """A running informer for a resource discovered after start, readable through the view."""
        if self.factory is None:
            raise RuntimeError("no informer factory to watch newly discovered resources with")
        inf = self.factory.informer(ref)
        self.informers[ref] = inf
        self.view.add(ref, inf)
        return inf

    def watched(self, ref: ResourceRef) -> SharedInformer:
        """The informer for ``ref``, started now if no controller has watched it yet."""
        return self.informers.get(ref) or self.add_informer(ref)

    async def rediscover(self) -> list[ResourceRef]:
        """Discovery's deletable resources now. Informers of resources an earlier discovery reported and
        this one does not (deleted CRDs) are stopped, every controller told first; others' reads never are."""
        found = await deletable_resources(self.rest)
        served = {(ref.group, ref.resource) for ref in found}
        gone = [ref for ref in self.informers
                if (ref.group, ref.resource) in self._served and (ref.group, ref.resource) not in served]
        self._served = served
        for ref in gone:
            log.info("stopped watching a resource no longer served", resource=ref.path(None))
            for forget in self.on_resource_gone:
                forget(ref)
            self.informers.pop(ref, None)
            self.view.remove(ref)
            if self.factory is not None:
                await self.factory.forget(ref)
        return found


@dataclass
class Controller:
    """One controller: its queue and the sync that processes one key."""

    name: str
    queue: WorkQueue[Any]
    sync: Callable[[Any], Awaitable[None]]
    workers: int = 1


Handler = Callable[[Obj], Iterable[Hashable]]


def _obj(o: Obj | DeletedFinalStateUnknown) -> Obj:
    if isinstance(o, DeletedFinalStateUnknown):
        last: Obj = o.obj
        return last
    return o


def watch(informer: SharedInformer, queue: WorkQueue[Any], keys: Handler, *,
          on_update: Callable[[Obj, Obj], Iterable[Hashable]] | None = None) -> None:
    """Enqueue ``keys(obj)`` on every add, update (old and new) and delete of ``informer``'s objects."""

    def add(o: Obj) -> None:
        for k in keys(o):
            queue.add(k)

    def update(old: Obj, new: Obj) -> None:
        found = list(on_update(old, new)) if on_update is not None else [*keys(old), *keys(new)]
        for k in dict.fromkeys(found):
            queue.add(k)

    def delete(o: Obj | DeletedFinalStateUnknown) -> None:
        add(_obj(o))

    informer.add_event_handler(on_add=add, on_update=update, on_delete=delete)


def _namespace_of(obj: Obj) -> str:
    return str(meta(obj).get("namespace") or "")


def own_key(o: Obj) -> list[str]:
    """The object's own key."""
    return [key_of(o)]


def _executor(ctx: Context, queue: WorkQueue[Any], expectations: Expectations | None = None) -> Executor:
    return Executor(ctx.rest, ctx.recorder, queue.add_after, expectations=expectations, now=ctx.now)


def _queue(name: str) -> WorkQueue[Any]:
    return WorkQueue(name, rate_limiter=default_controller_rate_limiter())


def observe_pods(ctx: Context, owner: ResourceRef, expectations: Expectations) -> None:
    """Lower ``owner``'s expectations when the pod informer shows a pod created or deleted."""

    def owner_key(pod: Obj) -> str | None:
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != owner.kind:
            return None
        return f"{meta(pod).get('namespace')}/{ref['name']}"

    def add(pod: Obj) -> None:
        k = owner_key(pod)
        if k is not None:
            if meta(pod).get("deletionTimestamp"):
                expectations.deletion_observed(k, key_of(pod))
            else:
                expectations.creation_observed(k)

    def update(old: Obj, new: Obj) -> None:
        k = owner_key(new)
        if k is not None and meta(new).get("deletionTimestamp") and not meta(old).get("deletionTimestamp"):
            expectations.deletion_observed(k, key_of(new))

    def delete(o: Obj | DeletedFinalStateUnknown) -> None:
        pod = _obj(o)
        k = owner_key(pod)
        if k is not None:
            expectations.deletion_observed(k, key_of(pod))

    ctx.informer(PODS).add_event_handler(on_add=add, on_update=update, on_delete=delete)


def _pod_owner_controller(ctx: Context, name: str, owner: ResourceRef, workers: int,
                          core: Callable[[str, Expectations, dict[str, str]], list[Action]], *,
                          selector_of: Callable[[Obj], Selector] = label_selector) -> Controller:
    """The shape ReplicaSet, Job, DaemonSet and StatefulSet share: owner events, pod events by owner, expectations."""
    queue = _queue(name)
    expectations = Expectations()
    write_errors: dict[str, str] = {}
    observe_pods(ctx, owner, expectations)
    watch(ctx.informer(owner), queue, own_key)
    watch(ctx.informer(PODS), queue, lambda pod: owner_keys(ctx.view, pod, owner, selector_of))
    executor = _executor(ctx, queue, expectations)

    async def sync(key: str) -> None:
        ns, obj_name = split_key(key)
        if ctx.view.get(owner, ns, obj_name) is None:
            expectations.forget(key)
            write_errors.pop(key, None)
            return
        try:
            await executor.execute(core(key, expectations, write_errors))
        except ActionFailed as exc:
            write_errors[key] = str(exc.cause)
            raise
        write_errors.pop(key, None)

    return Controller(name, queue, sync, workers)


def replicaset_controller(ctx: Context) -> Controller:
    """ReplicaSets keep spec.replicas pods."""
    def core(key: str, expectations: Expectations, errors: dict[str, str]) -> list[Action]:
        return replicaset.reconcile(ctx.view, replicaset.REPLICA_SET, key, ctx.now(), expectations,
                                    write_error=errors.get(key))
    return _pod_owner_controller(ctx, "replicaset", REPLICA_SETS, ctx.args.concurrent_replicaset_syncs, core)


def replicationcontroller_controller(ctx: Context) -> Controller:
    """ReplicationControllers keep spec.replicas pods (the ReplicaSet core, map selectors)."""
    def core(key: str, expectations: Expectations, errors: dict[str, str]) -> list[Action]:
        return replicaset.reconcile(ctx.view, replicaset.REPLICATION_CONTROLLER, key, ctx.now(), expectations,
                                    write_error=errors.get(key))
    return _pod_owner_controller(ctx, "replicationcontroller", REPLICATION_CONTROLLERS,
                                 ctx.args.concurrent_rc_syncs, core, selector_of=map_selector)


def job_controller(ctx: Context) -> Controller:
    """Jobs run pods to completion."""
    def core(key: str, expectations: Expectations, _errors: dict[str, str]) -> list[Action]:
        return job.reconcile(ctx.view, key, ctx.now(), expectations)
    return _pod_owner_controller(ctx, "job", JOBS, ctx.args.concurrent_job_syncs, core)


def daemonset_controller(ctx: Context) -> Controller:
    """DaemonSets run one pod per eligible Node."""
    def core(key: str, expectations: Expectations, _errors: dict[str, str]) -> list[Action]:
        return daemonset.reconcile(ctx.view, key, ctx.now(), expectations)
    c = _pod_owner_controller(ctx, "daemonset", DAEMON_SETS, ctx.args.concurrent_daemonset_syncs, core)
    watch(ctx.informer(NODES), c.queue, lambda _node: [key_of(ds) for ds in ctx.view.list(DAEMON_SETS)])
    return c


def statefulset_controller(ctx: Context) -> Controller:
    """StatefulSets run ordered, stably named pods."""
    def core(key: str, expectations: Expectations, _errors: dict[str, str]) -> list[Action]:
        return statefulset.reconcile(ctx.view, key, ctx.now(), expectations)
    return _pod_owner_controller(ctx, "statefulset", STATEFUL_SETS, ctx.args.concurrent_statefulset_syncs, core)


def deployment_controller(ctx: Context) -> Controller:
    """Deployments roll ReplicaSets."""
    queue = _queue("deployment")
    watch(ctx.informer(DEPLOYMENTS), queue, own_key)
    watch(ctx.informer(REPLICA_SETS), queue, lambda rs: owner_keys(ctx.view, rs, DEPLOYMENTS))

    def pod_deleted(o: Obj | DeletedFinalStateUnknown) -> None:
        # Recreate waits for old pods to be gone: their deletion concerns the Deployment owning their ReplicaSet
        pod = _obj(o)
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != REPLICA_SETS.kind:
            return
        rs = ctx.view.get(REPLICA_SETS, meta(pod).get("namespace"), ref["name"])
        if rs is not None:
            for k in owner_keys(ctx.view, rs, DEPLOYMENTS):
                queue.add(k)

    ctx.informer(PODS).add_event_handler(on_delete=pod_deleted)
    executor = _executor(ctx, queue)

    async def sync(key: str) -> None:
        await executor.execute(deployment.reconcile(ctx.view, key, ctx.now()))

    return Controller("deployment", queue, sync, ctx.args.concurrent_deployment_syncs)


def _service_of(obj: Obj) -> list[str]:
    ns = meta(obj).get("namespace")
    svc = (meta(obj).get("labels") or {}).get(endpoints.SERVICE_NAME)
    return [f"{ns}/{svc}"] if svc else []


def _service_controller(ctx: Context, name: str, owned: ResourceRef, owned_keys: Handler,
                        core: Callable[[str], list[Action]], *, workers: int) -> Controller:
    queue = _queue(name)
    watch(ctx.informer(SERVICES), queue, own_key)
    watch(ctx.informer(owned), queue, owned_keys)
    watch(ctx.informer(PODS), queue, lambda pod: service_keys(ctx.view, [pod]),
          on_update=lambda old, new: service_keys(ctx.view, [old, new]))
    executor = _executor(ctx, queue)

    async def sync(key: str) -> None:
        await executor.execute(core(key))

    return Controller(name, queue, sync, workers)


def endpoints_controller(ctx: Context) -> Controller:
    """Endpoints objects follow the ready pods of each Service."""
    return _service_controller(ctx, "endpoint", ENDPOINTS, own_key,
                               lambda key: endpoints.reconcile_endpoints(ctx.view, key),
                               workers=ctx.args.concurrent_endpoint_syncs)


def endpointslice_controller(ctx: Context) -> Controller:
    """EndpointSlices follow the pods of each Service."""
    return _service_controller(ctx, "endpointslice", ENDPOINT_SLICES, _service_of,
                               lambda key: endpoints.reconcile_slices(ctx.view, key),
                               workers=ctx.args.concurrent_service_endpoint_syncs)


def namespace_controller(ctx: Context) -> Controller:
    """Terminating namespaces are emptied, then finalized. What to empty comes from discovery at each
    sync, as upstream's deleter asks: resources added since start (CRDs) are watched from then on."""
    queue = _queue("namespace")
    watch(ctx.informer(NAMESPACES), queue, own_key)
    hooked: dict[ResourceRef, SharedInformer] = {}

    def content_gone(o: Obj | DeletedFinalStateUnknown) -> None:
        ns = meta(_obj(o)).get("namespace")
        if ns:
            queue.add(ns)

    def hook(ref: ResourceRef) -> SharedInformer:
        inf = ctx.watched(ref)
        if hooked.get(ref) is not inf:  # new, or a fresh informer after its CRD was deleted and made again
            inf.add_event_handler(on_delete=content_gone)
            hooked[ref] = inf
        return inf

    def unhook(ref: ResourceRef) -> None:
        hooked.pop(ref, None)

    for ref in ctx.namespaced_resources:
        hook(ref)
    ctx.on_resource_gone.append(unhook)
    executor = _executor(ctx, queue)

    async def sync(name: str) -> None:
        ns = ctx.view.get(NAMESPACES, None, name)
        if ns is None or meta(ns).get("deletionTimestamp") is None:
            return
        error = None
        try:
            resources = [ref for ref in await ctx.rediscover() if ref.namespaced]
        except ClientError as err:
            resources, error = list(hooked), str(err)
        unsynced = [ref.path(None) for ref in resources
                    if not await hook(ref).wait_for_sync(NAMESPACE_CACHE_SYNC_TIMEOUT)]
        if unsynced and error is None:
            error = f"no complete list yet of {', '.join(unsynced)}"
        await executor.execute(namespace.reconcile(ctx.view, name, resources, ctx.now(), error))

    return Controller("namespace", queue, sync, ctx.args.concurrent_namespace_syncs)


def serviceaccount_controller(ctx: Context) -> Controller:
    """Every active namespace has a ``default`` ServiceAccount."""
    queue = _queue("serviceaccount")
    watch(ctx.informer(NAMESPACES), queue, own_key)
    watch(ctx.informer(SERVICE_ACCOUNTS), queue, lambda sa: [_namespace_of(sa)])
    executor = _executor(ctx, queue)

    async def sync(ns: str) -> None:
        await executor.execute(serviceaccount.reconcile_service_accounts(ctx.view, ns))

    return Controller("serviceaccount", queue, sync, ctx.args.concurrent_serviceaccount_syncs)


def root_ca_controller(ctx: Context) -> Controller:
    """Every active namespace has the ``kube-root-ca.crt`` ConfigMap with the cluster CA."""
    ca = ctx.root_ca
    if ca is None:
        raise ValueError("root-ca-cert-publisher needs a CA: pass --root-ca-file or a kubeconfig with the cluster CA")
    queue = _queue("root-ca-cert-publisher")
    watch(ctx.informer(NAMESPACES), queue, own_key)
    watch(ctx.informer(CONFIG_MAPS), queue,
          lambda cm: [_namespace_of(cm)] if meta(cm).get("name") == serviceaccount.ROOT_CA_CONFIG_MAP else [])
    executor = _executor(ctx, queue)

    async def sync(ns: str) -> None:
        await executor.execute(serviceaccount.reconcile_root_ca(ctx.view, ns, ca))

    return Controller("root-ca-cert-publisher", queue, sync)


def clusterrole_aggregation_controller(ctx: Context) -> Controller:
    """ClusterRoles with an aggregationRule hold the rules of the ClusterRoles their selectors match."""
    queue = _queue("clusterrole-aggregation")
    roles = ctx.informer(clusterroleaggregation.CLUSTER_ROLES)
    watch(roles, queue, lambda _role: clusterroleaggregation.aggregating_roles(ctx.view))
    executor = _executor(ctx, queue)

    async def sync(name: str) -> None:
        await executor.execute(clusterroleaggregation.reconcile(ctx.view, name))

    return Controller("clusterrole-aggregation", queue, sync)


def nodeipam_controller(ctx: Context) -> Controller:
    """Nodes get a pod CIDR from ``--cluster-cidr`` (with ``--allocate-node-cidrs``)."""
    queue = _queue("nodeipam")
    in_flight: dict[str, str] = {}

    def node_changed(node: Obj) -> list[str]:
        if (node.get("spec") or {}).get("podCIDR"):
            in_flight.pop(meta(node)["name"], None)
        return [NODES_KEY] if ctx.args.allocate_node_cidrs else []

    def node_deleted(o: Obj | DeletedFinalStateUnknown) -> None:
        in_flight.pop(meta(_obj(o))["name"], None)
        queue.add(NODES_KEY)

    watch(ctx.informer(NODES), queue, node_changed)
    ctx.informer(NODES).add_event_handler(on_delete=node_deleted)
    executor = _executor(ctx, queue)

    async def sync(_key: str) -> None:
        if not ctx.args.allocate_node_cidrs:
            return
        actions = nodeipam.reconcile(ctx.view, ctx.args.cluster_cidr, ctx.args.node_cidr_mask_size, in_flight)
        sent = {a.name: a.patch["spec"]["podCIDR"] for a in actions if isinstance(a, Patch)}
        in_flight.update(sent)
        try:
            await executor.execute(actions)
        except ActionFailed as exc:
            applied = {a.name for a in actions[:exc.index] if isinstance(a, Patch)}
            for node_name in set(sent) - applied:
                in_flight.pop(node_name, None)
            raise

    return Controller("nodeipam", queue, sync)


def cronjob_controller(ctx: Context) -> Controller:
    """CronJobs create Jobs on schedule."""
    queue = _queue("cronjob")
    watch(ctx.informer(CRON_JOBS), queue, own_key)
    watch(ctx.informer(JOBS), queue, lambda j: owner_keys(ctx.view, j, CRON_JOBS))
    executor = _executor(ctx, queue)

    async def sync(key: str) -> None:
        await executor.execute(cronjob.reconcile(ctx.view, key, ctx.now()))

    return Controller("cronjob", queue, sync, ctx.args.concurrent_cron_job_syncs)


def ttl_after_finished_controller(ctx: Context) -> Controller:
    """Finished Jobs with ttlSecondsAfterFinished are deleted once it passed."""
    queue = _queue("ttl-after-finished")
    watch(ctx.informer(JOBS), queue, own_key)
    executor = _executor(ctx, queue)

    async def sync(key: str) -> None:
        await executor.execute(job.reconcile_ttl(ctx.view, key, ctx.now()))

    return Controller("ttl-after-finished", queue, sync)


def nodelifecycle_controller(ctx: Context) -> Controller:
    """Nodes whose kubelet stopped reporting are marked Unknown and tainted; their pods evicted."""
    queue = _queue("nodelifecycle")
    limiter = nodelifecycle.ZoneLimiter()
    grace = float(ctx.args.node_monitor_grace_period)
    settings = nodelifecycle.Settings(grace_period=timedelta(seconds=grace))
    period = float(ctx.args.node_monitor_period)

    def node_keys(node: Obj) -> list[str]:
        return [NODES_KEY, f"node/{meta(node)['name']}"]

    watch(ctx.informer(NODES), queue, node_keys)
    executor = _executor(ctx, queue)

    async def sync(key: str) -> None:
        if key == NODES_KEY:
            now = ctx.now()
            actions = [*nodelifecycle.reconcile_nodes(ctx.view, now, limiter, settings),
                       *nodelifecycle.reconcile_orphan_pods(ctx.view, now)]
            queue.add_after(NODES_KEY, period)
            await executor.execute(actions)
        else:
            await executor.execute(nodelifecycle.reconcile_pods_on_node(ctx.view, key.removeprefix("node/"),
                                                                        ctx.now()))

    return Controller("nodelifecycle", queue, sync)


def disruption_controller(ctx: Context) -> Controller:
    """PodDisruptionBudget status follows the pods it selects."""
    queue = _queue("disruption")
    watch(ctx.informer(POD_DISRUPTION_BUDGETS), queue, own_key)

    def budgets(pod: Obj) -> list[str]:
        pod_labels = meta(pod).get("labels")
        return [key_of(pdb) for pdb in ctx.view.list(POD_DISRUPTION_BUDGETS, _namespace_of(pod))
                if labels.from_label_selector((pdb.get("spec") or {}).get("selector")).matches(pod_labels)]

    watch(ctx.informer(PODS), queue, budgets)
    executor = _executor(ctx, queue)

    async def sync(key: str) -> None:
        await executor.execute(disruption.reconcile(ctx.view, key, ctx.now()))

    return Controller("disruption", queue, sync)


QUOTA_COUNTED: tuple[ResourceRef, ...] = (PODS, SERVICES, SECRETS, CONFIG_MAPS, PERSISTENT_VOLUME_CLAIMS,
                                          REPLICATION_CONTROLLERS)


def resourcequota_controller(ctx: Context) -> Controller:
    """ResourceQuota status.used is recomputed when anything it counts changes."""
    queue = _queue("resourcequota")
    watch(ctx.informer(RESOURCE_QUOTAS), queue, own_key)
    for ref in QUOTA_COUNTED:
        watch(ctx.informer(ref), queue,
              lambda obj: [key_of(q) for q in ctx.view.list(RESOURCE_QUOTAS, _namespace_of(obj))])
    executor = _executor(ctx, queue)

    async def sync(key: str) -> None:
        await executor.execute(resourcequota.reconcile(ctx.view, key))

    return Controller("resourcequota", queue, sync, ctx.args.concurrent_resource_quota_syncs)


def serviceaccount_token_controller(ctx: Context) -> Controller:
    """Legacy token Secrets get a signed token (with ``--service-account-private-key-file``), the CA and
    the namespace; those of deleted ServiceAccounts are deleted."""
    key_file = ctx.args.service_account_private_key_file
    signer = legacy_tokens.TokenSigner.from_pem(Path(key_file).read_bytes()) if key_file else None
    queue = _queue("serviceaccount-token")
    watch(ctx.informer(SECRETS), queue,
          lambda secret: [key_of(secret)] if secret.get("type") == serviceaccount.TOKEN_SECRET_TYPE else [])

    def account_secrets(o: Obj | DeletedFinalStateUnknown) -> None:
        sa = _obj(o)
        for secret in ctx.view.list(SECRETS, _namespace_of(sa)):
            if (meta(secret).get("annotations") or {}).get(serviceaccount.SA_NAME_ANNOTATION) == meta(sa)["name"]:
                queue.add(key_of(secret))

    ctx.informer(SERVICE_ACCOUNTS).add_event_handler(on_add=account_secrets, on_delete=account_secrets)
    executor = _executor(ctx, queue)

    async def sync(key: str) -> None:
        ns, name = split_key(key)
        actions = serviceaccount.reconcile_token_secret(ctx.view, ns or "", name,
                                                        signer.sign if signer else None, ctx.root_ca)
        if any(isinstance(a, Delete) for a in actions) and await _account_just_created(ctx, ns or "", name):
            queue.add_after(key, 1.0)  # the informer has not seen the new ServiceAccount yet: look again
            return
        await executor.execute(actions)

    return Controller("serviceaccount-token", queue, sync)


async def _account_just_created(ctx: Context, namespace: str, secret_name: str) -> bool:
    """Whether the account a token Secret names exists live though the cache lacks it (as upstream's
    fetch on cache miss), so a Secret created right after its account is not deleted."""
    secret = ctx.view.get(SECRETS, namespace, secret_name)
    ann = (meta(secret).get("annotations") or {}) if secret is not None else {}
    account = ann.get(serviceaccount.SA_NAME_ANNOTATION)
    if not account or ctx.view.get(SERVICE_ACCOUNTS, namespace, account) is not None:
        return False
    try:
        live = await ctx.rest.get(SERVICE_ACCOUNTS, account, namespace)
    except NotFound:
        return False
    return ann.get(serviceaccount.SA_UID_ANNOTATION) in (None, meta(live).get("uid"))


PODS_METRICS: Final = "/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods"
SCALE_TARGETS: Final = (DEPLOYMENTS, REPLICA_SETS, STATEFUL_SETS, REPLICATION_CONTROLLERS)


def horizontal_pod_autoscaler_controller(ctx: Context) -> Controller:
    """HorizontalPodAutoscalers scale their target on the CPU usage metrics.k8s.io reports for its pods."""
    queue = _queue("horizontalpodautoscaling")
    history: dict[str, list[hpa.Recommendation]] = {}
    known = {(ref.api_version, ref.kind): ref for ref in SCALE_TARGETS}
    discovery = Discovery(ctx.rest)
    watch(ctx.informer(HORIZONTAL_POD_AUTOSCALERS), queue, own_key)
    executor = _executor(ctx, queue)

    async def target_of(spec_ref: Obj) -> ResourceRef | None:
        """The resource of scaleTargetRef, watched from now on if it is none of the built-in workloads."""
        api_version, kind = str(spec_ref.get("apiVersion", "")), str(spec_ref.get("kind", ""))
        ref = known.get((api_version, kind))
        if ref is None:
            try:
                ref = await discovery.ref_for_kind(api_version, kind)
            except UnknownResource:
                return None
            known[(api_version, kind)] = ref
            if ref not in ctx.informers:
                await ctx.add_informer(ref).wait_for_sync()
        return ref

    async def cpu_usage(namespace: str, target: Obj | None) -> tuple[dict[str, int], str | None]:
        selector = ((target or {}).get("spec") or {}).get("selector")
        if not selector:
            return {}, None  # the core reports the missing selector itself
        if "matchLabels" not in selector and "matchExpressions" not in selector:
            selector = {"matchLabels": selector}  # a ReplicationController's map selector
        try:
            found = await ctx.rest.request("GET", PODS_METRICS.format(namespace=namespace),
                                           params={"labelSelector": str(labels.from_label_selector(selector))})
        except ClientError as exc:
            return {}, f"unable to fetch metrics from resource metrics API: {exc}"
        return hpa.pod_cpu_milli(found or {}), None

    async def sync(key: str) -> None:
        ns, name = split_key(key)
        obj = ctx.view.get(HORIZONTAL_POD_AUTOSCALERS, ns, name)
        if obj is None:
            history.pop(key, None)
            return
        spec_ref = (obj.get("spec") or {}).get("scaleTargetRef") or {}
        target_ref = await target_of(spec_ref)
        target = ctx.view.get(target_ref, ns, str(spec_ref.get("name", ""))) if target_ref else None
        usage, error = await cpu_usage(ns or "", target)
        result = hpa.reconcile(ctx.view, key, target_ref, usage, ctx.now(), history=history.get(key, ()),
                               metrics_error=error)
        history[key] = result.recommendations
        await executor.execute(result.actions)

    return Controller("horizontalpodautoscaling", queue, sync, ctx.args.concurrent_horizontal_pod_autoscaler_syncs)


def persistentvolume_binder_controller(ctx: Context) -> Controller:
    """Claims are bound to volumes, and released volumes reclaimed (keys ``claim:ns/name``, ``volume:name``)."""
    queue = _queue("persistentvolume-binder")

    def claim_keys(pvc: Obj) -> list[str]:
        volume = (pvc.get("spec") or {}).get("volumeName")
        return [f"claim:{key_of(pvc)}", *([f"volume:{volume}"] if volume else [])]

    def volume_keys(pv: Obj) -> list[str]:
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        claim = [f"claim:{ref['namespace']}/{ref['name']}"] if ref.get("namespace") and ref.get("name") else []
        unbound = [f"claim:{key_of(c)}" for c in ctx.view.list(PERSISTENT_VOLUME_CLAIMS)
                   if not (c.get("spec") or {}).get("volumeName")]
        return [f"volume:{meta(pv)['name']}", *claim, *unbound]

    watch(ctx.informer(PERSISTENT_VOLUME_CLAIMS), queue, claim_keys)
    watch(ctx.informer(PERSISTENT_VOLUMES), queue, volume_keys)
    executor = _executor(ctx, queue)

    async def sync(key: str) -> None:
        kind, _, rest = key.partition(":")
        actions = pvbinder.reconcile_claim(ctx.view, rest) if kind == "claim" else \
            pvbinder.reconcile_volume(ctx.view, rest)
        await executor.execute(actions)

    return Controller("persistentvolume-binder", queue, sync)


def provisioner_controller(ctx: Context) -> Controller:
    """Claims handed to the local-path provisioner get a hostPath PersistentVolume."""
    queue = _queue("local-path-provisioner")
    watch(ctx.informer(PERSISTENT_VOLUME_CLAIMS), queue, own_key)
    executor = _executor(ctx, queue)

    async def sync(key: str) -> None:
        await executor.execute(provisioner.reconcile(ctx.view, key))

    return Controller("local-path-provisioner", queue, sync)


GcKey = tuple[ResourceRef, str | None, str]
GC_RESYNC: Final = "resync-monitors"
"""The garbage collector's queue key that re-reads discovery and watches resources that appeared."""
GC_RESYNC_PERIOD: Final = 30.0
"""Seconds between discovery re-reads without a CRD event (upstream's GC resyncs every 30 s)."""


def garbagecollector_controller(ctx: Context) -> Controller:
    """Dependents whose owners are gone are deleted; orphan and foreground deletion are carried out.
    Resources that appear later (CRDs) get monitors on CRD events and every ``GC_RESYNC_PERIOD``; those
    discovery no longer reports (deleted CRDs) lose theirs, informer and all."""
    queue = _queue("garbagecollector")
    monitored = dict(ctx.informers)
    kinds: dict[tuple[str, str], ResourceRef] = {(ref.api_version, ref.kind): ref for ref in monitored}

    def gc_key(ref: ResourceRef, obj: Obj) -> GcKey:
        return (ref, meta(obj).get("namespace") if ref.namespaced else None, str(meta(obj)["name"]))

    def dependents_of(uid: str) -> list[GcKey]:
        out: list[GcKey] = []
        for ref, inf in monitored.items():
            out += [gc_key(ref, d) for d in inf.indexer.by_index(OWNER_UID_INDEX, uid)]
        return out

    def owners_of(obj: Obj) -> list[GcKey]:
        out: list[GcKey] = []
        for r in meta(obj).get("ownerReferences") or []:
            ref = kinds.get((r.get("apiVersion", ""), r.get("kind", "")))
            if ref is not None:
                out.append((ref, meta(obj).get("namespace") if ref.namespaced else None, str(r.get("name", ""))))
        return out

    def monitor(ref: ResourceRef, inf: SharedInformer) -> None:
        monitored[ref] = inf
        kinds[(ref.api_version, ref.kind)] = ref
        inf.add_indexers({OWNER_UID_INDEX: owner_uids})

        def changed(obj: Obj) -> None:
            m = meta(obj)
            if m.get("ownerReferences") or (m.get("deletionTimestamp") and m.get("finalizers")):
                queue.add(gc_key(ref, obj))
            if m.get("deletionTimestamp"):
                for k in dependents_of(str(m.get("uid", ""))):
                    queue.add(k)

        def updated(_old: Obj, new: Obj) -> None:
            changed(new)

        def deleted(o: Obj | DeletedFinalStateUnknown) -> None:
            obj = _obj(o)
            for k in [*dependents_of(str(meta(obj).get("uid", ""))), *owners_of(obj)]:
                queue.add(k)

        inf.add_event_handler(on_add=changed, on_update=updated, on_delete=deleted)

    for ref, inf in list(monitored.items()):
        monitor(ref, inf)
    watch(ctx.informer(CUSTOM_RESOURCE_DEFINITIONS), queue, lambda _crd: [GC_RESYNC])
    queue.add(GC_RESYNC)  # the first pass, once the caches are synced, adds the cluster-scoped resources
    executor = _executor(ctx, queue)

    def unmonitor(ref: ResourceRef) -> None:
        monitored.pop(ref, None)
        if kinds.get((ref.api_version, ref.kind)) == ref:
            del kinds[(ref.api_version, ref.kind)]

    ctx.on_resource_gone.append(unmonitor)

    async def resync_monitors() -> None:
        try:
            found = await ctx.rediscover()
        finally:
            queue.add_after(GC_RESYNC, GC_RESYNC_PERIOD)
        added = {(ref.api_version, ref.kind) for ref in found
                 if ref not in monitored and (ref.api_version, ref.kind) not in kinds}
        for ref in found:
            if (ref.api_version, ref.kind) in added:
                log.info("garbage collector monitors a new resource", resource=ref.path(None))
                monitor(ref, ctx.add_informer(ref))
        if not added:
            return
        # Objects already seen whose owner was of a kind unknown until now were left alone: look again.
        for ref, inf in list(monitored.items()):
            for obj in inf.indexer.list():
                if any((r.get("apiVersion"), r.get("kind")) in added for r in meta(obj).get("ownerReferences") or []):
                    queue.add(gc_key(ref, obj))

    async def sync(key: GcKey | str) -> None:
        if isinstance(key, str):  # GC_RESYNC, the only key that is not an object's
            await resync_monitors()
            return
        ref, ns, name = key
        await executor.execute(garbagecollector.reconcile(ctx.view, kinds, ref, ns, name))

    return Controller("garbagecollector", queue, sync, ctx.args.concurrent_gc_syncs)


def csrsigning_controller(ctx: Context) -> Controller:
    """Approved kubelet CSRs get a certificate from the CA of ``--cluster-signing-cert-file``/``-key-file``."""
    # The CSR controllers' modules load cryptography (~7 MiB): only in the leader, which runs them.
    from controller_manager import csrsigning  # noqa: PLC0415

    args = ctx.args
    if not (args.cluster_signing_cert_file and args.cluster_signing_key_file):
        raise ValueError("csrsigning needs --cluster-signing-cert-file and --cluster-signing-key-file")
    ca = csrsigning.SigningCA.from_pem(Path(args.cluster_signing_cert_file).read_bytes(),
                                       Path(args.cluster_signing_key_file).read_bytes())
    lifetime = timedelta(seconds=args.cluster_signing_duration)
    queue = _queue("csrsigning")
    watch(ctx.informer(CERTIFICATE_SIGNING_REQUESTS), queue, own_key)
    executor = _executor(ctx, queue)

    async def sync(name: str) -> None:
        csr = ctx.view.get(CERTIFICATE_SIGNING_REQUESTS, None, name)
        await executor.execute(csrsigning.reconcile(csr, ca, ctx.now(), lifetime))

    return Controller("csrsigning", queue, sync)


def csrapproving_controller(ctx: Context) -> Controller:
    """Kubelet client CSRs are approved when a SubjectAccessReview allows their requester to ask."""
    from controller_manager import csrapproving  # noqa: PLC0415  # cryptography: see csrsigning_controller

    queue = _queue("csrapproving")
    watch(ctx.informer(CERTIFICATE_SIGNING_REQUESTS), queue, own_key)
    executor = _executor(ctx, queue)

    async def sync(name: str) -> None:
        csr = ctx.view.get(CERTIFICATE_SIGNING_REQUESTS, None, name)
        review = csrapproving.review_for(csr)
        if csr is None or review is None:
            return
        answer = await ctx.rest.request("POST", ACCESS_REVIEWS, body={
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": review})
        if ((answer or {}).get("status") or {}).get("allowed"):
            await executor.execute(csrapproving.approve(csr, ctx.now()))

    return Controller("csrapproving", queue, sync)


@dataclass(frozen=True)
class Spec:
    """A controller's build function and the resources it reads (informers main must create)."""

    build: Callable[[Context], Controller]
    reads: tuple[ResourceRef, ...]
    all_namespaced: bool = False
    """Whether it also reads every namespaced resource discovery reports."""


CONTROLLERS: dict[str, Spec] = {
    "replicaset": Spec(replicaset_controller, (REPLICA_SETS, PODS)),
    "csrsigning": Spec(csrsigning_controller, (CERTIFICATE_SIGNING_REQUESTS,)),
    "csrapproving": Spec(csrapproving_controller, (CERTIFICATE_SIGNING_REQUESTS,)),
    "deployment": Spec(deployment_controller, (DEPLOYMENTS, REPLICA_SETS, PODS)),
    "endpoint": Spec(endpoints_controller, (SERVICES, ENDPOINTS, PODS, NODES)),
    "endpointslice": Spec(endpointslice_controller, (SERVICES, ENDPOINT_SLICES, PODS, NODES)),
    "namespace": Spec(namespace_controller, (NAMESPACES,), all_namespaced=True),
    "garbagecollector": Spec(garbagecollector_controller, (NAMESPACES, NODES, CUSTOM_RESOURCE_DEFINITIONS),
                             all_namespaced=True),
    "serviceaccount": Spec(serviceaccount_controller, (NAMESPACES, SERVICE_ACCOUNTS)),
    "root-ca-cert-publisher": Spec(root_ca_controller, (NAMESPACES, CONFIG_MAPS)),
    "clusterrole-aggregation": Spec(clusterrole_aggregation_controller, (clusterroleaggregation.CLUSTER_ROLES,)),
    "nodeipam": Spec(nodeipam_controller, (NODES,)),
    "replicationcontroller": Spec(replicationcontroller_controller, (REPLICATION_CONTROLLERS, PODS)),
    "job": Spec(job_controller, (JOBS, PODS)),
    "cronjob": Spec(cronjob_controller, (CRON_JOBS, JOBS, PODS)),
    "ttl-after-finished": Spec(ttl_after_finished_controller, (JOBS, PODS)),
    "daemonset": Spec(daemonset_controller, (DAEMON_SETS, PODS, NODES, CONTROLLER_REVISIONS)),
    "statefulset": Spec(statefulset_controller, (STATEFUL_SETS, PODS, CONTROLLER_REVISIONS,
                                                 PERSISTENT_VOLUME_CLAIMS)),
    "nodelifecycle": Spec(nodelifecycle_controller, (NODES, PODS, LEASES)),
    "disruption": Spec(disruption_controller, (POD_DISRUPTION_BUDGETS, PODS, REPLICA_SETS, DEPLOYMENTS,
                                               REPLICATION_CONTROLLERS, STATEFUL_SETS)),
    "resourcequota": Spec(resourcequota_controller, (RESOURCE_QUOTAS, *QUOTA_COUNTED)),
    "serviceaccount-token": Spec(serviceaccount_token_controller, (SECRETS, SERVICE_ACCOUNTS)),
    "horizontalpodautoscaling": Spec(horizontal_pod_autoscaler_controller,
                                     (HORIZONTAL_POD_AUTOSCALERS, PODS, *SCALE_TARGETS)),
    "persistentvolume-binder": Spec(persistentvolume_binder_controller,
                                    (PERSISTENT_VOLUME_CLAIMS, PERSISTENT_VOLUMES, STORAGE_CLASSES)),
    "local-path-provisioner": Spec(provisioner_controller,
                                   (PERSISTENT_VOLUME_CLAIMS, PERSISTENT_VOLUMES, STORAGE_CLASSES)),
}


def selected(flag: Iterable[str]) -> list[str]:
    """Controller names enabled by ``--controllers`` (``*``, ``name``, ``-name``, as kube-controller-manager)."""
    items = [s.strip() for s in flag if s.strip()]
    unknown = [s for s in items if s.lstrip("-") not in CONTROLLERS and s != "*"]
    if unknown:
        raise ValueError(f"unknown controllers {', '.join(unknown)}; known: {', '.join(sorted(CONTROLLERS))}")
    star = "*" in items
    out = []
    for name in CONTROLLERS:
        if name in items:
            out.append(name)
        elif f"-{name}" in items:
            continue
        elif star:
            out.append(name)
    return out
