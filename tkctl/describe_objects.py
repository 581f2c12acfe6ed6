"""The sections of kubectl's describe pages for services, namespaces, config maps, secrets, service
accounts, claims, endpoints and RBAC objects."""

from __future__ import annotations

import base64
from typing import Any

from client.errors import NotFound
from tkctl.describe_format import Page, Subject, annotations_lines, labels_lines, map_selector_text, present_lines
from tkctl.session import Session

JSON = dict[str, Any]


def service_spec(page: Page, subject: Subject) -> None:
    """A service's selector, type, IPs and ports with their endpoints."""
    s, meta, spec = subject.session, subject.meta, subject.spec
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
    present_lines(page, 0, spec, (("Session Affinity", "sessionAffinity"),
                                  ("External Traffic Policy", "externalTrafficPolicy"),
                                  ("Internal Traffic Policy", "internalTrafficPolicy")))


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


def namespace_status(page: Page, subject: Subject) -> None:
    """A namespace's phase, quotas and limit ranges."""
    s = subject.session
    page.w(0, f"Status:\t{subject.status.get('phase', '')}\n")
    name = subject.meta.get("name")
    quotas = s.client.request("GET", f"/api/v1/namespaces/{name}/resourcequotas")
    limits = s.client.request("GET", f"/api/v1/namespaces/{name}/limitranges")
    page.w(0, "\n")
    page.w(0, "No resource quota.\n" if not (quotas or {}).get("items") else "Resource Quotas\n")
    page.w(0, "\n")
    page.w(0, "No LimitRange resource.\n" if not (limits or {}).get("items") else "Resource Limits\n")


def config_map_data(page: Page, subject: Subject) -> None:
    page.w(0, "\nData\n====\n")
    for key, value in sorted((subject.obj.get("data") or {}).items()):
        page.w(0, f"{key}:\n----\n")
        page.w(0, f"{value}\n")
        page.w(0, "\n")
    page.w(0, "\nBinaryData\n====\n")
    for key, value in sorted((subject.obj.get("binaryData") or {}).items()):
        page.w(0, f"{key}: {len(base64.b64decode(value))} bytes\n")
    page.w(0, "\n")


def secret_data(page: Page, subject: Subject) -> None:
    """The secret's type and each key's size (a service account token itself is shown)."""
    type_ = subject.obj.get("type", "")
    page.w(0, f"\nType:\t{type_}\n")
    page.w(0, "\nData\n====\n")
    for key, value in sorted((subject.obj.get("data") or {}).items()):
        raw = base64.b64decode(value)
        if key == "token" and type_ == "kubernetes.io/service-account-token":
            page.w(0, f"{key}:\t{raw.decode(errors='replace')}\n")
        else:
            page.w(0, f"{key}:\t{len(raw)} bytes\n")


def service_account_secrets(page: Page, subject: Subject) -> None:
    """Image pull, mountable and token secrets, each marked when it does not exist."""
    meta = subject.meta
    listing = subject.session.client.request("GET", f"/api/v1/namespaces/{meta.get('namespace')}/secrets")
    secrets = (listing or {}).get("items") or []
    existing = {s["metadata"]["name"] for s in secrets}
    tokens = [s["metadata"]["name"] for s in secrets if s.get("type") == "kubernetes.io/service-account-token" and
              (s["metadata"].get("annotations") or {}).get("kubernetes.io/service-account.name") == meta.get("name")]
    groups = {"Image pull secrets:": [r.get("name") for r in subject.obj.get("imagePullSecrets") or []],
              "Mountable secrets: ": [r.get("name") for r in subject.obj.get("secrets") or []],
              "Tokens:            ": tokens}
    for header, names in sorted(groups.items()):
        if not names:
            page.w(0, f"{header}\t<none>\n")
        for i, name in enumerate(names):
            page.w(0, f"{header if i == 0 else ' ' * 19}\t{name}{'' if name in existing else ' (not found)'}\n")


_ACCESS_MODES = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}


def claim_status(page: Page, subject: Subject) -> None:
    """A claim's class, phase, volume, capacity and access modes once bound, and the pods using it."""
    from tkctl.describe_workloads import claim_class  # noqa: PLC0415

    meta, spec, st = subject.meta, subject.spec, subject.status
    page.w(0, f"StorageClass:\t{claim_class(subject.obj)}\n")
    page.w(0, f"Status:\t{st.get('phase', '')}\n")
    page.w(0, f"Volume:\t{spec.get('volumeName', '')}\n")
    labels_lines(page, 0, "Labels", meta.get("labels"))
    annotations_lines(page, 0, meta.get("annotations"))
    page.w(0, f"Finalizers:\t[{' '.join(meta.get('finalizers') or [])}]\n")
    bound = bool(spec.get("volumeName"))
    page.w(0, f"Capacity:\t{(st.get('capacity') or {}).get('storage', '') if bound else ''}\n")
    modes = [_ACCESS_MODES.get(m, m) for m in st.get("accessModes") or []] if bound else []
    page.w(0, f"Access Modes:\t{','.join(modes)}\n")
    if spec.get("volumeMode"):
        page.w(0, f"VolumeMode:\t{spec['volumeMode']}\n")
    pods = subject.session.client.request("GET", f"/api/v1/namespaces/{meta.get('namespace')}/pods")
    users = sorted(p["metadata"]["name"] for p in (pods or {}).get("items") or []
                   if any((v.get("persistentVolumeClaim") or {}).get("claimName") == meta.get("name")
                          for v in (p.get("spec") or {}).get("volumes") or []))
    labels_lines(page, 0, "Used By", dict.fromkeys(users, ""), sep="")


def endpoints_subsets(page: Page, subject: Subject) -> None:
    page.w(0, "Subsets:\n")
    for subset in subject.obj.get("subsets") or []:
        for title, key in (("Addresses", "addresses"), ("NotReadyAddresses", "notReadyAddresses")):
            page.w(1, f"{title}:\t{','.join(a.get('ip', '') for a in subset.get(key) or []) or '<none>'}\n")
        if subset.get("ports"):
            page.w(1, "Ports:\n")
            page.w(2, "Name\tPort\tProtocol\n")
            page.w(2, "----\t----\t--------\n")
            for port in subset["ports"]:
                page.w(2, f"{port.get('name') or '<unset>'}\t{port.get('port')}\t{port.get('protocol', '')}\n")
        page.w(0, "\n")


def _go_list(values: list[str] | None) -> str:
    return f"[{' '.join(values or [])}]"


def _breakdown(rules: list[JSON]) -> list[JSON]:
    """kubectl's rbac.BreakdownRule then CompactRules: one rule per resource (and name), verbs merged."""
    simple: dict[tuple[str, str, str | None], JSON] = {}
    out: list[JSON] = []
    for rule in rules:
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                for name in rule.get("resourceNames") or [None]:
                    key = (group, resource, name)
                    if key in simple:
                        simple[key]["verbs"] = simple[key]["verbs"] + list(rule.get("verbs") or [])
                    else:
                        simple[key] = {"verbs": list(rule.get("verbs") or []), "apiGroups": [group],
                                       "resources": [resource], "resourceNames": [name] if name else []}
        out += [{"verbs": list(rule.get("verbs") or []), "nonResourceURLs": [url]}
                for url in rule.get("nonResourceURLs") or []]
    out += simple.values()
    return sorted(out, key=_rule_string)


def _rule_string(rule: JSON) -> str:
    """The generated ``PolicyRule.String()`` kubectl sorts the rules by."""
    return "&PolicyRule{" + "".join(f"{title}:{_go_list(rule.get(key))}," for title, key in (
        ("Verbs", "verbs"), ("APIGroups", "apiGroups"), ("Resources", "resources"),
        ("ResourceNames", "resourceNames"), ("NonResourceURLs", "nonResourceURLs"))) + "}"


def policy_rules(page: Page, subject: Subject) -> None:
    page.w(0, "PolicyRule:\n")
    page.w(1, "Resources\tNon-Resource URLs\tResource Names\tVerbs\n")
    page.w(1, "---------\t-----------------\t--------------\t-----\n")
    for rule in _breakdown(subject.obj.get("rules") or []):
        resources, groups = rule.get("resources") or [], rule.get("apiGroups") or []
        combined = ""
        if resources:
            base, sep, sub = resources[0].partition("/")
            combined = base + (f".{groups[0]}" if groups and groups[0] else "") + (f"/{sub}" if sep else "")
        page.w(1, f"{combined}\t{_go_list(rule.get('nonResourceURLs'))}\t{_go_list(rule.get('resourceNames'))}\t"
                  f"{_go_list(rule.get('verbs'))}\n")


def binding_subjects(page: Page, subject: Subject) -> None:
    ref = subject.obj.get("roleRef") or {}
    page.w(0, "Role:\n")
    page.w(1, f"Kind:\t{ref.get('kind', '')}\n")
    page.w(1, f"Name:\t{ref.get('name', '')}\n")
    page.w(0, "Subjects:\n")
    page.w(1, "Kind\tName\tNamespace\n")
    page.w(1, "----\t----\t---------\n")
    for s in subject.obj.get("subjects") or []:
        page.w(1, f"{s.get('kind', '')}\t{s.get('name', '')}\t{s.get('namespace', '')}\n")
