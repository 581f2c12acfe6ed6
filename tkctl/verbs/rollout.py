"""``tkctl rollout status|history|undo|pause|resume|restart``."""

from __future__ import annotations

import argparse
import datetime
import time
from typing import Any

from client.refs import PatchType
from tkctl.errors import CliError
from tkctl.flags import Parser, add_dry_run, add_output_flag, duration_seconds
from tkctl.mutate import dry_run_mode, report
from tkctl.session import Session
from tkctl.targets import parse_targets

SUBVERBS = {
    "status": "Show the status of the rollout",
    "history": "View rollout history",
    "undo": "Undo a previous rollout",
    "pause": "Mark the provided resource as paused",
    "resume": "Resume a paused resource",
    "restart": "Restart a resource",
}

EXAMPLES = {"rollout status": """examples:
  # Watch the rollout status of a deployment
  tkctl rollout status deployment/nginx
""", "rollout undo": """examples:
  # Roll back to the previous deployment
  tkctl rollout undo deployment/abc

  # Roll back to daemonset revision 3
  tkctl rollout undo daemonset/abc --to-revision=3
"""}

_REVISION = "deployment.kubernetes.io/revision"


def build(p: Parser, verb: str) -> None:
    sub = verb.removeprefix("rollout").strip()
    p.add_argument("-l", "--selector", help="selector (label query) to filter on")
    if sub == "status":
        p.flag("-w", "--watch", default=True, help="watch the status of the rollout until it's done")
        p.add_argument("--revision", type=int, default=0, help="pin to a specific revision for showing its status")
        p.add_argument("--timeout", default="0s", help="the length of time to wait before ending watch")
    if sub == "history":
        p.add_argument("--revision", type=int, default=0, help="see the details of the revision specified")
        add_output_flag(p)
    if sub == "undo":
        p.add_argument("--to-revision", type=int, default=0, help="the revision to rollback to (0: the last)")
        add_dry_run(p)
    if sub in ("pause", "resume", "restart"):
        add_output_flag(p)
        add_dry_run(p)
    if sub in ("pause", "resume", "restart"):
        p.add_argument("--field-manager", default="kubectl-rollout", help="name of the manager used to track field "
                       "ownership")
    p.add_argument("args", nargs="*", help="(TYPE NAME | TYPE/NAME)")


def run(s: Session, o: argparse.Namespace) -> int:
    sub = s.verb.removeprefix("rollout").strip()
    if not sub:
        raise CliError("a rollout subcommand is required: status, history, undo, pause, resume, restart")
    objects: list[tuple[Any, dict[str, Any]]] = []
    if not o.args:
        raise CliError("required resource not specified")
    for t in parse_targets(s, o.args):
        ns = s.namespace if t.info.ref.namespaced else None
        if t.names:
            objects += [(t.info, s.client.get(t.info.ref, n, ns)) for n in t.names]
        else:
            objects += [(t.info, i) for i in s.client.list(t.info.ref, ns, label_selector=o.selector).get("items")
                        or []]
    for info, obj in objects:
        obj.setdefault("apiVersion", info.ref.api_version)
        obj.setdefault("kind", info.ref.kind)
        {"status": _status, "history": _history, "undo": _undo, "pause": _pause, "resume": _pause,
         "restart": _restart}[sub](s, o, info, obj)
    return 0


def _status(s: Session, o: argparse.Namespace, info: Any, obj: dict[str, Any]) -> None:
    from tkctl.rollout_status import RolloutFailed, status  # noqa: PLC0415

    timeout = duration_seconds(o.timeout, "--timeout")
    deadline = time.monotonic() + (timeout if timeout > 0 else 7 * 24 * 3600.0)
    last = ""
    meta = obj["metadata"]
    while True:
        try:
            message, done = status(info.ref.kind, obj, o.revision)
        except RolloutFailed as exc:
            raise CliError(str(exc)) from exc
        if message != last:
            s.out.write(message)
            s.out.flush()
            last = message
        if done or not o.watch:
            return
        if time.monotonic() > deadline:
            raise CliError("timed out waiting for the condition")
        time.sleep(0.5)
        obj = s.client.get(info.ref, meta["name"], meta.get("namespace"))


def _owned_replica_sets(s: Session, obj: dict[str, Any]) -> list[dict[str, Any]]:
    meta = obj["metadata"]
    listing = s.client.request("GET", f"/apis/apps/v1/namespaces/{meta['namespace']}/replicasets")
    return [rs for rs in (listing or {}).get("items") or []
            if any(r.get("uid") == meta.get("uid") for r in rs["metadata"].get("ownerReferences") or [])]


def _revision(rs: dict[str, Any]) -> int:
    return int((rs["metadata"].get("annotations") or {}).get(_REVISION) or 0)


def _history(s: Session, o: argparse.Namespace, info: Any, obj: dict[str, Any]) -> None:
    if info.ref.kind != "Deployment":
        raise CliError(f"no history viewer has been implemented for {info.ref.kind}")
    from tkctl.printing import name_of  # noqa: PLC0415
    from tkctl.table import TabWriter  # noqa: PLC0415

    rss = sorted(_owned_replica_sets(s, obj), key=_revision)
    if o.revision:
        match = [rs for rs in rss if _revision(rs) == o.revision]
        if not match:
            raise CliError("unable to find the specified revision")
        s.print(f"{name_of(obj)} with revision #{o.revision}")
        from tkctl.describe_format import Page  # noqa: PLC0415
        from tkctl.describe_pod import pod_template  # noqa: PLC0415

        page = Page()
        template = match[0]["spec"]["template"]
        pod_template(page, template, 0)
        s.out.write(page.render() + "\n")
        return
    if not rss:
        s.print(f"{name_of(obj)} ")
        s.print("No rollout history found.")
        return
    s.print(f"{name_of(obj)} ")
    w = TabWriter(min_width=0, padding=2)
    w.write("REVISION\tCHANGE-CAUSE\n")
    for rs in rss:
        cause = (rs["metadata"].get("annotations") or {}).get("kubernetes.io/change-cause") or "<none>"
        w.write(f"{_revision(rs)}\t{cause}\n")
    s.out.write(w.render() + "\n")


def _undo(s: Session, o: argparse.Namespace, info: Any, obj: dict[str, Any]) -> None:
    if info.ref.kind != "Deployment":
        raise CliError(f"no rollbacker has been implemented for {info.ref.kind}")
    from tkctl.printing import name_of  # noqa: PLC0415

    if (obj.get("spec") or {}).get("paused"):
        raise CliError("you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' "
                       "and try again")
    rss = sorted(_owned_replica_sets(s, obj), key=_revision)
    current = int((obj["metadata"].get("annotations") or {}).get(_REVISION) or 0)
    if o.to_revision:
        target = next((rs for rs in rss if _revision(rs) == o.to_revision), None)
        if target is None:
            raise CliError(f"unable to find specified revision {o.to_revision} in history")
    else:
        previous = [rs for rs in rss if _revision(rs) < current]
        if not previous:
            raise CliError("no rollout history found for deployment " + f'"{obj["metadata"]["name"]}"')
        target = previous[-1]
    template = dict(target["spec"]["template"])
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    labels.pop("pod-template-hash", None)
    template["metadata"] = {**(template.get("metadata") or {}), "labels": labels}
    suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(dry_run_mode(o), "")
    if template == obj["spec"]["template"]:
        s.print(f"{name_of(obj)} skipped rollback (current template already matches revision "
                f"{_revision(target)})")
        return
    if dry_run_mode(o) != "client":
        patch = [{"op": "replace", "path": "/spec/template", "value": template}]
        s.client.patch(info.ref, obj["metadata"]["name"], patch, obj["metadata"]["namespace"],
                       patch_type=PatchType.JSON, dry_run=dry_run_mode(o) == "server")
    s.print(f"{name_of(obj)} rolled back{suffix}")


def _pause(s: Session, o: argparse.Namespace, info: Any, obj: dict[str, Any]) -> None:
    pause = s.verb.endswith("pause")
    if info.ref.kind != "Deployment":
        raise CliError(f"{info.ref.kind.lower()}s.{info.ref.group} \"{obj['metadata']['name']}\" "
                       f"{'pausing' if pause else 'resuming'} is not supported")
    kind = f"{info.ref.resource}.{info.ref.group}" if info.ref.group else info.ref.resource
    if bool((obj.get("spec") or {}).get("paused")) == pause:
        raise CliError(f'{kind} "{obj["metadata"]["name"]}" is {"already" if pause else "not"} paused')
    result = obj
    if dry_run_mode(o) != "client":
        result = s.client.patch(info.ref, obj["metadata"]["name"], {"spec": {"paused": pause or None}},
                                obj["metadata"].get("namespace"), patch_type=PatchType.STRATEGIC,
                                field_manager=o.field_manager, dry_run=dry_run_mode(o) == "server")
    report(s, result, "paused" if pause else "resumed", o)


def _restart(s: Session, o: argparse.Namespace, info: Any, obj: dict[str, Any]) -> None:
    if info.ref.kind not in ("Deployment", "DaemonSet", "StatefulSet"):
        raise CliError("restarting is not supported")
    if (obj.get("spec") or {}).get("paused"):
        raise CliError("can't restart paused deployment (run rollout resume first)")
    now = datetime.datetime.now(datetime.UTC).astimezone().isoformat(timespec="seconds")
    patch = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now}}}}}
    result = obj
    if dry_run_mode(o) != "client":
        result = s.client.patch(info.ref, obj["metadata"]["name"], patch, obj["metadata"].get("namespace"),
                                patch_type=PatchType.STRATEGIC, field_manager=o.field_manager,
                                dry_run=dry_run_mode(o) == "server")
    report(s, result, "restarted", o)
