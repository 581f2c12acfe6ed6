"""kubectl's table columns for each built-in kind, computed from the object (kubectl prints cells verbatim)."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from api import labels, tables
from api.schema import JSON, Column
from api.tables import AGE, NAME, since

NONE: Final = "<none>"


def _get(obj: JSON, *path: str | int) -> JSON:
    cur = obj
    for p in path:
        if isinstance(p, int):
            if not isinstance(cur, list) or len(cur) <= p:
                return None
            cur = cur[p]
        else:
            if not isinstance(cur, dict):
                return None
            cur = cur.get(p)
    return cur


def _join(values: list[str] | None, empty: str = NONE) -> str:
    return ",".join(values) if values else empty


def _containers(spec_path: tuple[str, ...]) -> tuple[Column, Column]:
    def names(o: JSON, now: datetime) -> str:
        return _join([c.get("name", "") for c in _get(o, *spec_path, "containers") or []])

    def images(o: JSON, now: datetime) -> str:
        return _join([c.get("image", "") for c in _get(o, *spec_path, "containers") or []])

    return (
        Column("Containers", names, description="Names of each container in the template.", priority=1),
        Column("Images", images, description="Images referenced by each container in the template.", priority=1),
    )


def _selector_column(path: tuple[str, ...] = ("spec", "selector")) -> Column:
    return Column(
        "Selector",
        lambda o, now: labels.format_label_selector(_get(o, *path)) if _get(o, *path) is not None else NONE,
        description="The label selector of the workload.",
        priority=1,
    )


def _int(path: tuple[str, ...], name: str, description: str = "", default: int = 0) -> Column:
    return Column(name, lambda o, now: _get(o, *path) or default, type="integer", description=description)


# --- pods ---


def _restartable_init(pod: JSON) -> set[str]:
    return {c.get("name") for c in _get(pod, "spec", "initContainers") or [] if c.get("restartPolicy") == "Always"}


def pod_ready(pod: JSON, now: datetime) -> str:
    """READY: ready containers (sidecars included) over all of them."""
    sidecars = _restartable_init(pod)
    total = len(_get(pod, "spec", "containers") or []) + len(sidecars)
    ready = sum(1 for s in _get(pod, "status", "containerStatuses") or [] if s.get("ready"))
    ready += sum(
        1 for s in _get(pod, "status", "initContainerStatuses") or [] if s.get("name") in sidecars and s.get("ready")
    )
    return f"{ready}/{total}"


def pod_status(pod: JSON, now: datetime) -> str:
    """The STATUS column: the most telling reason among phase, init and container states."""
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or ""
    sidecars = _restartable_init(pod)
    init_specs = _get(pod, "spec", "initContainers") or []
    initializing = False
    for i, s in enumerate(status.get("initContainerStatuses") or []):
        state = s.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if term and term.get("exitCode", 0) == 0:
            continue
        if s.get("name") in sidecars and s.get("started"):
            continue
        if term:
            if term.get("reason"):
                reason = "Init:" + term["reason"]
            elif term.get("signal"):
                reason = f"Init:Signal:{term['signal']}"
            else:
                reason = f"Init:ExitCode:{term.get('exitCode', 0)}"
        elif wait and wait.get("reason") and wait["reason"] != "PodInitializing":
            reason = "Init:" + wait["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break
    if not initializing:
        has_running = False
        for s in reversed(status.get("containerStatuses") or []):
            state = s.get("state") or {}
            wait, term = state.get("waiting"), state.get("terminated")
            if wait and wait.get("reason"):
                reason = wait["reason"]
            elif term and term.get("reason"):
                reason = term["reason"]
            elif term and term.get("signal"):
                reason = f"Signal:{term['signal']}"
            elif term:
                reason = f"ExitCode:{term.get('exitCode', 0)}"
            elif state.get("running") and s.get("ready"):
                has_running = True
        if reason == "Completed" and has_running:
            ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
            reason = "Running" if ready else "NotReady"
    if _get(pod, "metadata", "deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return reason


def pod_restarts(pod: JSON, now: datetime) -> str:
    """RESTARTS with the age of the last restart, as kubectl shows it."""
    count = 0
    last: str | None = None
    statuses = (_get(pod, "status", "containerStatuses") or []) + (_get(pod, "status", "initContainerStatuses") or [])
    for s in statuses:
        count += int(s.get("restartCount") or 0)
        finished = _get(s, "lastState", "terminated", "finishedAt")
        if finished and (last is None or finished > last):
            last = finished
    if last and count:
        return f"{count} ({since(last, now)} ago)"
    return str(count)


def _readiness_gates(pod: JSON, now: datetime) -> str:
    gates = _get(pod, "spec", "readinessGates") or []
    if not gates:
        return NONE
    conds = {c.get("type"): c.get("status") for c in _get(pod, "status", "conditions") or []}
    ready = sum(1 for g in gates if conds.get(g.get("conditionType")) == "True")
    return f"{ready}/{len(gates)}"


POD: Final = (
    NAME,
    Column("Ready", pod_ready, description="The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", pod_status, description="The aggregate status of the containers in this pod."),
    Column("Restarts", pod_restarts, description="The number of times the containers in this pod have been restarted."),
    AGE,
    Column(
        "IP",
        lambda o, now: _get(o, "status", "podIP") or NONE,
        description="IP address allocated to the pod.",
        priority=1,
    ),
    Column("Node", lambda o, now: _get(o, "spec", "nodeName") or NONE, description="Name of the Node.", priority=1),
    Column(
        "Nominated Node",
        lambda o, now: _get(o, "status", "nominatedNodeName") or NONE,
        description="Name of the nominated node.",
        priority=1,
    ),
    Column("Readiness Gates", _readiness_gates, description="Pod readiness gates.", priority=1),
)

POD_TEMPLATE: Final = (
    NAME,
    *_containers(("template", "spec")),
    Column(
        "Pod Labels",
        lambda o, now: _labels_text(_get(o, "template", "metadata", "labels")),
        description="The labels of the pod template.",
    ),
)


def _labels_text(value: JSON) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((value or {}).items())) or NONE


# --- workloads ---

DEPLOYMENT: Final = (
    NAME,
    Column(
        "Ready",
        lambda o, now: f"{_get(o, 'status', 'readyReplicas') or 0}/{_get(o, 'spec', 'replicas') or 0}",
        description="Number of the pod with ready state",
    ),
    _int(
        ("status", "updatedReplicas"),
        "Up-to-date",
        "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
    ),
    _int(("status", "availableReplicas"), "Available", "Total number of available pods."),
    AGE,
    *_containers(("spec", "template", "spec")),
    _selector_column(),
)

REPLICA_SET: Final = (
    NAME,
    _int(("spec", "replicas"), "Desired", "Number of desired pods."),
    _int(("status", "replicas"), "Current", "Number of actually running pods."),
    _int(("status", "readyReplicas"), "Ready", "Number of pods with ready state."),
    AGE,
    *_containers(("spec", "template", "spec")),
    _selector_column(),
)


def _rc_selector(o: JSON, now: datetime) -> str:
    return _labels_text(_get(o, "spec", "selector"))


REPLICATION_CONTROLLER: Final = (
    *REPLICA_SET[:-1],
    Column("Selector", _rc_selector, description="The label selector.", priority=1),
)

STATEFUL_SET: Final = (
    NAME,
    Column(
        "Ready",
        lambda o, now: f"{_get(o, 'status', 'readyReplicas') or 0}/{_get(o, 'spec', 'replicas') or 0}",
        description="Number of the pod with ready state",
    ),
    AGE,
    *_containers(("spec", "template", "spec")),
)

DAEMON_SET: Final = (
    NAME,
    _int(("status", "desiredNumberScheduled"), "Desired", "The desired number of daemon pods."),
    _int(("status", "currentNumberScheduled"), "Current", "The number of nodes running a daemon pod."),
    _int(("status", "numberReady"), "Ready", "The number of nodes running a ready daemon pod."),
    _int(("status", "updatedNumberScheduled"), "Up-to-date", "The number of nodes running the updated daemon pod."),
    _int(("status", "numberAvailable"), "Available", "The number of nodes running an available daemon pod."),
    Column(
        "Node Selector",
        lambda o, now: _labels_text(_get(o, "spec", "template", "spec", "nodeSelector")),
        description="The node selector of the daemon set.",
    ),
    AGE,
    *_containers(("spec", "template", "spec")),
    _selector_column(),
)


def _job_status(o: JSON, now: datetime) -> str:
    conds = {c.get("type"): c.get("status") for c in _get(o, "status", "conditions") or []}
    for cond, text in (
        ("Failed", "Failed"),
        ("Complete", "Complete"),
        ("Suspended", "Suspended"),
        ("FailureTarget", "FailureTarget"),
        ("SuccessCriteriaMet", "SuccessCriteriaMet"),
    ):
        if conds.get(cond) == "True":
            return text
    if _get(o, "metadata", "deletionTimestamp"):
        return "Terminating"
    return "Running"


def _job_completions(o: JSON, now: datetime) -> str:
    succeeded = _get(o, "status", "succeeded") or 0
    completions = _get(o, "spec", "completions")
    if completions is not None:
        return f"{succeeded}/{completions}"
    parallelism = _get(o, "spec", "parallelism") or 0
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def _job_duration(o: JSON, now: datetime) -> str:
    start = tables.parse_time(_get(o, "status", "startTime"))
    if start is None:
        return ""
    end = tables.parse_time(_get(o, "status", "completionTime")) or now
    return tables.human_duration((end - start).total_seconds())


JOB: Final = (
    NAME,
    Column("Status", _job_status, description="Status of the job."),
    Column("Completions", _job_completions, description="The desired number of successfully finished pods."),
    Column("Duration", _job_duration, description="Time required to complete the job."),
    AGE,
    *_containers(("spec", "template", "spec")),
    _selector_column(),
)

CRON_JOB: Final = (
    NAME,
    Column("Schedule", lambda o, now: _get(o, "spec", "schedule") or "", description="The schedule."),
    Column("Timezone", lambda o, now: _get(o, "spec", "timeZone") or NONE, description="The time zone."),
    Column(
        "Suspend",
        lambda o, now: "True" if _get(o, "spec", "suspend") else "False",
        type="boolean",
        description="Whether the cron job is suspended.",
    ),
    Column(
        "Active",
        lambda o, now: len(_get(o, "status", "active") or []),
        type="integer",
        description="The number of active jobs.",
    ),
    Column(
        "Last Schedule",
        lambda o, now: (
            since(_get(o, "status", "lastScheduleTime"), now) if _get(o, "status", "lastScheduleTime") else NONE
        ),
        description="When the job was last scheduled.",
    ),
    AGE,
    *_containers(("spec", "jobTemplate", "spec", "template", "spec")),
    _selector_column(("spec", "jobTemplate", "spec", "selector")),
)

# --- services and networking ---


def _service_external_ip(o: JSON, now: datetime) -> str:
    svc_type = _get(o, "spec", "type") or "ClusterIP"
    external = list(_get(o, "spec", "externalIPs") or [])
    if svc_type == "ExternalName":
        return str(_get(o, "spec", "externalName") or NONE)
    if svc_type == "LoadBalancer":
        ingress = [i.get("ip") or i.get("hostname") or "" for i in _get(o, "status", "loadBalancer", "ingress") or []]
        combined = [x for x in ingress + external if x]
        return ",".join(combined) if combined else "<pending>"
    return ",".join(external) if external else NONE


def _service_ports(o: JSON, now: datetime) -> str:
    parts = []
    for p in _get(o, "spec", "ports") or []:
        text = f"{p.get('port')}"
        if p.get("nodePort"):
            text += f":{p['nodePort']}"
        parts.append(f"{text}/{p.get('protocol', 'TCP')}")
    return ",".join(parts) if parts else NONE


SERVICE: Final = (
    NAME,
    Column("Type", lambda o, now: _get(o, "spec", "type") or "ClusterIP", description="The type of the service."),
    Column("Cluster-IP", lambda o, now: _get(o, "spec", "clusterIP") or NONE, description="The cluster IP."),
    Column("External-IP", _service_external_ip, description="The external IPs."),
    Column("Port(s)", _service_ports, description="The ports of the service."),
    AGE,
    Column(
        "Selector", lambda o, now: _labels_text(_get(o, "spec", "selector")), description="The selector.", priority=1
    ),
)


def _endpoints(o: JSON, now: datetime) -> str:
    out: list[str] = []
    for subset in _get(o, "subsets") or []:
        ports = subset.get("ports") or [{}]
        for addr in subset.get("addresses") or []:
            for port in ports:
                out.append(f"{addr.get('ip')}:{port['port']}" if "port" in port else str(addr.get("ip")))
    if not out:
        return NONE
    shown = ",".join(out[:3])
    return shown + (f" + {len(out) - 3} more..." if len(out) > 3 else "")


ENDPOINTS: Final = (NAME, Column("Endpoints", _endpoints, description="The endpoints."), AGE)


def _slice_ports(o: JSON, now: datetime) -> str:
    ports = [str(p.get("port")) for p in _get(o, "ports") or [] if p.get("port") is not None]
    return ",".join(ports) if ports else "<unset>"


def _slice_endpoints(o: JSON, now: datetime) -> str:
    addrs = [a for e in _get(o, "endpoints") or [] for a in e.get("addresses") or []]
    if not addrs:
        return "<unset>"
    return ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")


ENDPOINT_SLICE: Final = (
    NAME,
    Column("AddressType", lambda o, now: _get(o, "addressType") or "", description="The address type."),
    Column("Ports", _slice_ports, description="The ports."),
    Column("Endpoints", _slice_endpoints, description="The endpoint addresses."),
    AGE,
)


def _ingress_hosts(o: JSON, now: datetime) -> str:
    hosts = [r.get("host") for r in _get(o, "spec", "rules") or [] if r.get("host")]
    return ",".join(hosts) if hosts else "*"


def _ingress_address(o: JSON, now: datetime) -> str:
    return ",".join(i.get("ip") or i.get("hostname") or "" for i in _get(o, "status", "loadBalancer", "ingress") or [])


INGRESS: Final = (
    NAME,
    Column("Class", lambda o, now: _get(o, "spec", "ingressClassName") or NONE, description="The ingress class."),
    Column("Hosts", _ingress_hosts, description="The hosts."),
    Column("Address", _ingress_address, description="The load balancer addresses."),
    Column("Ports", lambda o, now: "80, 443" if _get(o, "spec", "tls") else "80", description="The ports."),
    AGE,
)

INGRESS_CLASS: Final = (
    NAME,
    Column("Controller", lambda o, now: _get(o, "spec", "controller") or "", description="The controller."),
    Column(
        "Parameters",
        lambda o, now: (
            NONE
            if not _get(o, "spec", "parameters")
            else f"{_get(o, 'spec', 'parameters', 'kind')}/{_get(o, 'spec', 'parameters', 'name')}"
        ),
        description="The parameters.",
    ),
    AGE,
)

NETWORK_POLICY: Final = (
    NAME,
    Column(
        "Pod-Selector",
        lambda o, now: str(labels.from_label_selector(_get(o, "spec", "podSelector") or {})) or NONE,
        description="The pods the policy applies to.",
    ),
    AGE,
)

# --- cluster ---


def _node_status(o: JSON, now: datetime) -> str:
    """As kubectl prints it: a Ready condition that is not True (False or Unknown) reads NotReady."""
    conds = {c.get("type"): c.get("status") for c in _get(o, "status", "conditions") or []}
    parts = ["Unknown" if "Ready" not in conds else "Ready" if conds["Ready"] == "True" else "NotReady"]
    if _get(o, "spec", "unschedulable"):
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def _node_roles(o: JSON, now: datetime) -> str:
    roles = set()
    for key, value in (_get(o, "metadata", "labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/"):
            roles.add(key.split("/", 1)[1])
        elif key == "kubernetes.io/role":
            roles.add(value)
    roles.discard("")
    return ",".join(sorted(roles)) or NONE


def _node_address(kind: str) -> Column:
    def cell(o: JSON, now: datetime) -> str:
        for a in _get(o, "status", "addresses") or []:
            if a.get("type") == kind:
                return str(a.get("address"))
        return NONE

    return Column(
        f"{'Internal' if kind == 'InternalIP' else 'External'}-IP", cell, priority=1, description=f"The node's {kind}."
    )


def _node_info(key: str, title: str) -> Column:
    return Column(
        title,
        lambda o, now: _get(o, "status", "nodeInfo", key) or "<unknown>",
        priority=1,
        description=f"The node's {key}.",
    )


NODE: Final = (
    NAME,
    Column("Status", _node_status, description="The status of the node."),
    Column("Roles", _node_roles, description="The roles of the node."),
    AGE,
    Column(
        "Version",
        lambda o, now: _get(o, "status", "nodeInfo", "kubeletVersion") or "",
        description="Kubelet Version reported by the node.",
    ),
    _node_address("InternalIP"),
    _node_address("ExternalIP"),
    _node_info("osImage", "OS-Image"),
    _node_info("kernelVersion", "Kernel-Version"),
    _node_info("containerRuntimeVersion", "Container-Runtime"),
)

NAMESPACE: Final = (
    NAME,
    Column("Status", lambda o, now: _get(o, "status", "phase") or "", description="The status of the namespace."),
    AGE,
)


def _data_count(o: JSON, now: datetime) -> int:
    return len(o.get("data") or {}) + len(o.get("binaryData") or {}) + len(o.get("stringData") or {})


SECRET: Final = (
    NAME,
    Column("Type", lambda o, now: o.get("type") or "Opaque", description="The type of the secret."),
    Column("Data", _data_count, type="integer", description="The number of entries in the data."),
    AGE,
)
CONFIG_MAP: Final = (NAME, Column("Data", _data_count, type="integer", description="The number of entries."), AGE)
SERVICE_ACCOUNT: Final = (
    NAME,
    Column("Secrets", lambda o, now: len(o.get("secrets") or []), type="integer", description="The secrets."),
    AGE,
)


def _event_object(o: JSON, now: datetime) -> str:
    ref = o.get("involvedObject") or o.get("regarding") or {}
    return f"{str(ref.get('kind', '')).lower()}/{ref.get('name', '')}"


def _event_last_seen(o: JSON, now: datetime) -> str:
    when = (
        _get(o, "series", "lastObservedTime")
        or o.get("lastTimestamp")
        or o.get("eventTime")
        or _get(o, "metadata", "creationTimestamp")
    )
    return since(when, now)


EVENT: Final = (
    Column("Last Seen", _event_last_seen, description="Time since the event was last seen."),
    Column("Type", lambda o, now: o.get("type") or "", description="The event type."),
    Column("Reason", lambda o, now: o.get("reason") or "", description="The reason."),
    Column("Object", _event_object, description="The object this event is about."),
    Column(
        "Subobject",
        lambda o, now: _get(o, "involvedObject", "fieldPath") or "",
        priority=1,
        description="The field of the object.",
    ),
    Column(
        "Source",
        lambda o, now: _get(o, "source", "component") or o.get("reportingComponent") or "",
        priority=1,
        description="The component reporting the event.",
    ),
    Column("Message", lambda o, now: o.get("message") or o.get("note") or "", description="The message."),
    Column(
        "First Seen",
        lambda o, now: since(o.get("firstTimestamp") or o.get("eventTime"), now),
        priority=1,
        description="Time since the event was first seen.",
    ),
    Column("Count", lambda o, now: o.get("count") or 1, type="integer", priority=1, description="Occurrences."),
    Column("Name", tables.name, format="name", priority=1, description=tables.NAME_COLUMN_DESCRIPTION),
)

_ACCESS_MODES: Final = {
    "ReadWriteOnce": "RWO",
    "ReadOnlyMany": "ROX",
    "ReadWriteMany": "RWX",
    "ReadWriteOncePod": "RWOP",
}


def _modes(values: JSON) -> str:
    return ",".join(_ACCESS_MODES.get(m, m) for m in values or [])


PERSISTENT_VOLUME: Final = (
    NAME,
    Column("Capacity", lambda o, now: _get(o, "spec", "capacity", "storage") or "", description="The capacity."),
    Column("Access Modes", lambda o, now: _modes(_get(o, "spec", "accessModes")), description="The access modes."),
    Column(
        "Reclaim Policy",
        lambda o, now: _get(o, "spec", "persistentVolumeReclaimPolicy") or "",
        description="The reclaim policy.",
    ),
    Column("Status", lambda o, now: _get(o, "status", "phase") or "", description="The phase."),
    Column(
        "Claim",
        lambda o, now: (
            f"{_get(o, 'spec', 'claimRef', 'namespace')}/{_get(o, 'spec', 'claimRef', 'name')}"
            if _get(o, "spec", "claimRef")
            else ""
        ),
        description="The bound claim.",
    ),
    Column("StorageClass", lambda o, now: _get(o, "spec", "storageClassName") or "", description="The class."),
    Column(
        "VolumeAttributesClass",
        lambda o, now: _get(o, "spec", "volumeAttributesClassName") or "<unset>",
        description="The volume attributes class.",
    ),
    Column("Reason", lambda o, now: _get(o, "status", "reason") or "", description="The reason."),
    AGE,
    Column(
        "VolumeMode",
        lambda o, now: _get(o, "spec", "volumeMode") or "Filesystem",
        priority=1,
        description="The volume mode.",
    ),
)

PERSISTENT_VOLUME_CLAIM: Final = (
    NAME,
    Column("Status", lambda o, now: _get(o, "status", "phase") or "", description="The phase."),
    Column("Volume", lambda o, now: _get(o, "spec", "volumeName") or "", description="The bound volume."),
    Column("Capacity", lambda o, now: _get(o, "status", "capacity", "storage") or "", description="The capacity."),
    Column("Access Modes", lambda o, now: _modes(_get(o, "status", "accessModes")), description="The access modes."),
    Column("StorageClass", lambda o, now: _get(o, "spec", "storageClassName") or "", description="The class."),
    Column(
        "VolumeAttributesClass",
        lambda o, now: _get(o, "spec", "volumeAttributesClassName") or "<unset>",
        description="The volume attributes class.",
    ),
    AGE,
    Column(
        "VolumeMode",
        lambda o, now: _get(o, "spec", "volumeMode") or "Filesystem",
        priority=1,
        description="The volume mode.",
    ),
)


def _quota(kind: str) -> Column:
    def cell(o: JSON, now: datetime) -> str:
        hard = _get(o, "status", "hard") or _get(o, "spec", "hard") or {}
        used = _get(o, "status", "used") or {}
        pairs = []
        for key in sorted(hard):
            is_limit = key.startswith("limits.")
            if (kind == "Limit") == is_limit:
                pairs.append(f"{key}: {used.get(key, '0')}/{hard[key]}")
        return ", ".join(pairs)

    return Column((kind == "Limit" and "Limit") or "Request", cell, description=f"{kind} usage against the quota.")


RESOURCE_QUOTA: Final = (NAME, AGE, _quota("Request"), _quota("Limit"))

STORAGE_CLASS: Final = (
    Column(
        "Name",
        lambda o, now: (
            tables.name(o, now)
            + (
                " (default)"
                if _get(o, "metadata", "annotations", "storageclass.kubernetes.io/is-default-class") == "true"
                else ""
            )
        ),
        format="name",
        description=tables.NAME_COLUMN_DESCRIPTION,
    ),
    Column("Provisioner", lambda o, now: o.get("provisioner") or "", description="The provisioner."),
    Column("ReclaimPolicy", lambda o, now: o.get("reclaimPolicy") or "Delete", description="The reclaim policy."),
    Column(
        "VolumeBindingMode", lambda o, now: o.get("volumeBindingMode") or "Immediate", description="The binding mode."
    ),
    Column(
        "AllowVolumeExpansion",
        lambda o, now: "true" if o.get("allowVolumeExpansion") else "false",
        description="Whether volumes can be expanded.",
    ),
    AGE,
)

PRIORITY_CLASS: Final = (
    NAME,
    Column("Value", lambda o, now: o.get("value", 0), type="integer", description="The priority."),
    Column(
        "Global-Default",
        lambda o, now: "true" if o.get("globalDefault") else "false",
        type="boolean",
        description="Whether this is the default class.",
    ),
    AGE,
    Column(
        "PreemptionPolicy",
        lambda o, now: o.get("preemptionPolicy") or "PreemptLowerPriority",
        description="The preemption policy.",
    ),
)

POD_DISRUPTION_BUDGET: Final = (
    NAME,
    Column(
        "Min Available",
        lambda o, now: str(_get(o, "spec", "minAvailable")) if _get(o, "spec", "minAvailable") is not None else "N/A",
        description="The minimum available pods.",
    ),
    Column(
        "Max Unavailable",
        lambda o, now: (
            str(_get(o, "spec", "maxUnavailable")) if _get(o, "spec", "maxUnavailable") is not None else "N/A"
        ),
        description="The maximum unavailable pods.",
    ),
    _int(("status", "disruptionsAllowed"), "Allowed Disruptions", "The allowed disruptions."),
    AGE,
)


_METRIC_SOURCE: Final = {
    "Resource": "resource",
    "ContainerResource": "containerResource",
    "Pods": "pods",
    "Object": "object",
    "External": "external",
}


def _metric_value(target: JSON, current: JSON) -> str:
    """One `current/target` pair, as kubectl shows them (`cpu: 20%/60%`, `<unknown>` before a reading)."""
    if target.get("type") == "Utilization":
        now = (current or {}).get("averageUtilization")
        return f"{'<unknown>' if now is None else f'{now}%'}/{target.get('averageUtilization')}%"
    key = "averageValue" if target.get("type") == "AverageValue" else "value"
    now = (current or {}).get(key)
    return f"{'<unknown>' if now is None else now}/{target.get(key)}"


def _hpa_targets(o: JSON, now: datetime) -> str:
    metrics = _get(o, "spec", "metrics")
    if metrics is None:  # autoscaling/v1 carries a single CPU target
        target = _get(o, "spec", "targetCPUUtilizationPercentage")
        if target is None:
            return NONE
        current = _get(o, "status", "currentCPUUtilizationPercentage")
        return f"cpu: {'<unknown>' if current is None else f'{current}%'}/{target}%"
    currents = _get(o, "status", "currentMetrics") or []
    parts = []
    for i, metric in enumerate(metrics):
        key = _METRIC_SOURCE.get(metric.get("type", ""), "")
        source = metric.get(key) or {}
        name = source.get("name") or _get(source, "metric", "name") or ""
        current = _get(currents, i, key, "current")
        parts.append(f"{name}: {_metric_value(source.get('target') or {}, current)}")
    return ", ".join(parts) if parts else NONE


HORIZONTAL_POD_AUTOSCALER: Final = (
    NAME,
    Column(
        "Reference",
        lambda o, now: f"{_get(o, 'spec', 'scaleTargetRef', 'kind')}/{_get(o, 'spec', 'scaleTargetRef', 'name')}",
        description="The scale target.",
    ),
    Column("Targets", _hpa_targets, description="Current and target metric values."),
    Column("MinPods", lambda o, now: _get(o, "spec", "minReplicas") or 1, type="integer", description="Minimum."),
    Column("MaxPods", lambda o, now: _get(o, "spec", "maxReplicas") or 0, type="integer", description="Maximum."),
    _int(("status", "currentReplicas"), "Replicas", "Current replicas."),
    AGE,
)

LEASE: Final = (
    NAME,
    Column("Holder", lambda o, now: _get(o, "spec", "holderIdentity") or "", description="The lease holder."),
    AGE,
)


def _revision_controller(o: JSON, now: datetime) -> str:
    for ref in _get(o, "metadata", "ownerReferences") or []:
        if ref.get("controller"):
            group = str(ref.get("apiVersion", "")).rpartition("/")[0]
            kind = str(ref.get("kind", "")).lower() + (f".{group}" if group else "")
            return f"{kind}/{ref.get('name')}"
    return NONE


CONTROLLER_REVISION: Final = (
    NAME,
    Column("Controller", _revision_controller, description="The owning controller."),
    Column("Revision", lambda o, now: o.get("revision", 0), type="integer", description="The revision."),
    AGE,
)


def _subjects(kind: str) -> Column:
    def cell(o: JSON, now: datetime) -> str:
        found = []
        for s in o.get("subjects") or []:
            if s.get("kind") == kind:
                ns = s.get("namespace")
                found.append(f"{ns}/{s.get('name')}" if kind == "ServiceAccount" and ns else str(s.get("name")))
        return ", ".join(found)

    return Column(
        kind + "s" if kind != "ServiceAccount" else "ServiceAccounts",
        cell,
        priority=1,
        description=f"The {kind} subjects.",
    )


ROLE_BINDING: Final = (
    NAME,
    Column(
        "Role",
        lambda o, now: f"{_get(o, 'roleRef', 'kind')}/{_get(o, 'roleRef', 'name')}",
        description="The bound role.",
    ),
    AGE,
    _subjects("User"),
    _subjects("Group"),
    _subjects("ServiceAccount"),
)


def _csr_condition(o: JSON, now: datetime) -> str:
    conds = [c.get("type") for c in _get(o, "status", "conditions") or []]
    if not conds:
        return "Pending"
    return ",".join(str(c) for c in conds) + (",Issued" if _get(o, "status", "certificate") else "")


CERTIFICATE_SIGNING_REQUEST: Final = (
    NAME,
    AGE,
    Column("SignerName", lambda o, now: _get(o, "spec", "signerName") or "", description="The signer."),
    Column("Requestor", lambda o, now: _get(o, "spec", "username") or "", description="The requestor."),
    Column(
        "RequestedDuration",
        lambda o, now: (
            tables.human_duration(_get(o, "spec", "expirationSeconds"))
            if _get(o, "spec", "expirationSeconds")
            else NONE
        ),
        description="The requested duration.",
    ),
    Column("Condition", _csr_condition, description="The request's condition."),
)
