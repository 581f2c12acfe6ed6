"""Checks for core/v1 kinds and the meta types they embed, worded as kube-apiserver words them."""

from __future__ import annotations

from typing import Final

from api import errors, names, validation
from api.checks.common import (
    CIDR_ERROR,
    CORE,
    IP_ERROR,
    META,
    NON_NEGATIVE,
    cidr,
    ip_address,
    names_unique,
    non_negative,
    quantity,
    template_restart_policy,
)
from api.defaulting import VOLUME_SOURCES
from api.errors import Cause
from api.schema import JSON
from api.structure import join
from api.validation import validator

MAX_DATA_SIZE: Final = 1024 * 1024
STANDARD_CONTAINER_RESOURCES: Final = frozenset({"cpu", "memory", "ephemeral-storage"})
ENV_FIELD_PATHS: Final = (
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)
VOLUME_FIELD_PATHS: Final = (
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
)
RESOURCE_FIELD_NAMES: Final = (
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
)
SECRET_REQUIRED_KEYS: Final = {
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
}


# --- pods ---


@validator(CORE + "PodSpec")
def _pod_spec(spec: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    containers = spec.get("containers") or []
    if "containers" in spec and not containers:
        out.append(errors.required(join(path, "containers")))
    vol_names = names_unique(spec.get("volumes") or [], join(path, "volumes"), out) | validation.claim_volumes()
    seen = names_unique(containers, join(path, "containers"), out)
    names_unique(spec.get("initContainers") or [], join(path, "initContainers"), out, seen)
    for group in ("containers", "initContainers"):
        for i, c in enumerate(spec.get(group) or []):
            cpath = f"{join(path, group)}[{i}]"
            mount_paths: set[str] = set()
            for j, m in enumerate(c.get("volumeMounts") or []):
                if m.get("name") and m["name"] not in vol_names:
                    out.append(errors.not_found(f"{cpath}.volumeMounts[{j}].name", m["name"]))
                mount_path = m.get("mountPath")
                if mount_path in mount_paths:
                    out.append(errors.invalid(f"{cpath}.volumeMounts[{j}].mountPath", mount_path, "must be unique"))
                if isinstance(mount_path, str):
                    mount_paths.add(mount_path)
            if group == "initContainers" and c.get("restartPolicy") not in (None, "Always"):
                out.append(errors.not_supported(f"{cpath}.restartPolicy", c["restartPolicy"], ("Always",)))
            if group == "containers" and "restartPolicy" in c:
                out.append(errors.forbidden(f"{cpath}.restartPolicy", "may not be set for non-init containers"))
            if group == "containers" or c.get("restartPolicy") != "Always":
                for probe in ("livenessProbe", "startupProbe"):
                    threshold = (c.get(probe) or {}).get("successThreshold")
                    if isinstance(threshold, int) and threshold != 1:
                        out.append(errors.invalid(f"{cpath}.{probe}.successThreshold", threshold, "must be 1"))
            if group == "initContainers" and c.get("restartPolicy") != "Always":
                for field in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                    if field in c:
                        out.append(
                            errors.forbidden(
                                f"{cpath}.{field}", "may not be set for init containers without restartPolicy=Always"
                            )
                        )
    if spec.get("hostNetwork"):
        for i, c in enumerate(containers):
            for j, p in enumerate(c.get("ports") or []):
                if p.get("hostPort") not in (None, p.get("containerPort")):
                    out.append(
                        errors.invalid(
                            f"{join(path, 'containers')}[{i}].ports[{j}].containerPort",
                            p.get("containerPort"),
                            "must match `hostPort` when `hostNetwork` is true",
                        )
                    )
    out.extend(non_negative(spec, path, "terminationGracePeriodSeconds"))
    deadline = spec.get("activeDeadlineSeconds")
    if isinstance(deadline, int) and deadline <= 0:
        out.append(
            errors.invalid(join(path, "activeDeadlineSeconds"), deadline, "must be between 1 and 2147483647, inclusive")
        )
    if spec.get("dnsPolicy") == "None" and not spec.get("dnsConfig"):
        out.append(errors.required(join(path, "dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None"))
    for key in ("hostname", "subdomain"):
        value = spec.get(key)
        if isinstance(value, str) and value:
            out.extend(errors.invalid(join(path, key), value, m) for m in names.dns1123_label(value))
    for key in ("serviceAccountName", "nodeName", "priorityClassName"):
        value = spec.get(key)
        if isinstance(value, str) and value:
            out.extend(errors.invalid(join(path, key), value, m) for m in names.dns1123_subdomain(value))
    out.extend(validation.validate_labels(spec.get("nodeSelector") or {}, join(path, "nodeSelector")))
    return out


def _resource_name(name: str) -> bool:
    if name in STANDARD_CONTAINER_RESOURCES or name.startswith("hugepages-"):
        return True
    return "/" in name and not names.qualified_name(name) and not name.startswith("kubernetes.io/")


@validator(CORE + "Container", CORE + "EphemeralContainer")
def _container(c: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    name = c.get("name")
    if isinstance(name, str):
        out.extend(errors.invalid(join(path, "name"), name, m) for m in names.dns1123_label(name))
    if not c.get("image"):
        out.append(errors.required(join(path, "image")))
    port_names: set[str] = set()
    for i, p in enumerate(c.get("ports") or []):
        ppath = f"{join(path, 'ports')}[{i}]"
        cp = p.get("containerPort")
        if isinstance(cp, int):
            out.extend(errors.invalid(f"{ppath}.containerPort", cp, m) for m in names.port_number(cp))
        hp = p.get("hostPort")
        if isinstance(hp, int) and hp != 0:
            out.extend(errors.invalid(f"{ppath}.hostPort", hp, m) for m in names.port_number(hp))
        pname = p.get("name")
        if pname:
            out.extend(errors.invalid(f"{ppath}.name", pname, m) for m in names.port_name(pname))
            if pname in port_names:
                out.append(errors.duplicate(f"{ppath}.name", pname))
            port_names.add(pname)
    for i, e in enumerate(c.get("env") or []):
        epath = f"{join(path, 'env')}[{i}]"
        ename = e.get("name")
        if isinstance(ename, str) and ename:
            out.extend(errors.invalid(f"{epath}.name", ename, m) for m in names.env_var_name(ename))
        source = e.get("valueFrom")
        if source is not None:
            if e.get("value"):
                out.append(errors.invalid(f"{epath}.valueFrom", "", "may not be specified when `value` is not empty"))
            kinds = [k for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef") if k in source]
            if len(kinds) > 1:
                out.append(
                    errors.invalid(f"{epath}.valueFrom", "", "may not have more than one field specified at a time")
                )
            elif not kinds:
                out.append(
                    errors.invalid(
                        f"{epath}.valueFrom",
                        "",
                        "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
                    )
                )
    out.extend(_resources(c.get("resources") or {}, join(path, "resources")))
    return out


def _resources(resources: JSON, path: str) -> list[Cause]:
    out: list[Cause] = []
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    for kind, values in (("limits", limits), ("requests", requests)):
        for rname, q in values.items():
            rpath = f"{path}.{kind}[{rname}]"
            if not _resource_name(rname):
                out.append(errors.invalid(rpath, rname, "must be a standard resource for containers"))
            parsed = quantity(q)
            if parsed is not None and parsed.value < 0:
                out.append(errors.invalid(rpath, q, NON_NEGATIVE))
    for rname, req in requests.items():
        lim = limits.get(rname)
        rq = quantity(req)
        lq = quantity(lim) if lim is not None else None
        if rq is not None and lq is not None and rq > lq:
            out.append(
                errors.invalid(
                    f"{path}.requests[{rname}]", req, f"must be less than or equal to {rname} limit of {lim}"
                )
            )
    return out


@validator(CORE + "Volume")
def _volume(v: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    name = v.get("name")
    if isinstance(name, str):
        out.extend(errors.invalid(join(path, "name"), name, m) for m in names.dns1123_label(name))
    sources = [k for k in VOLUME_SOURCES if k in v]
    if len(sources) > 1:
        out.append(errors.forbidden(join(path, sources[1]), "may not specify more than 1 volume type"))
    elif not sources:
        out.append(errors.required(path, "must specify a volume type"))
    return out


@validator(CORE + "KeyToPath", CORE + "DownwardAPIVolumeFile")
def _key_to_path(item: dict[str, JSON], path: str) -> list[Cause]:
    target = item.get("path")
    if not isinstance(target, str):
        return []
    if target.startswith("/"):
        return [errors.invalid(join(path, "path"), target, "must be a relative path")]
    if ".." in target.split("/"):
        return [errors.invalid(join(path, "path"), target, "must not contain '..'")]
    return []


def _field_path(path: str, value: str, allowed: tuple[str, ...]) -> list[Cause]:
    base = value.split("[", 1)[0]
    if "[" in value and base in ("metadata.labels", "metadata.annotations"):
        key = value[len(base) :].removeprefix("['").removesuffix("']")
        return [errors.invalid(path, value, m) for m in names.qualified_name(key)]
    if value not in allowed:
        return [errors.not_supported(path, value, allowed)]
    return []


@validator(CORE + "EnvVarSource")
def _env_var_source(source: dict[str, JSON], path: str) -> list[Cause]:
    field_path = (source.get("fieldRef") or {}).get("fieldPath")
    if isinstance(field_path, str):
        return _field_path(join(path, "fieldRef.fieldPath"), field_path, ENV_FIELD_PATHS)
    return []


@validator(CORE + "DownwardAPIVolumeFile")
def _downward_api_file(item: dict[str, JSON], path: str) -> list[Cause]:
    field_path = (item.get("fieldRef") or {}).get("fieldPath")
    if isinstance(field_path, str):
        return _field_path(join(path, "fieldRef.fieldPath"), field_path, VOLUME_FIELD_PATHS)
    return []


@validator(CORE + "ResourceFieldSelector")
def _resource_field_selector(sel: dict[str, JSON], path: str) -> list[Cause]:
    resource = sel.get("resource")
    if (
        isinstance(resource, str)
        and resource not in RESOURCE_FIELD_NAMES
        and not resource.startswith(("limits.hugepages-", "requests.hugepages-"))
    ):
        return [errors.not_supported(join(path, "resource"), resource, RESOURCE_FIELD_NAMES)]
    return []


@validator(CORE + "Probe")
def _probe(p: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    handlers = [k for k in ("exec", "httpGet", "tcpSocket", "grpc") if k in p]
    if not handlers:
        out.append(errors.required(path, "must specify a handler type"))
    elif len(handlers) > 1:
        out.append(errors.forbidden(join(path, handlers[1]), "may not specify more than 1 handler type"))
    out.extend(
        non_negative(
            p, path, "initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"
        )
    )
    return out


@validator(CORE + "Toleration")
def _toleration(t: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    if t.get("operator") == "Exists" and t.get("value"):
        out.append(
            errors.invalid(join(path, "operator"), t.get("operator"), "value must be empty when `operator` is 'Exists'")
        )
    if not t.get("key") and t.get("operator", "Equal") != "Exists":
        out.append(
            errors.invalid(
                join(path, "operator"),
                t.get("operator", "Equal"),
                'operator must be Exists when `key` is empty, which means "match all values and all keys"',
            )
        )
    if t.get("tolerationSeconds") is not None and t.get("effect") != "NoExecute":
        out.append(
            errors.invalid(
                join(path, "effect"), t.get("effect", ""), "effect must be 'NoExecute' when `tolerationSeconds` is set"
            )
        )
    key = t.get("key")
    if isinstance(key, str) and key:
        out.extend(errors.invalid(join(path, "key"), key, m) for m in names.qualified_name(key))
    return out


# --- services and endpoints ---


@validator(CORE + "ServiceSpec")
def _service_spec(spec: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    ports = spec.get("ports") or []
    svc_type = spec.get("type")
    cluster_ip = spec.get("clusterIP")
    headless = cluster_ip == "None"
    if not ports and svc_type != "ExternalName" and not headless:
        out.append(errors.required(join(path, "ports")))
    seen: set[str] = set()
    for i, p in enumerate(ports):
        ppath = f"{join(path, 'ports')}[{i}]"
        pname = p.get("name")
        if len(ports) > 1 and not pname:
            out.append(errors.required(f"{ppath}.name"))
        if pname:
            out.extend(errors.invalid(f"{ppath}.name", pname, m) for m in names.dns1123_label(pname))
            if pname in seen:
                out.append(errors.duplicate(f"{ppath}.name", pname))
            seen.add(pname)
        port = p.get("port")
        if isinstance(port, int):
            out.extend(errors.invalid(f"{ppath}.port", port, m) for m in names.port_number(port))
        target = p.get("targetPort")
        if isinstance(target, int):
            out.extend(errors.invalid(f"{ppath}.targetPort", target, m) for m in names.port_number(target))
        elif isinstance(target, str):
            out.extend(errors.invalid(f"{ppath}.targetPort", target, m) for m in names.port_name(target))
        if p.get("nodePort") and svc_type not in ("NodePort", "LoadBalancer"):
            out.append(errors.forbidden(f"{ppath}.nodePort", f"may not be used when `type` is '{svc_type}'"))
    if svc_type == "ExternalName":
        external = spec.get("externalName")
        if not external:
            out.append(errors.required(join(path, "externalName")))
        else:
            out.extend(
                errors.invalid(join(path, "externalName"), external, m)
                for m in names.dns1123_subdomain(str(external).rstrip("."))
            )
    if isinstance(cluster_ip, str) and cluster_ip and not headless and not ip_address(cluster_ip):
        out.append(errors.invalid(join(path, "clusterIP"), cluster_ip, IP_ERROR))
    if headless and svc_type in ("NodePort", "LoadBalancer"):
        out.append(
            errors.invalid(join(path, "clusterIP"), cluster_ip, f"may not be set to 'None' for {svc_type} services")
        )
    for i, ip in enumerate(spec.get("externalIPs") or []):
        if not ip_address(ip):
            out.append(errors.invalid(f"{join(path, 'externalIPs')}[{i}]", ip, IP_ERROR))
    if (
        spec.get("externalTrafficPolicy")
        and svc_type not in ("NodePort", "LoadBalancer")
        and not spec.get("externalIPs")
    ):
        out.append(
            errors.invalid(
                join(path, "externalTrafficPolicy"),
                spec["externalTrafficPolicy"],
                "may only be set when `type` is 'NodePort' or 'LoadBalancer'",
            )
        )
    timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
    if isinstance(timeout, int) and not 0 < timeout <= 86400:
        out.append(
            errors.invalid(
                join(path, "sessionAffinityConfig.clientIP.timeoutSeconds"),
                timeout,
                "must be greater than 0 and less than 86400",
            )
        )
    out.extend(validation.validate_labels(spec.get("selector") or {}, join(path, "selector")))
    return out


@validator(CORE + "EndpointSubset")
def _endpoint_subset(subset: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    for key in ("addresses", "notReadyAddresses"):
        for i, addr in enumerate(subset.get(key) or []):
            ip = addr.get("ip")
            if isinstance(ip, str) and not ip_address(ip):
                out.append(errors.invalid(f"{join(path, key)}[{i}].ip", ip, IP_ERROR))
    for i, port in enumerate(subset.get("ports") or []):
        number = port.get("port")
        if isinstance(number, int):
            out.extend(errors.invalid(f"{join(path, 'ports')}[{i}].port", number, m) for m in names.port_number(number))
    return out


# --- configuration ---


@validator(CORE + "ConfigMap", CORE + "Secret")
def _data_keys(obj: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    seen: set[str] = set()
    for field in ("data", "binaryData", "stringData"):
        for key in obj.get(field) or {}:
            out.extend(errors.invalid(f"{join(path, field)}[{key}]", key, m) for m in names.config_map_key(key))
            if field != "stringData":
                if key in seen:
                    out.append(errors.invalid(f"{join(path, field)}[{key}]", key, "duplicate of key present in `data`"))
                seen.add(key)
    return out


@validator(CORE + "ConfigMap")
def _config_map_size(obj: dict[str, JSON], path: str) -> list[Cause]:
    total = sum(len(k) + len(str(v)) for field in ("data", "binaryData") for k, v in (obj.get(field) or {}).items())
    return [errors.too_long(join(path, "data"), MAX_DATA_SIZE)] if total > MAX_DATA_SIZE else []


@validator(CORE + "Secret")
def _secret(obj: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    data = obj.get("data") or {}
    # data values are base64: three bytes for every four characters.
    if sum(len(str(v)) * 3 // 4 for v in data.values()) > MAX_DATA_SIZE:
        out.append(errors.too_long(join(path, "data"), MAX_DATA_SIZE))
    present = {*data, *(obj.get("stringData") or {})}
    for key in SECRET_REQUIRED_KEYS.get(str(obj.get("type", "")), ()):
        if key not in present:
            out.append(errors.required(f"{join(path, 'data')}[{key}]"))
    if obj.get("type") == "kubernetes.io/service-account-token":
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if not annotations.get("kubernetes.io/service-account.name"):
            out.append(errors.required("metadata.annotations[kubernetes.io/service-account.name]"))
    return out


# --- replication controllers ---


@validator(CORE + "ReplicationControllerSpec")
def _rc_spec(spec: dict[str, JSON], path: str) -> list[Cause]:
    selector = spec.get("selector") or {}
    if not selector:
        return [errors.required(join(path, "selector"))]
    out = validation.validate_labels(selector, join(path, "selector"))
    tlabels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not all(tlabels.get(k) == v for k, v in selector.items()):
        out.append(
            errors.invalid(
                join(path, "template.metadata.labels"), tlabels, "`selector` does not match template `labels`"
            )
        )
    out.extend(template_restart_policy(spec, path, ("Always",)))
    out.extend(non_negative(spec, path, "replicas", "minReadySeconds"))
    return out


# --- nodes and storage ---


@validator(CORE + "NodeSpec")
def _node_spec(spec: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    seen: set[tuple[str, str]] = set()
    for i, taint in enumerate(spec.get("taints") or []):
        tpath = f"{join(path, 'taints')}[{i}]"
        key = taint.get("key", "")
        out.extend(errors.invalid(f"{tpath}.key", key, m) for m in names.qualified_name(key))
        if taint.get("value"):
            out.extend(errors.invalid(f"{tpath}.value", taint["value"], m) for m in names.label_value(taint["value"]))
        ident = (key, taint.get("effect", ""))
        if ident in seen:
            out.append(errors.duplicate(tpath, f"{key}:{taint.get('effect', '')}"))
        seen.add(ident)
    for key in ("podCIDR",):
        value = spec.get(key)
        if isinstance(value, str) and value and not cidr(value):
            out.append(errors.invalid(join(path, key), value, CIDR_ERROR))
    for i, value in enumerate(spec.get("podCIDRs") or []):
        if not cidr(value):
            out.append(errors.invalid(f"{join(path, 'podCIDRs')}[{i}]", value, CIDR_ERROR))
    return out


@validator(CORE + "PersistentVolumeClaimSpec")
def _pvc_spec(spec: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    if not spec.get("accessModes") and not spec.get("dataSourceRef"):
        out.append(errors.required(join(path, "accessModes"), "at least 1 access mode is required"))
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if storage is None:
        out.append(errors.required(f"{join(path, 'resources')}[storage]"))
    else:
        q = quantity(storage)
        if q is not None and q.value <= 0:
            out.append(errors.invalid(f"{join(path, 'resources')}[storage]", storage, "must be greater than zero"))
    return out


@validator(CORE + "PersistentVolumeSpec")
def _pv_spec(spec: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    if not spec.get("accessModes"):
        out.append(errors.required(join(path, "accessModes")))
    if "storage" not in (spec.get("capacity") or {}):
        out.append(errors.required(join(path, "capacity")))
    sources = [k for k in validation.PV_SOURCE_FIELDS if k in spec]
    if not sources:
        out.append(errors.required(path, "must specify a volume type"))
    elif len(sources) > 1:
        out.append(errors.forbidden(join(path, sources[1]), "may not specify more than 1 volume type"))
    return out


# --- quotas and limits ---


@validator(CORE + "LimitRangeItem")
def _limit_range_item(item: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    bounds = {key: item.get(key) or {} for key in ("min", "max", "default", "defaultRequest")}
    for name, top in bounds["max"].items():
        high = quantity(top)
        for key in ("min", "default", "defaultRequest"):
            value = bounds[key].get(name)
            q = quantity(value) if value is not None else None
            if q is not None and high is not None and q > high:
                out.append(
                    errors.invalid(
                        f"{join(path, key)}[{name}]", value, f"{key} value {value} is greater than max value {top}"
                    )
                )
    for name, bottom in bounds["min"].items():
        low = quantity(bottom)
        for key in ("default", "defaultRequest"):
            value = bounds[key].get(name)
            q = quantity(value) if value is not None else None
            if q is not None and low is not None and q < low:
                out.append(
                    errors.invalid(
                        f"{join(path, key)}[{name}]", value, f"min value {bottom} is greater than {key} value {value}"
                    )
                )
    return out


@validator(CORE + "ResourceQuotaSpec")
def _resource_quota_spec(spec: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    for name, value in (spec.get("hard") or {}).items():
        q = quantity(value)
        if q is not None and q.value < 0:
            out.append(errors.invalid(f"{join(path, 'hard')}[{name}]", value, NON_NEGATIVE))
    return out


# --- meta ---


@validator(CORE + "PodTemplateSpec", "io.k8s.api.batch.v1.JobTemplateSpec", CORE + "PersistentVolumeClaimTemplate")
def _template_metadata(tmpl: dict[str, JSON], path: str) -> list[Cause]:
    """Templates carry metadata that becomes the created objects': its labels must be valid labels."""
    meta = tmpl.get("metadata") or {}
    out = validation.validate_labels(meta.get("labels") or {}, join(path, "metadata.labels"))
    out.extend(validation.validate_annotations(meta.get("annotations") or {}, join(path, "metadata.annotations")))
    return out


@validator(META + "LabelSelector")
def _label_selector(sel: dict[str, JSON], path: str) -> list[Cause]:
    out = validation.validate_labels(sel.get("matchLabels") or {}, join(path, "matchLabels"))
    for i, expr in enumerate(sel.get("matchExpressions") or []):
        epath = f"{join(path, 'matchExpressions')}[{i}]"
        op = expr.get("operator")
        values = expr.get("values") or []
        if op in ("In", "NotIn") and not values:
            out.append(errors.required(f"{epath}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist") and values:
            out.append(
                errors.forbidden(
                    f"{epath}.values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                )
            )
        elif op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            out.append(errors.invalid(f"{epath}.operator", op, "not a valid selector operator"))
        key = expr.get("key")
        if isinstance(key, str):
            out.extend(errors.invalid(f"{epath}.key", key, m) for m in names.qualified_name(key))
    return out


@validator(CORE + "NamespaceSpec")
def _namespace_spec(spec: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    for i, fin in enumerate(spec.get("finalizers") or []):
        out.extend(errors.invalid(f"{join(path, 'finalizers')}[{i}]", fin, m) for m in names.qualified_name(fin))
    return out
