"""Sections many describe pages share (name, labels, selector, pod template, events, ...) and the generic
page kubectl prints for kinds without a describer of their own."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tkctl.describe_format import (
    Page,
    Section,
    Subject,
    annotations_lines,
    events_section,
    labels_lines,
    rfc1123z,
    selector_text,
)
from tkctl.describe_pod import pod_template

JSON = dict[str, Any]


def line(title: str, value: Callable[[Subject], Any]) -> Section:
    """A ``Title:\\tvalue`` line at the page's top level."""
    def section(page: Page, subject: Subject) -> None:
        page.w(0, f"{title}:\t{value(subject)}\n")
    return section


def _name(page: Page, subject: Subject) -> None:
    page.w(0, f"Name:\t{subject.meta.get('name', '')}\n")


def _namespace(page: Page, subject: Subject) -> None:
    page.w(0, f"Namespace:\t{subject.meta.get('namespace', '')}\n")


def _labels(page: Page, subject: Subject) -> None:
    labels_lines(page, 0, "Labels", subject.meta.get("labels"))


def _annotations(page: Page, subject: Subject) -> None:
    annotations_lines(page, 0, subject.meta.get("annotations"))


def _controlled_by(page: Page, subject: Subject) -> None:
    owners = [o for o in subject.meta.get("ownerReferences") or [] if o.get("controller")]
    if owners:
        page.w(0, f"Controlled By:\t{owners[0].get('kind')}/{owners[0].get('name')}\n")


def _template(page: Page, subject: Subject) -> None:
    pod_template(page, subject.spec.get("template") or {}, 0)


def _events(page: Page, subject: Subject) -> None:
    events_section(page, subject.events)


NAME = _name
NAMESPACE = _namespace
LABELS = _labels
ANNOTATIONS = _annotations
CONTROLLED_BY = _controlled_by
TEMPLATE = _template
EVENTS = _events
HEAD = (NAME, NAMESPACE, LABELS, ANNOTATIONS)
CREATED = line("CreationTimestamp", lambda x: rfc1123z(x.meta.get("creationTimestamp")))
SELECTOR = line("Selector", lambda x: selector_text(x.spec.get("selector")))


def pods_status(page: Page, subject: Subject) -> None:
    """``Pods Status:`` of a controller: its own pods (by selector and controller uid), counted by phase."""
    pods = subject.session.client.request(
        "GET", f"/api/v1/namespaces/{subject.meta.get('namespace')}/pods",
        params={"labelSelector": selector_text(subject.spec.get("selector")).replace("<none>", "")})
    counts = dict.fromkeys(("Running", "Pending", "Succeeded", "Failed"), 0)
    for pod in (pods or {}).get("items") or []:
        owner = next((o for o in pod["metadata"].get("ownerReferences") or [] if o.get("controller")), None)
        phase = (pod.get("status") or {}).get("phase")
        if owner and owner.get("uid") == subject.meta.get("uid") and phase in counts:
            counts[phase] += 1
    page.w(0, f"Pods Status:\t{counts['Running']} Running / {counts['Pending']} Waiting / {counts['Succeeded']} "
              f"Succeeded / {counts['Failed']} Failed\n")


# --- the generic page --------------------------------------------------------------------------------

_SKIP = {".metadata.managedFields", ".metadata.name", ".metadata.namespace", ".metadata.labels",
         ".metadata.annotations"}
_ACRONYMS = {"API", "URL", "UID", "OSB", "GUID"}
_CLASS_RUNS = re.compile(r"[a-z]+|[A-Z]+|[0-9]+|[^a-zA-Z0-9]+")


def generic(page: Page, subject: Subject) -> None:
    """Every field of the object under smart labels, as kubectl's generic describer prints unknown kinds."""
    _fields(page, 0, subject.obj, "")


def _fields(page: Page, level: int, content: JSON, prefix: str) -> None:
    for key in sorted(content):
        value, path = content[key], f"{prefix}.{key}"
        if path in _SKIP:
            continue
        if isinstance(value, dict):
            page.w(level, f"{smart_label(key)}:\n")
            _fields(page, level + 1, value, path)
        elif isinstance(value, list):
            page.w(level, f"{smart_label(key)}:\n")
            for item in value:
                if isinstance(item, dict):
                    _fields(page, level + 1, item, path)
                else:
                    page.w(level + 1, f"{go_value(item)}\n")
        else:
            page.w(level, f"{smart_label(key)}:\t{go_value(value)}\n")


def go_value(value: Any) -> str:
    """A JSON scalar as Go's ``%v`` prints it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    return str(value)


def smart_label(field: str) -> str:
    """``creationTimestamp`` → ``Creation Timestamp``, ``uid`` → ``UID`` (kubectl's smartLabelFor)."""
    if any(not (c.isalpha() or c == "-") for c in field):
        return field
    runs = _CLASS_RUNS.findall(field)
    # An upper-case run followed by lower case gives its last letter to the next word: "PDFLoader".
    for i in range(len(runs) - 1):
        if runs[i][0].isupper() and runs[i + 1][0].islower():
            runs[i], runs[i + 1] = runs[i][:-1], runs[i][-1] + runs[i + 1]
    parts = [p for p in runs if p and p != "_"]
    return " ".join(p.upper() if p.upper() in _ACRONYMS else p[:1].upper() + p[1:] for p in parts)
