"""The objects ``tkctl create <kind>`` builds, shaped exactly as kubectl's generators shape them."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

from tkctl.errors import CliError

JSON = dict[str, Any]


def _meta(name: str, labels: dict[str, str] | None = None) -> JSON:
    meta: JSON = {"creationTimestamp": None, "name": name}
    if labels:
        meta["labels"] = labels
    return meta


def _container_name(image: str) -> str:
    """kubectl names a container after its image: last path segment, tag and digest dropped."""
    base = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
    return re.sub(r"[^a-z0-9-]", "-", base.lower())


def deployment(name: str, images: list[str], replicas: int, port: int | None, command: list[str]) -> JSON:
    labels = {"app": name}
    containers: list[JSON] = []
    for i, image in enumerate(images):
        c: JSON = {"image": image, "name": _container_name(image), "resources": {}}
        if command and i == 0:
            c["command"] = command
        if port is not None and port >= 0 and i == 0:
            c["ports"] = [{"containerPort": port}]
        containers.append(c)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(name, labels),
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "strategy": {},
                     "template": {"metadata": {"creationTimestamp": None, "labels": labels},
                                  "spec": {"containers": containers}}},
            "status": {}}


def _key_value(text: str, flag: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise CliError(f"invalid literal source {text}, expected key=value")
    return key, value


def _file_sources(sources: list[str]) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for src in sources:
        key, sep, path = src.partition("=")
        if not sep:
            key, path = "", src
        p = Path(path)
        if p.is_dir():
            out += [(f.name, f.read_bytes()) for f in sorted(p.iterdir()) if f.is_file()]
            continue
        if not p.exists():
            raise CliError(f"error reading {path}: no such file or directory")
        out.append((key or p.name, p.read_bytes()))
    return out


def _env_file(paths: list[str]) -> list[tuple[str, str]]:
    out = []
    for path in paths:
        for raw in Path(path).read_text().splitlines():
            line = raw.strip()
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                out.append((key, value))
    return out


def configmap(name: str, literals: list[str], files: list[str], env_files: list[str]) -> JSON:
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    for lit in literals:
        key, value = _key_value(lit, "--from-literal")
        data[key] = value
    for key, raw in _file_sources(files):
        try:
            data[key] = raw.decode("utf-8")
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(raw).decode()
    for key, value in _env_file(env_files):
        data[key] = value
    obj: JSON = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(name)}
    if binary:
        obj["binaryData"] = binary
    if data:
        obj["data"] = data
    return obj


def secret(name: str, literals: list[str], files: list[str], env_files: list[str], type_: str) -> JSON:
    data: dict[str, str] = {}
    for lit in literals:
        key, value = _key_value(lit, "--from-literal")
        data[key] = base64.b64encode(value.encode()).decode()
    for key, raw in _file_sources(files):
        data[key] = base64.b64encode(raw).decode()
    for key, value in _env_file(env_files):
        data[key] = base64.b64encode(value.encode()).decode()
    obj: JSON = {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(name)}
    if data:
        obj["data"] = data
    if type_:
        obj["type"] = type_
    return obj


def tls_secret(name: str, cert: str, key: str) -> JSON:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(name), "type": "kubernetes.io/tls",
            "data": {"tls.crt": base64.b64encode(Path(cert).read_bytes()).decode(),
                     "tls.key": base64.b64encode(Path(key).read_bytes()).decode()}}


def namespace(name: str) -> JSON:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(name), "spec": {}, "status": {}}


def service(name: str, type_: str, tcp: list[str], *, cluster_ip: str | None, node_port: int | None,
            external_name: str | None) -> JSON:
    labels = {"app": name}
    spec: JSON = {"selector": labels, "type": type_}
    ports = []
    for mapping in tcp:
        port_text, _, target_text = mapping.partition(":")
        port = int(port_text)
        target: int | str = target_text or port
        if isinstance(target, str) and target.isdigit():
            target = int(target)
        entry: JSON = {"name": f"{port}-{target}" if target_text else str(port), "port": port,
                       "protocol": "TCP", "targetPort": target}
        if node_port:
            entry["nodePort"] = node_port
        ports.append(entry)
    if ports:
        spec["ports"] = ports
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    if external_name:
        spec["externalName"] = external_name
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, labels), "spec": spec,
            "status": {"loadBalancer": {}}}


def _pod_template(name: str, image: str, command: list[str], restart: str) -> JSON:
    container: JSON = {"image": image, "name": name, "resources": {}}
    if command:
        container["command"] = command
    return {"metadata": {"creationTimestamp": None}, "spec": {"containers": [container], "restartPolicy": restart}}


def job(name: str, image: str, command: list[str]) -> JSON:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": _meta(name),
            "spec": {"template": _pod_template(name, image, command, "Never")}, "status": {}}


def job_from_cronjob(name: str, cronjob: JSON) -> JSON:
    template = dict((cronjob.get("spec") or {}).get("jobTemplate") or {})
    meta = cronjob.get("metadata") or {}
    annotations = {"cronjob.kubernetes.io/instantiate": "manual", **((template.get("metadata") or {})
                                                                     .get("annotations") or {})}
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"annotations": annotations, "creationTimestamp": None,
                         "labels": (template.get("metadata") or {}).get("labels") or None, "name": name,
                         "ownerReferences": [{"apiVersion": "batch/v1", "controller": True, "kind": "CronJob",
                                              "name": meta.get("name"), "uid": meta.get("uid")}]},
            "spec": template.get("spec") or {}, "status": {}}


def cronjob(name: str, image: str, schedule: str, command: list[str], restart: str) -> JSON:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": _meta(name),
            "spec": {"jobTemplate": {"metadata": {"creationTimestamp": None, "name": name},
                                     "spec": {"template": _pod_template(name, image, command, restart)}},
                     "schedule": schedule},
            "status": {}}


def service_account(name: str) -> JSON:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name)}


def rules(verbs: list[str], resources: list[str], resource_names: list[str],
          non_resource_urls: list[str]) -> list[JSON]:
    """Role rules, one per API group, as ``kubectl create role`` groups them."""
    by_group: dict[str, list[str]] = {}
    for res in resources:
        base, _, group = res.partition(".")
        by_group.setdefault(group, []).append(base)
    out: list[JSON] = []
    for group, names in by_group.items():
        rule: JSON = {"apiGroups": [group]}
        if resource_names:
            rule["resourceNames"] = resource_names
        rule["resources"] = names
        rule["verbs"] = verbs
        out.append(rule)
    if non_resource_urls:
        out.append({"nonResourceURLs": non_resource_urls, "verbs": verbs})
    return out


def role(kind: str, name: str, rule_list: list[JSON]) -> JSON:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": _meta(name), "rules": rule_list}


def binding(kind: str, name: str, role_kind: str, role_name: str, *, users: list[str], groups: list[str],
            service_accounts: list[str]) -> JSON:
    rbac = "rbac.authorization.k8s.io"
    subjects: list[JSON] = [{"apiGroup": rbac, "kind": "User", "name": u} for u in users]
    subjects += [{"apiGroup": rbac, "kind": "Group", "name": g} for g in groups]
    for sa in service_accounts:
        ns, sep, sa_name = sa.partition(":")
        if not sep:
            raise CliError("serviceaccount must be <namespace>:<name>")
        subjects.append({"kind": "ServiceAccount", "name": sa_name, "namespace": ns})
    obj: JSON = {"apiVersion": f"{rbac}/v1", "kind": kind, "metadata": _meta(name),
                 "roleRef": {"apiGroup": rbac, "kind": role_kind, "name": role_name}}
    if subjects:
        obj["subjects"] = subjects
    return obj
