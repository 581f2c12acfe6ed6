"""``tkctl wait --for=condition=X|delete|create|jsonpath='{...}'=value``."""

from __future__ import annotations

import argparse
import time
from typing import Any

from client.errors import NotFound
from tkctl.errors import CliError
from tkctl.flags import Parser, add_filename_flags, duration_seconds
from tkctl.printing import name_of
from tkctl.session import Session
from tkctl.targets import parse_targets

EXAMPLES = {"wait": """examples:
  # Wait for the pod "busybox1" to contain the status condition of type "Ready"
  tkctl wait --for=condition=Ready pod/busybox1

  # Wait for the service "loadbalancer" to have ingress
  tkctl wait --for=jsonpath='{.status.loadBalancer.ingress}' service/loadbalancer

  # Wait for the pod "busybox1" to be deleted, with a timeout of 60s
  tkctl wait --for=delete pod/busybox1 --timeout=60s
"""}


def build(p: Parser, verb: str) -> None:
    add_filename_flags(p)
    p.add_argument("--for", dest="for_", default="", help="the condition to wait on: [create|delete|condition=..."
                   "|jsonpath=...]")
    p.add_argument("--timeout", default="30s", help="the length of time to wait before giving up")
    p.add_argument("-l", "--selector", help="selector (label query) to filter on")
    p.add_argument("--field-selector", help="selector (field query) to filter on")
    p.flag("--all", help="select all resources in the namespace of the specified resource types")
    p.flag("-A", "--all-namespaces", help="if present, list the requested object(s) across all namespaces")
    p.add_argument("-o", "--output", default="", help="output format: name")
    p.add_argument("args", nargs="*", help="(TYPE NAME | TYPE/NAME)")


def _condition_check(spec: str) -> Any:
    name, _, want = spec.partition("=")
    want = want or "True"

    def check(obj: dict[str, Any]) -> bool:
        for c in (obj.get("status") or {}).get("conditions") or []:
            if str(c.get("type", "")).lower() == name.lower():
                generation = (obj.get("metadata") or {}).get("generation")
                observed = c.get("observedGeneration")
                if observed is not None and generation is not None and observed < generation:
                    return False
                return str(c.get("status", "")).lower() == want.lower()
        return False

    return check


def _jsonpath_check(spec: str) -> Any:
    from tkctl import jsonpath  # noqa: PLC0415

    text = spec
    if text[:1] in "'\"":
        q = text[0]
        end = text.index(q, 1)
        text = text[1:end] + text[end + 1:]
    close = text.rfind("}")
    if close < 0:
        raise CliError('jsonpath wait format must be --for=jsonpath=\'{.status.readyReplicas}\'=3')
    path, rest = text[:close + 1], text[close + 1:]
    value = rest[1:] if rest.startswith("=") else None
    if value is not None and value[:1] in "'\"" and value[-1:] == value[:1]:
        value = value[1:-1]
    nodes = jsonpath.parse(path)

    def check(obj: dict[str, Any]) -> bool:
        found = [v for r in jsonpath.find(nodes, obj) for v in r]
        if value is None:
            return bool(found) and found[0] not in (None, "", [], {})
        return bool(found) and jsonpath.text_of(found[0]) == value

    return check


def run(s: Session, o: argparse.Namespace) -> int:
    spec = o.for_
    if not spec:
        raise CliError("--for must be specified")
    timeout = duration_seconds(o.timeout, "--timeout")
    deadline = time.monotonic() + timeout
    if spec.lower() == "delete":
        mode, check = "delete", None
    elif spec.lower() == "create":
        mode, check = "create", None
    elif spec.lower().startswith("condition="):
        mode, check = "condition", _condition_check(spec.split("=", 1)[1])
    elif spec.lower().startswith("jsonpath="):
        mode, check = "jsonpath", _jsonpath_check(spec.split("=", 1)[1])
    else:
        raise CliError(f"unrecognized condition: \"{spec}\"")
    targets = parse_targets(s, o.args) if o.args else []
    if not targets:
        raise CliError("resource name may not be empty")
    pending: list[tuple[Any, str | None, str]] = []
    for t in targets:
        ns = s.namespace if t.info.ref.namespaced and not o.all_namespaces else None
        if t.names:
            pending += [(t.info, ns, n) for n in t.names]
        else:
            listing = s.client.list(t.info.ref, ns, label_selector=o.selector, field_selector=o.field_selector)
            items = listing.get("items") or []
            if not items and mode != "delete":
                raise CliError("no matching resources found")
            pending += [(t.info, i["metadata"].get("namespace"), i["metadata"]["name"]) for i in items]
    for info, ns, name in pending:
        _wait_one(s, o, info, ns, name, mode=mode, check=check, deadline=deadline)
    return 0


def _wait_one(s: Session, o: argparse.Namespace, info: Any, ns: str | None, name: str, *, mode: str, check: Any,
              deadline: float) -> None:
    delay = 0.1
    seen: dict[str, Any] | None = None
    while True:
        try:
            obj = s.client.get(info.ref, name, ns)
            obj.setdefault("apiVersion", info.ref.api_version)
            obj.setdefault("kind", info.ref.kind)
            seen = obj
        except NotFound:
            obj = None
        if mode == "delete" and obj is None:
            if seen is not None:
                s.print(f"{name_of(seen)} deleted" if o.output != "name" else name_of(seen))
            return
        if mode == "create" and obj is not None:
            s.print(f"{name_of(obj)} created" if o.output != "name" else name_of(obj))
            return
        if mode in ("condition", "jsonpath") and obj is not None and check(obj):
            s.print(f"{name_of(obj)} condition met" if o.output != "name" else name_of(obj))
            return
        if mode in ("condition", "jsonpath") and obj is None and seen is None and time.monotonic() > deadline:
            from client.errors import NotFound as _NF  # noqa: PLC0415

            raise _NF({"reason": "NotFound", "code": 404,
                       "message": f'{info.ref.resource}{"." + info.ref.group if info.ref.group else ""} "{name}" '
                                  f"not found"})
        if time.monotonic() > deadline:
            raise CliError(f"timed out waiting for the condition on {info.ref.resource}/{name}")
        time.sleep(delay)
        delay = min(delay * 2, 1.0)
