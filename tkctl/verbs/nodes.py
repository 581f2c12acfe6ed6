"""Node maintenance: ``cordon``, ``uncordon``, ``drain`` (through the eviction API) and ``taint``."""

from __future__ import annotations

import argparse
import time
from typing import Any

from client.errors import NotFound, TooManyRequests
from client.refs import PatchType
from tkctl.errors import CliError
from tkctl.flags import Parser, add_dry_run, duration_seconds
from tkctl.mutate import dry_run_mode
from tkctl.session import Session

EXAMPLES = {
    "cordon": "examples:\n  # Mark node \"foo\" as unschedulable\n  tkctl cordon foo\n",
    "uncordon": "examples:\n  # Mark node \"foo\" as schedulable\n  tkctl uncordon foo\n",
    "drain": """examples:
  # Drain node "foo", even if there are pods not managed by a replication controller, replica set, job,
  # daemon set, or stateful set on it
  tkctl drain foo --force

  # As above, but abort if there are pods not managed by a controller, and use a grace period of 15 minutes
  tkctl drain foo --grace-period=900
""",
    "taint": """examples:
  # Update node 'foo' with a taint with key 'dedicated' and value 'special-user' and effect 'NoSchedule'
  tkctl taint nodes foo dedicated=special-user:NoSchedule

  # Remove from node 'foo' the taint with key 'dedicated' and effect 'NoSchedule' if one exists
  tkctl taint nodes foo dedicated:NoSchedule-
""",
}

_NODES = "/api/v1/nodes"
_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def build(p: Parser, verb: str) -> None:
    add_dry_run(p)
    p.add_argument("-l", "--selector", help="selector (label query) to filter on")
    if verb == "drain":
        p.flag("--force", help="continue even if there are pods that do not declare a controller")
        p.flag("--ignore-daemonsets", help="ignore DaemonSet-managed pods")
        p.flag("--delete-emptydir-data", help="continue even if there are pods using emptyDir")
        p.flag("--disable-eviction", help="force drain to use delete, even if eviction is supported")
        p.add_argument("--grace-period", type=int, default=-1, help="period of time in seconds given to each pod "
                       "to terminate gracefully")
        p.add_argument("--timeout", default="0s", help="the length of time to wait before giving up")
        p.add_argument("--pod-selector", default="", help="label selector to filter pods on the node")
        p.add_argument("--chunk-size", type=int, default=500)
    if verb == "taint":
        p.flag("--overwrite", help="if true, allow taints to be overwritten")
        p.flag("--all", help="select all nodes in the cluster")
    p.add_argument("args", nargs="*", help="NODE" if verb != "taint" else "node NAME KEY_1=VAL_1:TAINT_EFFECT_1 ...")


def run(s: Session, o: argparse.Namespace) -> int:
    if s.verb == "taint":
        return _taint(s, o)
    nodes = _nodes(s, o, o.args)
    for node in nodes:
        if s.verb in ("cordon", "drain"):
            _set_unschedulable(s, o, node, True)
        else:
            _set_unschedulable(s, o, node, False)
    if s.verb == "drain":
        for node in nodes:
            _drain(s, o, node)
    return 0


def _nodes(s: Session, o: argparse.Namespace, names: list[str]) -> list[dict[str, Any]]:
    if o.selector:
        return list((s.client.request("GET", _NODES, params={"labelSelector": o.selector}) or {}).get("items") or [])
    if not names:
        raise CliError("USAGE: cordon NODE [flags]" if s.verb != "drain" else "USAGE: drain NODE [flags]")
    return [s.client.request("GET", f"{_NODES}/{n.removeprefix('node/').removeprefix('nodes/')}") for n in names]


def _set_unschedulable(s: Session, o: argparse.Namespace, node: dict[str, Any], value: bool) -> None:
    name = node["metadata"]["name"]
    word = "cordoned" if value else "uncordoned"
    suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(dry_run_mode(o), "")
    if bool((node.get("spec") or {}).get("unschedulable")) == value:
        s.print(f"node/{name} already {word}{suffix}")
        return
    if dry_run_mode(o) != "client":
        params = {"dryRun": "All"} if dry_run_mode(o) == "server" else None
        s.client.request("PATCH", f"{_NODES}/{name}", body={"spec": {"unschedulable": value or None}},
                         content_type=PatchType.STRATEGIC.value, params=params)
    s.print(f"node/{name} {word}{suffix}")


def _drain(s: Session, o: argparse.Namespace, node: dict[str, Any]) -> None:
    name = node["metadata"]["name"]
    params = {"fieldSelector": f"spec.nodeName={name}"}
    if o.pod_selector:
        params["labelSelector"] = o.pod_selector
    pods = (s.client.request("GET", "/api/v1/pods", params=params) or {}).get("items") or []
    victims: list[dict[str, Any]] = []
    errors: dict[str, list[str]] = {}
    warnings: dict[str, list[str]] = {}
    for pod in pods:
        verdict = _drain_verdict(o, pod)
        meta = pod["metadata"]
        if verdict is None or verdict[0] == "warning":
            victims.append(pod)
        if verdict is not None and verdict[1]:
            kind, message = verdict
            (errors if kind == "error" else warnings).setdefault(message, []).append(
                f"{meta['namespace']}/{meta['name']}")
    if errors:
        lines = [f"cannot delete {message}: {', '.join(refs)}" for message, refs in errors.items()]
        joined = lines[0] if len(lines) == 1 else f"[{', '.join(lines)}]"
        raise CliError(f"unable to drain node \"{name}\" due to error: {joined}, continuing command...\n"
                       f"There are pending nodes to be drained:\n {name}\n" + "\n".join(lines))
    if warnings:
        s.warn("Warning: " + "; ".join(f"{message}: {', '.join(refs)}" for message, refs in warnings.items()))
    mode = dry_run_mode(o)
    suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(mode, "")
    grace = o.grace_period if o.grace_period >= 0 else None
    for pod in victims:
        meta = pod["metadata"]
        if mode != "client":
            _evict(s, o, meta["namespace"], meta["name"], grace=grace, dry_run=mode == "server")
        s.print(f"evicting pod {meta['namespace']}/{meta['name']}{suffix}")
    if mode == "none":
        deadline = time.monotonic() + (duration_seconds(o.timeout, "--timeout") or 7 * 24 * 3600.0)
        for pod in victims:
            meta = pod["metadata"]
            while True:
                try:
                    got = s.client.request("GET", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}")
                    if got["metadata"].get("uid") != meta.get("uid"):
                        break
                except NotFound:
                    break
                if time.monotonic() > deadline:
                    raise CliError(f"drain did not complete within {o.timeout}")
                time.sleep(0.5)
            s.print(f"pod/{meta['name']} evicted")
    s.print(f"node/{name} drained{suffix}")


def _drain_verdict(o: argparse.Namespace, pod: dict[str, Any]) -> tuple[str, str] | None:
    """kubectl's drain filters in its order (daemon set, mirror, local storage, controller): None evicts
    quietly, ("warning", why) evicts with a warning, ("skip", why) leaves the pod (a warning unless why is
    empty), ("error", why) refuses. As in kubectl, the last filter that lets a pod go has the say."""
    meta = pod["metadata"]
    finished = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
    owners = [r for r in meta.get("ownerReferences") or [] if r.get("controller")]
    if owners and owners[0].get("kind") == "DaemonSet":
        if not o.ignore_daemonsets:
            return "error", "DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"
        return "skip", "ignoring DaemonSet-managed Pods"
    if "kubernetes.io/config.mirror" in (meta.get("annotations") or {}):
        return "skip", ""
    local = any("emptyDir" in v for v in (pod.get("spec") or {}).get("volumes") or [])
    if local and not finished and not o.delete_emptydir_data:
        return "error", "Pods with local storage (use --delete-emptydir-data to override)"
    if finished or owners:
        return None
    if not o.force:
        return "error", "cannot delete Pods that declare no controller (use --force to override)"
    return "warning", "deleting Pods that declare no controller"


def _evict(s: Session, o: argparse.Namespace, ns: str, name: str, *, grace: int | None, dry_run: bool) -> None:
    path = f"/api/v1/namespaces/{ns}/pods/{name}"
    options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
    if grace is not None:
        options["gracePeriodSeconds"] = grace
    if dry_run:
        options["dryRun"] = ["All"]
    if o.disable_eviction:
        s.client.request("DELETE", path, body=options)
        return
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": ns},
            "deleteOptions": options}
    while True:
        try:
            s.client.request("POST", f"{path}/eviction", body=body)
            return
        except TooManyRequests:
            s.warn(f"error when evicting pods/\"{name}\" -n \"{ns}\" (will retry after 5s): Cannot evict pod as it "
                   "would violate the pod's disruption budget.")
            time.sleep(5)
        except NotFound:
            return


def _parse_taint(text: str) -> tuple[dict[str, str], bool]:
    remove = text.endswith("-")
    body = text[:-1] if remove else text
    key_value, _, effect = body.partition(":")
    key, _, value = key_value.partition("=")
    if effect and effect not in _EFFECTS:
        raise CliError(f"invalid taint effect: {effect}, unsupported taint effect")
    if not remove and not effect:
        raise CliError(f"invalid taint spec: {text}, a taint must have an effect")
    taint = {"key": key, "effect": effect}
    if value:
        taint["value"] = value
    return taint, remove


def _taint(s: Session, o: argparse.Namespace) -> int:
    args = list(o.args)
    if not args:
        raise CliError("at least one taint update is required")
    kind = args.pop(0)
    if kind.startswith("node/") or kind.startswith("nodes/"):
        names = [kind.split("/", 1)[1]]
    elif kind in ("node", "nodes", "no"):
        names = [] if o.all or o.selector else [args.pop(0)]
    else:
        raise CliError(f'invalid resource type {kind}, only node types are supported')
    specs = [_parse_taint(a) for a in args]
    if not specs:
        raise CliError("at least one taint update is required")
    nodes = list((s.client.request("GET", _NODES, params={"labelSelector": o.selector} if o.selector else None)
                  or {}).get("items") or []) if not names else [s.client.request("GET", f"{_NODES}/{n}")
                                                                   for n in names]
    for node in nodes:
        taints = list((node.get("spec") or {}).get("taints") or [])
        added = replaced = False
        for taint, remove in specs:
            if remove:
                kept = [t for t in taints if not (t.get("key") == taint["key"] and
                                                  (not taint["effect"] or t.get("effect") == taint["effect"]))]
                if len(kept) == len(taints):
                    raise CliError(f'taint "{taint["key"]}' + (f':{taint["effect"]}' if taint["effect"] else "") +
                                   '" not found')
                taints = kept
                continue
            same = [t for t in taints if t.get("key") == taint["key"] and t.get("effect") == taint["effect"]]
            if same and not o.overwrite:
                raise CliError(f"node {node['metadata']['name']} already has {taint['key']} taint(s) with same "
                               f"effect(s) and --overwrite is false")
            if same:
                taints = [taint if t in same else t for t in taints]
                replaced = True
            else:
                taints.append(taint)
                added = True
        word = "modified" if replaced else "tainted" if added else "untainted"
        if dry_run_mode(o) != "client":
            s.client.request("PATCH", f"{_NODES}/{node['metadata']['name']}",
                             body={"spec": {"taints": taints or None}}, content_type=PatchType.MERGE.value,
                             params={"dryRun": "All"} if dry_run_mode(o) == "server" else None)
        suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(dry_run_mode(o), "")
        s.print(f"node/{node['metadata']['name']} {word}{suffix}")
    return 0
