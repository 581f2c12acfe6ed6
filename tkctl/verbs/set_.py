"""``tkctl set image|env|resources``: edit a workload's pod template and patch the difference."""

from __future__ import annotations

import argparse
import copy
from typing import Any

from client.refs import PatchType
from tkctl.errors import CliError
from tkctl.flags import Parser, add_dry_run, add_output_flag
from tkctl.mutate import dry_run_mode, report
from tkctl.session import Session
from tkctl.targets import parse_targets

SUBVERBS = {
    "image": "Update the image of a pod template",
    "env": "Update environment variables on a pod template",
    "resources": "Update resource requests/limits on objects with pod templates",
}

EXAMPLES = {"set image": """examples:
  # Set a deployment's nginx container image to 'nginx:1.9.1', and its busybox container image to 'busybox'
  tkctl set image deployment/nginx busybox=busybox nginx=nginx:1.9.1

  # Update image of all containers of deployment nginx to 'nginx:1.9.1'
  tkctl set image deployment nginx *=nginx:1.9.1
""", "set env": """examples:
  # Update deployment 'registry' with a new environment variable
  tkctl set env deployment/registry STORAGE_DIR=/local

  # Remove the environment variable ENV from container 'c1' in all deployment configs
  tkctl set env deployments --all --containers="c1" ENV-
"""}

_WORD = {"image": "image updated", "env": "env updated", "resources": "resource requirements updated"}


def build(p: Parser, verb: str) -> None:
    sub = verb.removeprefix("set").strip()
    add_output_flag(p)
    add_dry_run(p)
    p.add_argument("-l", "--selector", help="selector (label query) to filter on")
    p.flag("--all", help="select all resources in the namespace of the specified resource types")
    p.add_argument("--field-manager", default="kubectl-set", help="name of the manager used to track field "
                   "ownership")
    if sub in ("env", "resources"):
        p.add_argument("-c", "--containers", default="*", help="the names of containers to change (wildcards ok)")
    if sub == "resources":
        p.add_argument("--limits", default="", help="resource limits, e.g. cpu=200m,memory=512Mi")
        p.add_argument("--requests", default="", help="resource requests, e.g. cpu=100m,memory=256Mi")
    p.add_argument("args", nargs="*", help="(TYPE NAME | TYPE/NAME) CHANGES...")


def _containers(obj: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Pod":
        pod = spec
    elif obj.get("kind") == "CronJob":
        pod = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template", {}).get("spec") or {}
    else:
        pod = (spec.get("template") or {}).get("spec") or {}
    return pod.setdefault("containers", []), pod.get("initContainers") or []


def _matches(pattern: str, name: str) -> bool:
    import fnmatch  # noqa: PLC0415

    return fnmatch.fnmatchcase(name, pattern)


def run(s: Session, o: argparse.Namespace) -> int:
    sub = s.verb.removeprefix("set").strip()
    if not sub:
        raise CliError("a set subcommand is required: image, env, resources")
    resources = [a for a in o.args if "=" not in a and not (a.endswith("-") and sub == "env")]
    changes = [a for a in o.args if a not in resources]
    if sub == "image" and not changes:
        raise CliError("at least one image update is required")
    objects = []
    for t in parse_targets(s, resources):
        ns = s.namespace if t.info.ref.namespaced else None
        if t.names:
            objects += [(t.info, s.client.get(t.info.ref, n, ns)) for n in t.names]
        elif o.all or o.selector:
            objects += [(t.info, i) for i in s.client.list(t.info.ref, ns, label_selector=o.selector)
                        .get("items") or []]
        else:
            raise CliError("resource(s) were provided, but no name was specified")
    for info, obj in objects:
        obj.setdefault("apiVersion", info.ref.api_version)
        obj.setdefault("kind", info.ref.kind)
        before = copy.deepcopy(obj)
        containers, init = _containers(obj)
        if sub == "image":
            _set_image(containers, init, changes)
        elif sub == "env":
            _set_env(containers, o.containers, changes)
        else:
            _set_resources(containers, o.containers, o.limits, o.requests)
        if obj == before:
            continue
        from api.catalog import REGISTRY, type_name_for  # noqa: PLC0415
        from api.patch import strategic  # noqa: PLC0415

        type_name = type_name_for(str(obj["apiVersion"]), str(obj["kind"]))
        assert type_name is not None
        patch = strategic.create_two_way(REGISTRY, type_name, before, obj)
        result = obj
        if dry_run_mode(o) != "client":
            result = s.client.patch(info.ref, obj["metadata"]["name"], patch, obj["metadata"].get("namespace"),
                                    patch_type=PatchType.STRATEGIC, field_manager=o.field_manager,
                                    dry_run=dry_run_mode(o) == "server")
        report(s, result, _WORD[sub], o)
    return 0


def _set_image(containers: list[dict[str, Any]], init: list[dict[str, Any]], changes: list[str]) -> None:
    for change in changes:
        name, _, image = change.partition("=")
        hits = [c for c in [*init, *containers] if name == "*" or c.get("name") == name]
        if not hits:
            raise CliError(f'unable to find container named "{name}"')
        for c in hits:
            c["image"] = image


def _set_env(containers: list[dict[str, Any]], pattern: str, changes: list[str]) -> None:
    for c in containers:
        if not _matches(pattern, str(c.get("name"))):
            continue
        env = list(c.get("env") or [])
        for change in changes:
            if change.endswith("-") and "=" not in change:
                env = [e for e in env if e.get("name") != change[:-1]]
                continue
            key, _, value = change.partition("=")
            for e in env:
                if e.get("name") == key:
                    e.clear()
                    e.update({"name": key, "value": value})
                    break
            else:
                env.append({"name": key, "value": value})
        if env:
            c["env"] = env
        else:
            c.pop("env", None)


def _set_resources(containers: list[dict[str, Any]], pattern: str, limits: str, requests: str) -> None:
    if not limits and not requests:
        raise CliError("you must specify an update to requests or limits (in the form of --requests/--limits)")
    for c in containers:
        if not _matches(pattern, str(c.get("name"))):
            continue
        res = c.setdefault("resources", {})
        for key, text in (("limits", limits), ("requests", requests)):
            if text:
                res.setdefault(key, {}).update(dict(p.split("=", 1) for p in text.split(",") if "=" in p))
