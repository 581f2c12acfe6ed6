"""``tkctl describe``: kubectl's describe pages for pods, deployments, replica sets, services, namespaces and
nodes (other kinds get the generic page), each with its events."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from client.errors import ApiError, NotFound
from tkctl.describe_format import (
    Page,
    annotations_lines,
    events_section,
    labels_lines,
    map_selector_text,
    rfc1123z,
    selector_text,
)
from tkctl.errors import CliError, api_error_text
from tkctl.flags import Parser, add_filename_flags
from tkctl.session import Session
from tkctl.targets import parse_targets

JSON = dict[str, Any]

EXAMPLES = {"describe": """examples:
  # Describe a node
  tkctl describe nodes kubernetes-node-emt8.c.myproject.internal

  # Describe a pod
  tkctl describe pods/nginx

  # Describe all pods that have the label name=myLabel
  tkctl describe pods -l name=myLabel
"""}


def build(p: Parser, verb: str) -> None:
    add_filename_flags(p)
    p.add_argument("-l", "--selector", help="selector (label query) to filter on")
    p.flag("-A", "--all-namespaces", help="if present, list the requested object(s) across all namespaces")
    p.flag("--show-events", default=True, help="if true, display events related to the described object")
    p.add_argument("args", nargs="*", help="TYPE [NAME_PREFIX] | TYPE/NAME")


def run(s: Session, o: argparse.Namespace) -> int:
    if not o.args and not o.filename:
        raise CliError("You must specify the type of resource to describe. Use \"tkctl api-resources\" for a "
                       "complete list of supported resources.")
    objects: list[tuple[Any, JSON]] = []
    failures: list[ApiError] = []
    for t in parse_targets(s, o.args):
        ns = None if not t.info.ref.namespaced or o.all_namespaces else s.namespace
        if t.names:
            for name in t.names:
                try:
                    objects.append((t.info, s.client.get(t.info.ref, name, ns or (s.namespace if
                                                                                   t.info.ref.namespaced else None))))
                except NotFound as exc:
                    prefixed = _by_prefix(s, t.info, ns, name)
                    if not prefixed:
                        failures.append(exc)
                    objects += prefixed
        else:
            listing = s.client.list(t.info.ref, ns, label_selector=o.selector)
            objects += [(t.info, item) for item in listing.get("items") or []]
    if not objects and not failures:
        s.warn(f"No resources found in {s.namespace} namespace." if not o.all_namespaces else "No resources found")
    pages = []
    for info, obj in objects:
        kind = info.ref.kind
        describer = _DESCRIBERS.get(kind, _generic)
        events = _events(s, obj) if o.show_events else None
        pages.append(describer(s, obj, events))
    s.out.write("\n\n".join(p.rstrip("\n") for p in pages) + ("\n" if pages else ""))
    for f in failures:
        s.warn(api_error_text(f))
    return 1 if failures else 0


def _by_prefix(s: Session, info: Any, ns: str | None, prefix: str) -> list[tuple[Any, JSON]]:
    listing = s.client.list(info.ref, ns or (s.namespace if info.ref.namespaced else None))
    return [(info, i) for i in listing.get("items") or [] if str(i["metadata"]["name"]).startswith(prefix)]


def _events(s: Session, obj: JSON) -> list[JSON]:
    meta = obj.get("metadata") or {}
    selector = f"involvedObject.name={meta.get('name')},involvedObject.uid={meta.get('uid')}"
    ns = meta.get("namespace")
    if ns:
        selector += f",involvedObject.namespace={ns}"
    path = f"/api/v1/namespaces/{ns}/events" if ns else "/api/v1/events"
    try:
        listing = s.client.request("GET", path, params={"fieldSelector": selector})
    except ApiError:
        return []
    return list((listing or {}).get("items") or [])


def _head(page: Page, obj: JSON, *, namespace: bool = True) -> None:
    meta = obj.get("metadata") or {}
    page.w(0, f"Name:\t{meta.get('name', '')}\n")
    if namespace:
        page.w(0, f"Namespace:\t{meta.get('namespace', '')}\n")


def _generic(s: Session, obj: JSON, events: list[JSON] | None) -> str:
    page = Page()
    meta = obj.get("metadata") or {}
    _head(page, obj, namespace=bool(meta.get("namespace")))
    if not meta.get("namespace"):
        page.w(0, "Namespace:\t\n")
    labels_lines(page, 0, "Labels", meta.get("labels"))
    annotations_lines(page, 0, meta.get("annotations"))
    page.w(0, f"API Version:\t{obj.get('apiVersion', '')}\n")
    page.w(0, f"Kind:\t{obj.get('kind', '')}\n")
    rest = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    _generic_fields(page, 0, {"Metadata": {k: v for k, v in meta.items()
                                           if k not in ("name", "namespace", "labels", "annotations",
                                                        "managedFields")}})
    _generic_fields(page, 0, {k[:1].upper() + k[1:]: v for k, v in sorted(rest.items())})
    events_section(page, events)
    return page.render()


def _generic_fields(page: Page, level: int, values: JSON) -> None:
    for key, value in values.items():
        title = key[:1].upper() + key[1:]
        if isinstance(value, dict):
            page.w(level, f"{title}:\n")
            _generic_fields(page, level + 1, value)
        elif isinstance(value, list):
            page.w(level, f"{title}:\n")
            for item in value:
                if isinstance(item, dict):
                    _generic_fields(page, level + 1, item)
                else:
                    page.w(level + 1, f"{item}\n")
        else:
            page.w(level, f"{title}:\t{_scalar(value)}\n")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


# --- pods and templates ------------------------------------------------------------------------


def _tolerations(page: Page, level: int, tolerations: list[JSON] | None) -> None:
    if not tolerations:
        page.w(level, "Tolerations:\t<none>\n")
        return
    for i, t in enumerate(tolerations):
        text = str(t.get("key") or "")
        if t.get("value"):
            text += f"={t['value']}"
        if t.get("effect"):
            text += f":{t['effect']}"
        if t.get("operator") == "Exists" and t.get("key"):
            text += " op=Exists"
        elif t.get("operator") == "Exists":
            text += "op=Exists"
        if t.get("tolerationSeconds") is not None:
            text += f" for {t['tolerationSeconds']}s"
        page.w(level, f"{'Tolerations:' if i == 0 else ''}\t{text}\n")


def _env_value(env: JSON, pod_name: str | None) -> str:
    if "value" in env:
        return str(env["value"])
    source = env.get("valueFrom") or {}
    if "fieldRef" in source:
        ref = source["fieldRef"]
        path = ref.get("fieldPath", "")
        value = pod_name if path == "metadata.name" and pod_name else ""
        return f"{value} ({ref.get('apiVersion', 'v1')}:{path})"
    if "secretKeyRef" in source:
        ref = source["secretKeyRef"]
        return f"<set to the key '{ref.get('key')}' in secret '{ref.get('name')}'>  Optional: " \
               f"{'true' if ref.get('optional') else 'false'}"
    if "configMapKeyRef" in source:
        ref = source["configMapKeyRef"]
        return f"<set to the key '{ref.get('key')}' of config map '{ref.get('name')}'>  Optional: " \
               f"{'true' if ref.get('optional') else 'false'}"
    if "resourceFieldRef" in source:
        ref = source["resourceFieldRef"]
        return f"{ref.get('resource')}"
    return ""


def _container(page: Page, level: int, c: JSON, status: JSON | None, pod_name: str | None, *,
               template: bool = False) -> None:
    # kubectl indents a template's container names one space deeper than a pod's.
    page.w(level, f"{' ' if template else ''}{c.get('name')}:\n")
    lvl = level + 1
    if status is not None:
        page.w(lvl, f"Container ID:\t{status.get('containerID', '')}\n")
    page.w(lvl, f"Image:\t{c.get('image', '')}\n")
    if status is not None:
        page.w(lvl, f"Image ID:\t{status.get('imageID', '')}\n")
    ports = c.get("ports") or []
    port_text = ", ".join(f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"
    host_text = ", ".join(f"{p.get('hostPort', 0)}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"
    page.w(lvl, f"Port{'s' if len(ports) > 1 else ''}:\t{port_text}\n")
    page.w(lvl, f"Host Port{'s' if len(ports) > 1 else ''}:\t{host_text}\n")
    for title, key in (("Command", "command"), ("Args", "args")):
        if c.get(key):
            page.w(lvl, f"{title}:\n")
            for part in c[key]:
                page.w(lvl + 1, f"{part}\n")
    if status is not None:
        _state(page, lvl, "State", status.get("state") or {})
        if status.get("lastState"):
            _state(page, lvl, "Last State", status["lastState"])
        page.w(lvl, f"Ready:\t{'True' if status.get('ready') else 'False'}\n")
        page.w(lvl, f"Restart Count:\t{status.get('restartCount', 0)}\n")
    resources = c.get("resources") or {}
    limits = resources.get("limits") or {}
    requests = {**limits, **(resources.get("requests") or {})}
    for title, values in (("Limits", limits), ("Requests", requests)):
        if values:
            page.w(lvl, f"{title}:\n")
            for k, v in sorted(values.items()):
                page.w(lvl + 1, f"{k}:\t{v}\n")
    for title, key in (("Liveness", "livenessProbe"), ("Readiness", "readinessProbe"), ("Startup", "startupProbe")):
        if c.get(key):
            page.w(lvl, f"{title}:\t{_probe(c[key])}\n")
    if c.get("envFrom"):
        page.w(lvl, "Environment Variables from:\n")
        for src in c["envFrom"]:
            ref = src.get("configMapRef") or src.get("secretRef") or {}
            what = "ConfigMap" if "configMapRef" in src else "Secret"
            page.w(lvl + 1, f"{ref.get('name')}\t{what}\tOptional: {'true' if ref.get('optional') else 'false'}\n")
    env = c.get("env") or []
    if not env:
        page.w(lvl, "Environment:\t<none>\n")
    else:
        page.w(lvl, "Environment:\n")
        for e in env:
            page.w(lvl + 1, f"{e.get('name')}:\t{_env_value(e, pod_name)}\n")
    mounts = c.get("volumeMounts") or []
    if not mounts:
        page.w(lvl, "Mounts:\t<none>\n")
    else:
        page.w(lvl, "Mounts:\n")
        for m in sorted(mounts, key=lambda m: str(m.get("mountPath"))):
            flags = "ro" if m.get("readOnly") else "rw"
            sub = f",path=\"{m['subPath']}\"" if m.get("subPath") else ""
            page.w(lvl + 1, f"{m.get('mountPath')} from {m.get('name')} ({flags}{sub})\n")


def _probe(p: JSON) -> str:
    if "httpGet" in p:
        h = p["httpGet"]
        what = f"http-get {h.get('scheme', 'HTTP').lower()}://{h.get('host', '')}:{h.get('port')}{h.get('path', '')}"
    elif "tcpSocket" in p:
        what = f"tcp-socket :{p['tcpSocket'].get('port')}"
    elif "exec" in p:
        what = "exec [" + " ".join(p["exec"].get("command") or []) + "]"
    elif "grpc" in p:
        what = f"grpc <pod>:{p['grpc'].get('port')} {p['grpc'].get('service', '')}"
    else:
        what = "unknown"
    return (f"{what} delay={p.get('initialDelaySeconds', 0)}s timeout={p.get('timeoutSeconds', 1)}s "
            f"period={p.get('periodSeconds', 10)}s #success={p.get('successThreshold', 1)} "
            f"#failure={p.get('failureThreshold', 3)}")


def _state(page: Page, level: int, title: str, state: JSON) -> None:
    if "running" in state:
        page.w(level, f"{title}:\tRunning\n")
        page.w(level + 1, f"Started:\t{rfc1123z(state['running'].get('startedAt'))}\n")
    elif "waiting" in state:
        page.w(level, f"{title}:\tWaiting\n")
        if state["waiting"].get("reason"):
            page.w(level + 1, f"Reason:\t{state['waiting']['reason']}\n")
    elif "terminated" in state:
        t = state["terminated"]
        page.w(level, f"{title}:\tTerminated\n")
        if t.get("reason"):
            page.w(level + 1, f"Reason:\t{t['reason']}\n")
        page.w(level + 1, f"Exit Code:\t{t.get('exitCode', 0)}\n")
        page.w(level + 1, f"Started:\t{rfc1123z(t.get('startedAt'))}\n")
        page.w(level + 1, f"Finished:\t{rfc1123z(t.get('finishedAt'))}\n")
    else:
        page.w(level, f"{title}:\tWaiting\n")


def _volumes(page: Page, level: int, volumes: list[JSON] | None) -> None:
    if not volumes:
        page.w(level, "Volumes:\t<none>\n")
        return
    page.w(level, "Volumes:\n")
    for v in volumes:
        page.w(level + 1, f"{v.get('name')}:\n")
        kind = next((k for k in _VOLUME_FIELDS if k in v), None)
        if kind is None:
            page.w(level + 2, f"Type:\t{next(iter(k for k in v if k != 'name'), 'unknown')}\n")
            continue
        title, fields = _VOLUME_FIELDS[kind]
        source = v[kind] or {}
        page.w(level + 2, f"Type:\t{title}\n")
        for label, key, default in fields:
            value = source.get(key, default)
            text = ("true" if value else "false") if isinstance(default, bool) else str(value)
            page.w(level + 2, f"{label}:\t{text}\n")


# Volume sources kubectl describes: the Type line, then (label, field, default) per line; a bool default
# prints the field as true/false.
_VOLUME_FIELDS: dict[str, tuple[str, list[tuple[str, str, Any]]]] = {
    "emptyDir": ("EmptyDir (a temporary directory that shares a pod's lifetime)",
                 [("Medium", "medium", ""), ("SizeLimit", "sizeLimit", "<unset>")]),
    "configMap": ("ConfigMap (a volume populated by a ConfigMap)", [("Name", "name", ""), ("Optional", "optional",
                                                                                         False)]),
    "secret": ("Secret (a volume populated by a Secret)", [("SecretName", "secretName", ""),
                                                           ("Optional", "optional", False)]),
    "hostPath": ("HostPath (bare host directory volume)", [("Path", "path", ""), ("HostPathType", "type", "")]),
    "persistentVolumeClaim": ("PersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)",
                              [("ClaimName", "claimName", ""), ("ReadOnly", "readOnly", False)]),
}


def _template(page: Page, template: JSON, level: int) -> None:
    meta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    page.w(level, "Pod Template:\n")
    lvl = level + 1
    labels_lines(page, lvl, "Labels", meta.get("labels"))
    if meta.get("annotations"):
        annotations_lines(page, lvl, meta.get("annotations"))
    if spec.get("serviceAccountName"):
        page.w(lvl, f"Service Account:\t{spec['serviceAccountName']}\n")
    if spec.get("initContainers"):
        page.w(lvl, "Init Containers:\n")
        for c in spec["initContainers"]:
            _container(page, lvl, c, None, None, template=True)
    page.w(lvl, "Containers:\n")
    for c in spec.get("containers") or []:
        _container(page, lvl, c, None, None, template=True)
    _volumes(page, lvl, spec.get("volumes"))
    page.w(lvl, f"Node-Selectors:\t{map_selector_text(spec.get('nodeSelector'))}\n")
    _tolerations(page, lvl, spec.get("tolerations"))


def _pod(s: Session, pod: JSON, events: list[JSON] | None) -> str:
    page = Page()
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    _head(page, pod)
    if spec.get("priorityClassName"):
        page.w(0, f"Priority:\t{spec.get('priority', 0)}\n")
        page.w(0, f"Priority Class Name:\t{spec['priorityClassName']}\n")
    else:
        page.w(0, f"Priority:\t{spec.get('priority', 0)}\n")
    if spec.get("runtimeClassName"):
        page.w(0, f"Runtime Class Name:\t{spec['runtimeClassName']}\n")
    if spec.get("serviceAccountName"):
        page.w(0, f"Service Account:\t{spec['serviceAccountName']}\n")
    node = spec.get("nodeName")
    page.w(0, f"Node:\t{node + '/' + status.get('hostIP', '') if node else '<none>'}\n")
    if status.get("startTime"):
        page.w(0, f"Start Time:\t{rfc1123z(status['startTime'])}\n")
    labels_lines(page, 0, "Labels", meta.get("labels"))
    annotations_lines(page, 0, meta.get("annotations"))
    if meta.get("deletionTimestamp"):
        page.w(0, f"Status:\tTerminating (lasts {_since(meta['deletionTimestamp'])})\n")
        page.w(0, f"Termination Grace Period:\t{meta.get('deletionGracePeriodSeconds', 0)}s\n")
    else:
        page.w(0, f"Status:\t{status.get('phase', '')}\n")
    if status.get("reason"):
        page.w(0, f"Reason:\t{status['reason']}\n")
    if status.get("message"):
        page.w(0, f"Message:\t{status['message']}\n")
    page.w(0, f"IP:\t{status.get('podIP', '')}\n")
    ips = status.get("podIPs") or []
    if ips:
        page.w(0, "IPs:\n")
        for ip in ips:
            page.w(1, f"IP:\t{ip.get('ip')}\n")
    else:
        page.w(0, "IPs:\t<none>\n")
    owners = [o for o in meta.get("ownerReferences") or [] if o.get("controller")]
    if owners:
        page.w(0, f"Controlled By:\t{owners[0].get('kind')}/{owners[0].get('name')}\n")
    statuses = {c.get("name"): c for c in status.get("containerStatuses") or []}
    init_statuses = {c.get("name"): c for c in status.get("initContainerStatuses") or []}
    if spec.get("initContainers"):
        page.w(0, "Init Containers:\n")
        for c in spec["initContainers"]:
            _container(page, 1, c, init_statuses.get(c.get("name")), meta.get("name"))
    page.w(0, "Containers:\n")
    for c in spec.get("containers") or []:
        _container(page, 1, c, statuses.get(c.get("name")) if statuses else None, meta.get("name"))
    if status.get("conditions"):
        page.w(0, "Conditions:\n")
        page.w(1, "Type\tStatus\n")
        for cond in status["conditions"]:
            page.w(1, f"{cond.get('type')} \t{cond.get('status')} \n")
    _volumes(page, 0, spec.get("volumes"))
    if status.get("qosClass"):
        page.w(0, f"QoS Class:\t{status['qosClass']}\n")
    page.w(0, f"Node-Selectors:\t{map_selector_text(spec.get('nodeSelector'))}\n")
    _tolerations(page, 0, spec.get("tolerations"))
    events_section(page, events)
    return page.render()


def _since(ts: str) -> str:
    from tkctl.describe_format import human_age  # noqa: PLC0415

    return human_age(ts)


# --- workloads ---------------------------------------------------------------------------------


def _deployment(s: Session, d: JSON, events: list[JSON] | None) -> str:
    page = Page()
    meta = d.get("metadata") or {}
    spec = d.get("spec") or {}
    st = d.get("status") or {}
    _head(page, d)
    page.w(0, f"CreationTimestamp:\t{rfc1123z(meta.get('creationTimestamp'))}\n")
    labels_lines(page, 0, "Labels", meta.get("labels"))
    annotations_lines(page, 0, meta.get("annotations"))
    page.w(0, f"Selector:\t{selector_text(spec.get('selector'))}\n")
    page.w(0, f"Replicas:\t{spec.get('replicas', 1)} desired | {st.get('updatedReplicas', 0)} updated | "
              f"{st.get('replicas', 0)} total | {st.get('availableReplicas', 0)} available | "
              f"{st.get('unavailableReplicas', 0)} unavailable\n")
    strategy = spec.get("strategy") or {}
    page.w(0, f"StrategyType:\t{strategy.get('type', '')}\n")
    page.w(0, f"MinReadySeconds:\t{spec.get('minReadySeconds', 0)}\n")
    rolling = strategy.get("rollingUpdate")
    if rolling:
        page.w(0, f"RollingUpdateStrategy:\t{rolling.get('maxUnavailable')} max unavailable, "
                  f"{rolling.get('maxSurge')} max surge\n")
    _template(page, spec.get("template") or {}, 0)
    conditions = st.get("conditions") or []
    if conditions:
        page.w(0, "Conditions:\n")
        page.w(1, "Type\tStatus\tReason\n")
        page.w(1, "----\t------\t------\n")
        for c in conditions:
            page.w(1, f"{c.get('type')} \t{c.get('status')}\t{c.get('reason', '')}\n")
    old, new = _replica_sets(s, d)
    if old or new:
        page.w(0, f"OldReplicaSets:\t{_rs_list(old)}\n")
        page.w(0, f"NewReplicaSet:\t{_rs_list([new] if new else [])}\n")
    events_section(page, events)
    return page.render()


def _rs_list(rss: list[JSON]) -> str:
    if not rss:
        return "<none>"
    return ", ".join(f"{r['metadata']['name']} ({(r.get('status') or {}).get('replicas', 0)}/"
                     f"{(r.get('spec') or {}).get('replicas', 0)} replicas created)" for r in rss)


def _replica_sets(s: Session, d: JSON) -> tuple[list[JSON], JSON | None]:
    meta = d.get("metadata") or {}
    listing = s.client.request("GET", f"/apis/apps/v1/namespaces/{meta.get('namespace')}/replicasets")
    owned = [rs for rs in (listing or {}).get("items") or []
             if any(o.get("uid") == meta.get("uid") for o in rs["metadata"].get("ownerReferences") or [])]
    revision = (meta.get("annotations") or {}).get("deployment.kubernetes.io/revision")
    new = next((rs for rs in owned
                if (rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision") == revision),
               None)
    old = [rs for rs in owned if rs is not new and ((rs.get("spec") or {}).get("replicas") or 0) > 0]
    return old, new


def _replica_set(s: Session, rs: JSON, events: list[JSON] | None) -> str:
    page = Page()
    meta = rs.get("metadata") or {}
    spec = rs.get("spec") or {}
    st = rs.get("status") or {}
    _head(page, rs)
    page.w(0, f"Selector:\t{selector_text(spec.get('selector'))}\n")
    labels_lines(page, 0, "Labels", meta.get("labels"))
    annotations_lines(page, 0, meta.get("annotations"))
    owners = [o for o in meta.get("ownerReferences") or [] if o.get("controller")]
    if owners:
        page.w(0, f"Controlled By:\t{owners[0].get('kind')}/{owners[0].get('name')}\n")
    page.w(0, f"Replicas:\t{st.get('replicas', 0)} current / {spec.get('replicas', 0)} desired\n")
    page.w(0, f"Pods Status:\t{st.get('readyReplicas', 0)} Running / 0 Waiting / 0 Succeeded / 0 Failed\n")
    _template(page, spec.get("template") or {}, 0)
    events_section(page, events)
    return page.render()


# --- services, namespaces, nodes -----------------------------------------------------------------


def _service(s: Session, svc: JSON, events: list[JSON] | None) -> str:
    page = Page()
    meta = svc.get("metadata") or {}
    spec = svc.get("spec") or {}
    _head(page, svc)
    labels_lines(page, 0, "Labels", meta.get("labels"))
    annotations_lines(page, 0, meta.get("annotations"))
    page.w(0, f"Selector:\t{map_selector_text(spec.get('selector'))}\n")
    page.w(0, f"Type:\t{spec.get('type', '')}\n")
    families = spec.get("ipFamilies") or []
    if spec.get("ipFamilyPolicy"):
        page.w(0, f"IP Family Policy:\t{spec['ipFamilyPolicy']}\n")
    page.w(0, f"IP Families:\t{','.join(families) or '<none>'}\n")
    page.w(0, f"IP:\t{spec.get('clusterIP', '')}\n")
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    page.w(0, f"IPs:\t{','.join(ips) or '<none>'}\n")
    if spec.get("externalName"):
        page.w(0, f"External Name:\t{spec['externalName']}\n")
    endpoints = _endpoints(s, meta)
    for p in spec.get("ports") or []:
        name = p.get("name") or "<unset>"
        page.w(0, f"Port:\t{name}  {p.get('port')}/{p.get('protocol', 'TCP')}\n")
        target = p.get("targetPort")
        page.w(0, f"TargetPort:\t{target}/{p.get('protocol', 'TCP')}\n")
        if p.get("nodePort"):
            page.w(0, f"NodePort:\t{name}  {p['nodePort']}/{p.get('protocol', 'TCP')}\n")
        page.w(0, f"Endpoints:\t{endpoints.get(p.get('name') or '') or '<none>'}\n")
    if spec.get("sessionAffinity"):
        page.w(0, f"Session Affinity:\t{spec['sessionAffinity']}\n")
    if spec.get("externalTrafficPolicy"):
        page.w(0, f"External Traffic Policy:\t{spec['externalTrafficPolicy']}\n")
    if spec.get("internalTrafficPolicy"):
        page.w(0, f"Internal Traffic Policy:\t{spec['internalTrafficPolicy']}\n")
    events_section(page, events)
    return page.render()


def _endpoints(s: Session, meta: JSON) -> dict[str, str]:
    """Endpoint addresses per port name, as ``ip:port`` joined by commas (``<none>`` when none)."""
    try:
        ep = s.client.request("GET", f"/api/v1/namespaces/{meta.get('namespace')}/endpoints/{meta.get('name')}")
    except NotFound:
        return {}
    out: dict[str, list[str]] = {}
    for subset in (ep or {}).get("subsets") or []:
        for port in subset.get("ports") or []:
            for addr in subset.get("addresses") or []:
                out.setdefault(port.get("name") or "", []).append(f"{addr.get('ip')}:{port.get('port')}")
    return {k: ",".join(v) for k, v in out.items()}


def _namespace(s: Session, ns: JSON, events: list[JSON] | None) -> str:
    page = Page()
    meta = ns.get("metadata") or {}
    page.w(0, f"Name:\t{meta.get('name')}\n")
    labels_lines(page, 0, "Labels", meta.get("labels"))
    annotations_lines(page, 0, meta.get("annotations"))
    page.w(0, f"Status:\t{(ns.get('status') or {}).get('phase', '')}\n")
    name = meta.get("name")
    quotas = s.client.request("GET", f"/api/v1/namespaces/{name}/resourcequotas")
    limits = s.client.request("GET", f"/api/v1/namespaces/{name}/limitranges")
    page.w(0, "\n")
    page.w(0, "No resource quota.\n" if not (quotas or {}).get("items") else "Resource Quotas\n")
    page.w(0, "\n")
    page.w(0, "No LimitRange resource.\n" if not (limits or {}).get("items") else "Resource Limits\n")
    return page.render()


def _node(s: Session, node: JSON, events: list[JSON] | None) -> str:
    page = Page()
    meta = node.get("metadata") or {}
    spec = node.get("spec") or {}
    st = node.get("status") or {}
    labels = meta.get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    page.w(0, f"Name:\t{meta.get('name')}\n")
    page.w(0, f"Roles:\t{','.join(roles) or '<none>'}\n")
    labels_lines(page, 0, "Labels", labels)
    annotations_lines(page, 0, meta.get("annotations"))
    page.w(0, f"CreationTimestamp:\t{rfc1123z(meta.get('creationTimestamp'))}\n")
    taints = spec.get("taints") or []
    if not taints:
        page.w(0, "Taints:\t<none>\n")
    for i, t in enumerate(taints):
        text = t.get("key", "") + (f"={t['value']}" if t.get("value") else "") + f":{t.get('effect', '')}"
        page.w(0, f"{'Taints:' if i == 0 else ''}\t{text}\n")
    page.w(0, f"Unschedulable:\t{'true' if spec.get('unschedulable') else 'false'}\n")
    try:
        lease = s.client.request("GET", f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/"
                                        f"{meta.get('name')}")
        page.w(0, "Lease:\n")
        page.w(1, f"HolderIdentity:\t{(lease.get('spec') or {}).get('holderIdentity', '<unset>')}\n")
        page.w(1, "AcquireTime:\t<unset>\n")
        page.w(1, f"RenewTime:\t{rfc1123z((lease.get('spec') or {}).get('renewTime'))}\n")
    except NotFound as exc:
        page.w(0, f"Lease:\tFailed to get lease: {exc.message}\n")
    conditions = st.get("conditions") or []
    if conditions:
        page.w(0, "Conditions:\n")
        page.w(1, "Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n")
        page.w(1, "----\t------\t-----------------\t------------------\t------\t-------\n")
        for c in conditions:
            page.w(1, f"{c.get('type')} \t{c.get('status')} \t{rfc1123z(c.get('lastHeartbeatTime'))} \t"
                      f"{rfc1123z(c.get('lastTransitionTime'))} \t{c.get('reason', '')} \t{c.get('message', '')}\n")
    page.w(0, "Addresses:\n")
    for a in st.get("addresses") or []:
        page.w(1, f"{a.get('type')}:\t{a.get('address')}\n")
    for title, key in (("Capacity", "capacity"), ("Allocatable", "allocatable")):
        if st.get(key):
            page.w(0, f"{title}:\n")
            for k, v in sorted(st[key].items()):
                page.w(1, f"{k}:\t{v}\n")
    info = st.get("nodeInfo") or {}
    page.w(0, "System Info:\n")
    for title, key in (("Machine ID", "machineID"), ("System UUID", "systemUUID"), ("Boot ID", "bootID"),
                       ("Kernel Version", "kernelVersion"), ("OS Image", "osImage"),
                       ("Operating System", "operatingSystem"), ("Architecture", "architecture"),
                       ("Container Runtime Version", "containerRuntimeVersion"),
                       ("Kubelet Version", "kubeletVersion"), ("Kube-Proxy Version", "kubeProxyVersion")):
        page.w(1, f"{title}:\t{info.get(key, '')}\n")
    if spec.get("podCIDR"):
        page.w(0, f"PodCIDR:\t{spec['podCIDR']}\n")
    if spec.get("podCIDRs"):
        page.w(0, f"PodCIDRs:\t{','.join(spec['podCIDRs'])}\n")
    if spec.get("providerID"):
        page.w(0, f"ProviderID:\t{spec['providerID']}\n")
    _node_pods(s, page, node)
    events_section(page, events)
    return page.render()


def _node_pods(s: Session, page: Page, node: JSON) -> None:
    from api.quantity import Quantity  # noqa: PLC0415
    from tkctl.describe_format import human_age  # noqa: PLC0415

    name = (node.get("metadata") or {}).get("name")
    pods = s.client.request("GET", "/api/v1/pods", params={
        "fieldSelector": f"spec.nodeName={name},status.phase!=Failed,status.phase!=Succeeded"})
    items = (pods or {}).get("items") or []
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    page.w(0, f"Non-terminated Pods:\t({len(items)} in total)\n")
    page.w(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n")
    page.w(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n")
    totals: dict[str, list[float]] = {"cpu": [0.0, 0.0], "memory": [0.0, 0.0], "ephemeral-storage": [0.0, 0.0]}

    def pct(resource: str, value: float) -> str:
        cap = float(Quantity.parse(str(allocatable.get(resource, "0"))).value) if allocatable.get(resource) else 0.0
        return f"{int(value / cap * 100) if cap else 0}%"

    def fmt(resource: str, value: float) -> str:
        if resource == "cpu":
            return f"{round(value * 1000)}m" if value and value < 1 else f"{value:g}"
        return str(int(value))

    for p in items:
        req: dict[str, float] = {}
        lim: dict[str, float] = {}
        for c in (p.get("spec") or {}).get("containers") or []:
            res = c.get("resources") or {}
            for k, v in (res.get("requests") or {}).items():
                req[k] = req.get(k, 0.0) + float(Quantity.parse(str(v)).value)
            for k, v in (res.get("limits") or {}).items():
                lim[k] = lim.get(k, 0.0) + float(Quantity.parse(str(v)).value)
        cells = []
        for r in ("cpu", "memory"):
            for values, i in ((req, 0), (lim, 1)):
                v = values.get(r, 0.0)
                totals[r][i] += v
                cells.append(f"{fmt(r, v)} ({pct(r, v)})")
        m = p["metadata"]
        page.w(1, f"{m.get('namespace')}\t{m.get('name')}\t\t" + "\t".join(cells) +
               f"\t{human_age(m.get('creationTimestamp'))}\n")
    page.w(0, "Allocated resources:\n")
    page.w(1, "(Total limits may be over 100 percent, i.e., overcommitted.)\n")
    page.w(1, "Resource\tRequests\tLimits\n")
    page.w(1, "--------\t--------\t------\n")
    for r, (rq, lm) in totals.items():
        page.w(1, f"{r}\t{fmt(r, rq)} ({pct(r, rq)})\t{fmt(r, lm)} ({pct(r, lm)})\n")


_DESCRIBERS: dict[str, Callable[[Session, JSON, list[JSON] | None], str]] = {
    "Pod": _pod, "Deployment": _deployment, "ReplicaSet": _replica_set, "Service": _service,
    "Namespace": _namespace, "Node": _node,
}
