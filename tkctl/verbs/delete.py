"""``tkctl delete``: by name, file, label selector or ``--all``; cascading policy, grace period, waiting."""

from __future__ import annotations

import argparse
import time
from typing import Any

from client.errors import ApiError, NotFound
from client.resources import ResourceInfo
from tkctl.errors import CliError, api_error_text
from tkctl.flags import Parser, add_dry_run, add_filename_flags, add_output_flag, duration_seconds
from tkctl.mutate import dry_run_mode
from tkctl.session import Session
from tkctl.targets import Target, parse_targets

EXAMPLES = {"delete": """examples:
  # Delete a pod using the type and name specified in pod.json
  tkctl delete -f ./pod.json

  # Delete pods and services with same names "baz" and "foo"
  tkctl delete pod,service baz foo

  # Delete pods and services with label name=myLabel
  tkctl delete pods,services -l name=myLabel

  # Delete a pod with minimal delay
  tkctl delete pod foo --now

  # Delete all pods
  tkctl delete pods --all
"""}

_POLICIES = {"background": "Background", "true": "Background", "foreground": "Foreground", "orphan": "Orphan",
             "false": "Orphan"}
_FORCE_WARNING = ("Warning: Immediate deletion does not wait for confirmation that the running resource has been "
                  "terminated. The resource may continue to run on the cluster indefinitely.")


def build(p: Parser, verb: str) -> None:
    add_filename_flags(p)
    add_output_flag(p)
    add_dry_run(p)
    p.add_argument("-l", "--selector", help="selector (label query) to filter on")
    p.add_argument("--field-selector", help="selector (field query) to filter on")
    p.flag("--all", help="delete all resources, in the namespace of the specified resource types")
    p.flag("-A", "--all-namespaces", help="if present, list the requested object(s) across all namespaces")
    p.optional_value("--cascade", "background", default="background",
                     help='"background", "orphan", or "foreground" (default background)')
    p.add_argument("--grace-period", type=int, default=-1, help="period of time in seconds given to the resource "
                   "to terminate gracefully (-1: the resource's default)")
    p.flag("--now", help="if true, resources are signaled for immediate shutdown (same as --grace-period=1)")
    p.flag("--force", help="if true, immediately remove resources from API and bypass graceful deletion")
    p.flag("--ignore-not-found", help="treat \"resource not found\" as a successful delete")
    p.flag("--wait", default=True, help="if true, wait for resources to be gone before returning")
    p.add_argument("--timeout", default="0s", help="the length of time to wait before giving up on a delete")
    p.add_argument("args", nargs="*", help="TYPE [NAME...] | TYPE/NAME ...")


def run(s: Session, o: argparse.Namespace) -> int:
    policy = _POLICIES.get(str(o.cascade).lower())
    if policy is None:
        raise CliError(f'invalid cascade value ({o.cascade}). Must be "background", "foreground", or "orphan".')
    grace = o.grace_period
    if o.now:
        if grace >= 0:
            raise CliError("--now and --grace-period cannot be specified together")
        grace = 1
    if o.force:
        s.warn(_FORCE_WARNING)
        grace = max(grace, 0)
    elif grace == 0:
        grace = 1  # kubectl: a zero grace period without --force means the minimum graceful one
    mode = dry_run_mode(o)
    failures: list[ApiError] = []
    victims = _victims(s, o, failures)
    if not victims and not failures:
        s.print("No resources found")
        return 0
    deleted: list[tuple[ResourceInfo, str | None, dict[str, Any]]] = []
    for info, ns, obj in victims:
        name = str((obj.get("metadata") or {}).get("name"))
        if mode != "client":
            try:
                s.client.delete(info.ref, name, ns, propagation_policy=policy,
                                grace_period_seconds=grace if grace >= 0 else None, dry_run=mode == "server")
            except NotFound as exc:
                if not o.ignore_not_found:
                    failures.append(exc)
                continue
            except ApiError as exc:
                failures.append(exc)
                continue
        _report(s, o, info, name, mode)
        deleted.append((info, ns, obj))
    if o.wait and mode == "none" and deleted:
        _wait_gone(s, deleted, duration_seconds(o.timeout, "--timeout"))
    for failure in failures:
        s.warn(api_error_text(failure))
    return 1 if failures else 0


def _report(s: Session, o: argparse.Namespace, info: ResourceInfo, name: str, mode: str) -> None:
    ref = info.ref
    kind = f"{ref.kind.lower()}.{ref.group}" if ref.group else ref.kind.lower()
    if o.output == "name":
        s.print(f"{kind}/{name}")
        return
    word = "force deleted" if o.force and mode == "none" else "deleted"
    suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(mode, "")
    s.print(f'{kind} "{name}" {word}{suffix}')


def _victims(s: Session, o: argparse.Namespace,
             failures: list[ApiError]) -> list[tuple[ResourceInfo, str | None, dict[str, Any]]]:
    out: list[tuple[ResourceInfo, str | None, dict[str, Any]]] = []
    if o.filename:
        from tkctl.manifests import read_objects  # noqa: PLC0415
        from tkctl.mutate import namespace_for  # noqa: PLC0415

        for _, obj in read_objects(o.filename, o.recursive, "delete"):
            info = s.discovery.for_kind(str(obj.get("apiVersion")), str(obj.get("kind")))
            out.append((info, namespace_for(s, info.ref.namespaced, obj), obj))
        return out
    if not o.args:
        raise CliError("You must provide one or more resources by argument or filename.\nExample resource "
                       "specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> "
                       "<name>'\n   '<resource>'")
    targets = parse_targets(s, o.args)
    by_selector = bool(o.selector or o.field_selector or o.all)
    for t in targets:
        if not t.names and not by_selector:
            raise CliError("resource(s) were provided, but no name was specified")
        if t.names and by_selector and o.selector:
            raise CliError("name cannot be provided when a selector is specified")
        ns = None if not t.info.ref.namespaced or o.all_namespaces else s.namespace
        if t.names:
            out += [(t.info, ns if t.info.ref.namespaced else None, {"metadata": {"name": n}}) for n in t.names]
        else:
            out += _listed(s, o, t, ns)
    return out


def _listed(s: Session, o: argparse.Namespace, t: Target,
            ns: str | None) -> list[tuple[ResourceInfo, str | None, dict[str, Any]]]:
    listing = s.client.list(t.info.ref, ns, label_selector=o.selector, field_selector=o.field_selector)
    return [(t.info, (item.get("metadata") or {}).get("namespace") or ns, item)
            for item in listing.get("items") or []]


def _wait_gone(s: Session, deleted: list[tuple[ResourceInfo, str | None, dict[str, Any]]], timeout: float) -> None:
    deadline = time.monotonic() + (timeout if timeout > 0 else 7 * 24 * 3600.0)
    delay = 0.05
    for info, ns, obj in deleted:
        name = str((obj.get("metadata") or {}).get("name"))
        while True:
            try:
                s.client.get(info.ref, name, ns)
            except NotFound:
                break
            if time.monotonic() > deadline:
                raise CliError(f"timed out waiting for the condition on {info.ref.resource}/{name}")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
