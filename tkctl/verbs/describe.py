"""``tkctl describe``: kubectl's describe page for each kind it has one for (others get the generic page),
each page a list of sections (see ``PAGES``)."""

from __future__ import annotations

import argparse
from typing import Any

from client.errors import ApiError, NotFound
from tkctl import describe_objects as objects
from tkctl import describe_workloads as workloads
from tkctl.describe_format import Page, Section, Subject
from tkctl.describe_node import node_body
from tkctl.describe_pod import pod_body
from tkctl.describe_sections import (
    ANNOTATIONS,
    CONTROLLED_BY,
    CREATED,
    EVENTS,
    HEAD,
    LABELS,
    NAME,
    NAMESPACE,
    SELECTOR,
    TEMPLATE,
    generic,
    pods_status,
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
    listed: list[tuple[Any, JSON]] = []
    failures: list[ApiError] = []
    for t in parse_targets(s, o.args):
        ns = None if not t.info.ref.namespaced or o.all_namespaces else s.namespace
        if t.names:
            for name in t.names:
                try:
                    listed.append((t.info, s.client.get(t.info.ref, name, ns or (s.namespace if
                                                                                   t.info.ref.namespaced else None))))
                except NotFound as exc:
                    prefixed = _by_prefix(s, t.info, ns, name)
                    if not prefixed:
                        failures.append(exc)
                    listed += prefixed
        else:
            listing = s.client.list(t.info.ref, ns, label_selector=o.selector)
            listed += [(t.info, item) for item in listing.get("items") or []]
    if not listed and not failures:
        s.warn(f"No resources found in {s.namespace} namespace." if not o.all_namespaces else "No resources found")
    pages = []
    for info, obj in listed:
        sections = PAGES.get(info.ref.kind, _GENERIC)
        events = _events(s, obj) if o.show_events and EVENTS in sections else None
        page = Page()
        for section in sections:
            section(page, Subject(s, obj, events))
        pages.append(page.render())
    s.out.write("\n\n".join(pages))  # kubectl: each page ends in a newline, then two more between pages
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


_GENERIC: tuple[Section, ...] = (*HEAD, generic, EVENTS)
_RBAC_HEAD = (NAME, LABELS, ANNOTATIONS)

# Each kind's page, section by section, in kubectl's order.
PAGES: dict[str, tuple[Section, ...]] = {
    "Pod": (NAME, NAMESPACE, pod_body, EVENTS),
    "Node": (node_body, EVENTS),
    "Namespace": (NAME, LABELS, ANNOTATIONS, objects.namespace_status),
    "Service": (*HEAD, objects.service_spec, EVENTS),
    "Deployment": (NAME, NAMESPACE, CREATED, LABELS, ANNOTATIONS, SELECTOR, workloads.deployment_status, TEMPLATE,
                   workloads.deployment_progress, EVENTS),
    "ReplicaSet": (NAME, NAMESPACE, SELECTOR, LABELS, ANNOTATIONS, CONTROLLED_BY, workloads.replica_set_replicas,
                   pods_status, TEMPLATE, EVENTS),
    "StatefulSet": (NAME, NAMESPACE, CREATED, SELECTOR, LABELS, ANNOTATIONS, workloads.stateful_set_replicas,
                    pods_status, TEMPLATE, workloads.volume_claim_templates, EVENTS),
    "DaemonSet": (NAME, SELECTOR, workloads.daemon_set_node_selector, LABELS, ANNOTATIONS,
                  workloads.daemon_set_status, pods_status, TEMPLATE, EVENTS),
    "Job": (NAME, NAMESPACE, SELECTOR, LABELS, ANNOTATIONS, CONTROLLED_BY, workloads.job_spec, TEMPLATE, EVENTS),
    "CronJob": (*HEAD, workloads.cron_job_spec, EVENTS),
    "ConfigMap": (*HEAD, objects.config_map_data, EVENTS),
    "Secret": (*HEAD, objects.secret_data),
    "ServiceAccount": (*HEAD, objects.service_account_secrets, EVENTS),
    "PersistentVolumeClaim": (NAME, NAMESPACE, objects.claim_status, EVENTS),
    "Endpoints": (*HEAD, objects.endpoints_subsets, EVENTS),
    "Role": (*_RBAC_HEAD, objects.policy_rules),
    "ClusterRole": (*_RBAC_HEAD, objects.policy_rules),
    "RoleBinding": (*_RBAC_HEAD, objects.binding_subjects),
    "ClusterRoleBinding": (*_RBAC_HEAD, objects.binding_subjects),
}
