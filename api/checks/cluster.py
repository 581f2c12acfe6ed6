"""Checks for cluster-level groups: RBAC, networking, discovery, storage, scheduling, certificates, leases."""

from __future__ import annotations

import ipaddress
from typing import Final

from api import errors, names
from api.checks.common import CIDR_ERROR, cidr, ip_address, non_negative
from api.errors import Cause
from api.schema import JSON
from api.structure import join
from api.validation import validator

RBAC: Final = "io.k8s.api.rbac.v1."
NETWORKING: Final = "io.k8s.api.networking.v1."
RBAC_GROUP: Final = "rbac.authorization.k8s.io"
MAX_SLICE_ENDPOINTS: Final = 1000


# --- RBAC ---


@validator(RBAC + "PolicyRule")
def _policy_rule(rule: dict[str, JSON], path: str) -> list[Cause]:
    if not rule.get("verbs"):
        return [errors.required(join(path, "verbs"), "verbs must contain at least one value")]
    if rule.get("nonResourceURLs"):
        if rule.get("resources") or rule.get("apiGroups"):
            return [
                errors.invalid(
                    join(path, "nonResourceURLs"),
                    rule["nonResourceURLs"],
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
            ]
        return []
    if not rule.get("resources"):
        return [errors.required(join(path, "resources"), "resource rules must supply at least one resource")]
    if rule.get("apiGroups") is None:
        return [errors.required(join(path, "apiGroups"), "resource rules must supply at least one api group")]
    return []


@validator(RBAC + "Role", RBAC + "ClusterRole")
def _role(obj: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    for i, rule in enumerate(obj.get("rules") or []):
        if rule.get("nonResourceURLs") and (obj.get("metadata") or {}).get("namespace"):
            out.append(
                errors.invalid(
                    f"rules[{i}].nonResourceURLs",
                    rule["nonResourceURLs"],
                    "namespaced rules cannot apply to non-resource URLs",
                )
            )
    return out


def _binding(obj: dict[str, JSON], cluster: bool) -> list[Cause]:
    out: list[Cause] = []
    ref = obj.get("roleRef") or {}
    allowed = ("ClusterRole",) if cluster else ("Role", "ClusterRole")
    if ref.get("kind") and ref["kind"] not in allowed:
        out.append(errors.not_supported("roleRef.kind", ref["kind"], allowed))
    if ref.get("apiGroup") and ref["apiGroup"] != RBAC_GROUP:
        out.append(errors.not_supported("roleRef.apiGroup", ref["apiGroup"], (RBAC_GROUP,)))
    if ref.get("name"):
        out.extend(errors.invalid("roleRef.name", ref["name"], m) for m in names.path_segment_name(ref["name"]))
    for i, subject in enumerate(obj.get("subjects") or []):
        spath = f"subjects[{i}]"
        kind = subject.get("kind")
        if kind == "ServiceAccount":
            if subject.get("apiGroup"):
                out.append(errors.not_supported(f"{spath}.apiGroup", subject["apiGroup"], ("",)))
            if cluster and not subject.get("namespace"):
                out.append(errors.required(f"{spath}.namespace"))
            name = subject.get("name")
            if isinstance(name, str) and name:
                out.extend(errors.invalid(f"{spath}.name", name, m) for m in names.dns1123_subdomain(name))
        elif kind in ("User", "Group"):
            if subject.get("apiGroup") != RBAC_GROUP:
                out.append(errors.not_supported(f"{spath}.apiGroup", subject.get("apiGroup", ""), (RBAC_GROUP,)))
        elif kind is not None:
            out.append(errors.not_supported(f"{spath}.kind", kind, ("ServiceAccount", "User", "Group")))
    return out


@validator(RBAC + "RoleBinding")
def _role_binding(obj: dict[str, JSON], path: str) -> list[Cause]:
    return _binding(obj, cluster=False)


@validator(RBAC + "ClusterRoleBinding")
def _cluster_role_binding(obj: dict[str, JSON], path: str) -> list[Cause]:
    return _binding(obj, cluster=True)


# --- networking ---


@validator(NETWORKING + "IPBlock")
def _ip_block(block: dict[str, JSON], path: str) -> list[Cause]:
    base = block.get("cidr")
    if not isinstance(base, str) or not cidr(base):
        return [errors.invalid(join(path, "cidr"), base, CIDR_ERROR)]
    network = ipaddress.ip_network(base, strict=False)
    out: list[Cause] = []
    for i, value in enumerate(block.get("except") or []):
        epath = f"{join(path, 'except')}[{i}]"
        if not cidr(value):
            out.append(errors.invalid(epath, value, CIDR_ERROR))
            continue
        excluded = ipaddress.ip_network(value, strict=False)
        if excluded.version != network.version or not excluded.subnet_of(network):  # type: ignore[arg-type]
            out.append(errors.invalid(epath, value, "must be a strict subset of `cidr`"))
    return out


@validator(NETWORKING + "NetworkPolicyPort")
def _network_policy_port(port: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    number, end = port.get("port"), port.get("endPort")
    if isinstance(number, int):
        out.extend(errors.invalid(join(path, "port"), number, m) for m in names.port_number(number))
    elif isinstance(number, str):
        out.extend(errors.invalid(join(path, "port"), number, m) for m in names.port_name(number))
    if end is not None:
        if not isinstance(number, int):
            out.append(errors.required(join(path, "port"), "must be specified when endPort is specified"))
        elif isinstance(end, int) and end < number:
            out.append(errors.invalid(join(path, "endPort"), end, "must be greater than or equal to `port`"))
    return out


@validator(NETWORKING + "IngressRule")
def _ingress_rule(rule: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    host = rule.get("host")
    if isinstance(host, str) and host:
        if ip_address(host):
            out.append(errors.invalid(join(path, "host"), host, "must be a DNS name, not an IP address"))
        else:
            bare = host[2:] if host.startswith("*.") else host
            out.extend(errors.invalid(join(path, "host"), host, m) for m in names.dns1123_subdomain(bare))
    return out


@validator(NETWORKING + "HTTPIngressPath")
def _ingress_path(p: dict[str, JSON], path: str) -> list[Cause]:
    value = p.get("path")
    if p.get("pathType") in ("Exact", "Prefix") and (not isinstance(value, str) or not value.startswith("/")):
        return [errors.invalid(join(path, "path"), value or "", "must be an absolute path")]
    return []


@validator(NETWORKING + "IngressBackend")
def _ingress_backend(backend: dict[str, JSON], path: str) -> list[Cause]:
    if "service" in backend and "resource" in backend:
        return [errors.invalid(path, "", "cannot set both resource and service backends")]
    if "service" not in backend and "resource" not in backend:
        return [errors.invalid(path, "", "resource or service backend is required")]
    port = (backend.get("service") or {}).get("port")
    if isinstance(port, dict):
        if "name" in port and "number" in port:
            return [errors.invalid(join(path, "service.port"), port, "cannot set both port name & port number")]
        if "name" not in port and "number" not in port:
            return [errors.invalid(join(path, "service.port"), port, "port name or number is required")]
    return []


# --- discovery ---


@validator("io.k8s.api.discovery.v1.EndpointSlice")
def _endpoint_slice(obj: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    endpoints = obj.get("endpoints") or []
    family = {"IPv4": 4, "IPv6": 6}.get(str(obj.get("addressType")))
    if len(endpoints) > MAX_SLICE_ENDPOINTS:
        out.append(errors.too_many("endpoints", len(endpoints), MAX_SLICE_ENDPOINTS))
    for i, ep in enumerate(endpoints):
        addresses = ep.get("addresses") or []
        if not addresses or len(addresses) > 100:
            out.append(
                errors.invalid(
                    f"endpoints[{i}].addresses",
                    addresses,
                    "must contain at least 1 address but no more than 100 addresses",
                )
            )
        for j, addr in enumerate(addresses):
            apath = f"endpoints[{i}].addresses[{j}]"
            if family is not None:
                try:
                    ok = ipaddress.ip_address(addr).version == family
                except ValueError:
                    ok = False
                if not ok:
                    out.append(errors.invalid(apath, addr, f"must be a valid IPv{family} address"))
            else:
                out.extend(errors.invalid(apath, addr, m) for m in names.dns1123_subdomain(addr))
    for i, port in enumerate(obj.get("ports") or []):
        name = port.get("name")
        if isinstance(name, str) and name:
            out.extend(errors.invalid(f"ports[{i}].name", name, m) for m in names.dns1123_label(name))
    return out


# --- storage, scheduling, certificates, coordination ---


@validator("io.k8s.api.storage.v1.StorageClass")
def _storage_class(obj: dict[str, JSON], path: str) -> list[Cause]:
    provisioner = obj.get("provisioner")
    if isinstance(provisioner, str) and provisioner:
        return [errors.invalid("provisioner", provisioner, m) for m in names.qualified_name(provisioner)]
    return []


@validator("io.k8s.api.scheduling.v1.PriorityClass")
def _priority_class(pc: dict[str, JSON], path: str) -> list[Cause]:
    value = pc.get("value")
    name = (pc.get("metadata") or {}).get("name", "")
    if isinstance(value, int) and value > 1_000_000_000 and not str(name).startswith("system-"):
        return [errors.forbidden(join(path, "value"), "maximum allowed value of a user defined priority is 1000000000")]
    return []


@validator("io.k8s.api.certificates.v1.CertificateSigningRequestSpec")
def _csr_spec(spec: dict[str, JSON], path: str) -> list[Cause]:
    out: list[Cause] = []
    signer = spec.get("signerName")
    if isinstance(signer, str) and signer and "/" not in signer:
        out.append(
            errors.invalid(
                join(path, "signerName"),
                signer,
                "must be a fully qualified domain and path of the form 'example.com/signer-name'",
            )
        )
    seconds = spec.get("expirationSeconds")
    if isinstance(seconds, int) and seconds < 600:
        out.append(
            errors.invalid(
                join(path, "expirationSeconds"),
                seconds,
                "may not specify a duration less than 600 seconds (10 minutes)",
            )
        )
    return out


@validator("io.k8s.api.coordination.v1.LeaseSpec")
def _lease_spec(spec: dict[str, JSON], path: str) -> list[Cause]:
    out = non_negative(spec, path, "leaseTransitions")
    duration = spec.get("leaseDurationSeconds")
    if isinstance(duration, int) and duration <= 0:
        out.append(errors.invalid(join(path, "leaseDurationSeconds"), duration, "must be greater than 0"))
    return out
