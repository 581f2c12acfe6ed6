"""kubectl's describe page for a node (the part before its events)."""

from __future__ import annotations

from typing import Any

from client.errors import NotFound
from tkctl.describe_format import (
    Page,
    Subject,
    annotations_lines,
    human_age,
    labels_lines,
    present_lines,
    rfc1123z,
)
from tkctl.session import Session

JSON = dict[str, Any]


def node_body(page: Page, subject: Subject) -> None:
    """A node's page up to its events: roles, taints, lease, conditions, capacity, its pods' requests."""
    s, node = subject.session, subject.obj
    meta, spec, st = subject.meta, subject.spec, subject.status
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
    present_lines(page, 0, {**spec, "podCIDRs": ",".join(spec.get("podCIDRs") or [])},
                  (("PodCIDR", "podCIDR"), ("PodCIDRs", "podCIDRs"), ("ProviderID", "providerID")))
    _node_pods(s, page, node)


def _node_pods(s: Session, page: Page, node: JSON) -> None:
    from api.quantity import Quantity  # noqa: PLC0415

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
