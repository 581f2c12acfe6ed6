"""The pod parts of kubectl's describe pages: containers, volumes, tolerations, pod templates, the pod page."""

from __future__ import annotations

from typing import Any

from tkctl.describe_format import (
    Page,
    Subject,
    annotations_lines,
    human_age,
    labels_lines,
    map_selector_text,
    present_lines,
    rfc1123z,
)

JSON = dict[str, Any]


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
    _listed(page, lvl, "Environment", [f"{e.get('name')}:\t{_env_value(e, pod_name)}" for e in c.get("env") or []])
    mounts = sorted(c.get("volumeMounts") or [], key=lambda m: str(m.get("mountPath")))
    _listed(page, lvl, "Mounts", [f"{m.get('mountPath')} from {m.get('name')} ({'ro' if m.get('readOnly') else 'rw'}"
                                  + (f",path=\"{m['subPath']}\"" if m.get("subPath") else "") + ")" for m in mounts])


def _listed(page: Page, level: int, title: str, lines: list[str]) -> None:
    """``Title:\t<none>``, or ``Title:`` then each line one level in."""
    if not lines:
        page.w(level, f"{title}:\t<none>\n")
        return
    page.w(level, f"{title}:\n")
    for text in lines:
        page.w(level + 1, text + "\n")


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


def pod_template(page: Page, template: JSON, level: int) -> None:
    """``Pod Template:`` of a workload, at ``level``."""
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


def pod_body(page: Page, subject: Subject) -> None:
    """A pod's page between its Namespace line and its events."""
    meta, spec, status = subject.meta, subject.spec, subject.status
    if spec.get("priorityClassName"):
        page.w(0, f"Priority:\t{spec.get('priority', 0)}\n")
        page.w(0, f"Priority Class Name:\t{spec['priorityClassName']}\n")
    else:
        page.w(0, f"Priority:\t{spec.get('priority', 0)}\n")
    present_lines(page, 0, spec, (("Runtime Class Name", "runtimeClassName"),
                                  ("Service Account", "serviceAccountName")))
    node = spec.get("nodeName")
    page.w(0, f"Node:\t{node + '/' + status.get('hostIP', '') if node else '<none>'}\n")
    if status.get("startTime"):
        page.w(0, f"Start Time:\t{rfc1123z(status['startTime'])}\n")
    labels_lines(page, 0, "Labels", meta.get("labels"))
    annotations_lines(page, 0, meta.get("annotations"))
    if meta.get("deletionTimestamp"):
        page.w(0, f"Status:\tTerminating (lasts {human_age(meta['deletionTimestamp'])})\n")
        page.w(0, f"Termination Grace Period:\t{meta.get('deletionGracePeriodSeconds', 0)}s\n")
    else:
        page.w(0, f"Status:\t{status.get('phase', '')}\n")
    present_lines(page, 0, status, (("Reason", "reason"), ("Message", "message")))
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
