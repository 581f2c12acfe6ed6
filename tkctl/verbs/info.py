"""Server facts: ``version``, ``api-resources``, ``api-versions``, ``cluster-info``."""

from __future__ import annotations

import argparse
import json

from tkctl.errors import CliError
from tkctl.flags import Parser
from tkctl.session import Session

EXAMPLES = {
    "api-resources": """examples:
  # Print the supported API resources
  tkctl api-resources

  # Print the supported API resources with more information
  tkctl api-resources -o wide

  # Print the supported non-namespaced resources
  tkctl api-resources --namespaced=false
""",
    "version": """examples:
  # Print the client and server versions for the current context
  tkctl version
""",
}


def build(p: Parser, verb: str) -> None:
    if verb == "version":
        p.add_argument("-o", "--output", default="", help="one of 'yaml' or 'json'")
        p.flag("--client", help="if true, shows client version only (no server required)")
    elif verb == "api-resources":
        p.add_argument("-o", "--output", default="", help="output format: wide or name")
        p.add_argument("--namespaced", default="", help="if false, non-namespaced resources will be returned")
        p.add_argument("--api-group", default=None, help="limit to resources in the specified API group")
        p.add_argument("--verbs", action="append", default=[], help="limit to resources that support these verbs")
        p.add_argument("--sort-by", default="", help="sort by 'name' or 'kind'")
        p.flag("--no-headers", help="when using the default or custom-column output format, don't print headers")
        p.flag("--cached", help="use the cached list of resources if available")
        p.add_argument("--categories", action="append", default=[], help="limit to resources in these categories")
    elif verb == "cluster-info":
        p.add_argument("args", nargs="*", help="(dump is not supported)")


def run(s: Session, o: argparse.Namespace) -> int:
    if s.verb == "version":
        return _version(s, o)
    if s.verb == "api-versions":
        for gv in sorted(set(s.discovery.group_versions())):
            s.print(gv)
        return 0
    if s.verb == "api-resources":
        return _api_resources(s, o)
    return _cluster_info(s, o)


def _version(s: Session, o: argparse.Namespace) -> int:
    from process.version import KUBERNETES_GIT_VERSION  # noqa: PLC0415

    client = {"major": "1", "minor": "32", "gitVersion": KUBERNETES_GIT_VERSION, "gitCommit": "", "gitTreeState":
              "clean", "buildDate": "", "goVersion": "", "compiler": "python", "platform": "linux/amd64"}
    server = None if o.client else s.client.request("GET", "/version")
    if o.output in ("json", "yaml"):
        doc = {"clientVersion": client, **({"serverVersion": server} if server else {})}
        if o.output == "json":
            s.out.write(json.dumps(doc, indent=2) + "\n")
        else:
            from tkctl.encode import to_yaml  # noqa: PLC0415

            s.out.write(to_yaml(doc))
        return 0
    if o.output:
        raise CliError("--output must be 'yaml' or 'json'")
    s.print(f"Client Version: {KUBERNETES_GIT_VERSION}")
    if server is not None:
        s.print(f"Server Version: {server.get('gitVersion')}")
    return 0


def _api_resources(s: Session, o: argparse.Namespace) -> int:
    from tkctl.table import format_rows  # noqa: PLC0415

    if o.output not in ("", "wide", "name"):
        raise CliError(f"--output {o.output} is not available")
    namespaced = {"": None, "true": True, "false": False}.get(o.namespaced.lower())
    if namespaced is None and o.namespaced:
        raise CliError(f'invalid argument "{o.namespaced}" for "--namespaced" flag')
    verbs = [v for spec in o.verbs for v in spec.split(",") if v]
    categories = [c for spec in o.categories for c in spec.split(",") if c]
    seen_groups: dict[str, str] = {}
    rows = []
    for info in s.discovery.resources():
        ref = info.ref
        preferred = seen_groups.setdefault(ref.group, ref.version)
        if ref.version != preferred:
            continue
        if namespaced is not None and ref.namespaced != namespaced:
            continue
        if o.api_group is not None and ref.group != o.api_group:
            continue
        if verbs and not set(verbs) <= set(info.verbs):
            continue
        if categories and not set(categories) & set(info.categories):
            continue
        rows.append(info)
    key = {"name": lambda i: i.ref.resource, "kind": lambda i: i.ref.kind}.get(o.sort_by, lambda i: i.ref.group)
    rows.sort(key=key)
    if o.output == "name":
        for i in rows:
            s.print(f"{i.ref.resource}.{i.ref.group}" if i.ref.group else i.ref.resource)
        return 0
    header = ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    if o.output == "wide":
        header += ["VERBS", "CATEGORIES"]
    table = [] if o.no_headers else [header]
    for i in rows:
        line = [i.ref.resource, ",".join(i.short_names), i.ref.api_version, "true" if i.ref.namespaced else "false",
                i.ref.kind]
        if o.output == "wide":
            line += [",".join(i.verbs), ",".join(i.categories)]
        table.append(line)
    s.out.write(format_rows(table))
    return 0


def _cluster_info(s: Session, o: argparse.Namespace) -> int:
    if o.args:
        raise CliError("cluster-info dump is not supported by tkctl")
    s.client.request("GET", "/version")
    s.print(f"Kubernetes control plane is running at {s.config.servers[0]}")
    services = s.client.request("GET", "/api/v1/namespaces/kube-system/services",
                                params={"labelSelector": "kubernetes.io/cluster-service=true"})
    for svc in (services or {}).get("items") or []:
        name = (svc.get("metadata") or {}).get("labels", {}).get("kubernetes.io/name") or svc["metadata"]["name"]
        port = ((svc.get("spec") or {}).get("ports") or [{}])[0]
        port_name = port.get("name") or port.get("port")
        s.print(f"{name} is running at {s.config.servers[0]}/api/v1/namespaces/kube-system/services/"
                f"{svc['metadata']['name']}:{port_name}/proxy")
    s.print("\nTo further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.")
    return 0
