"""``tkctl config``: read and edit kubeconfig files as ``kubectl config`` does."""

from __future__ import annotations

import argparse
import copy
from typing import Any

from tkctl.errors import CliError
from tkctl.flags import Parser
from tkctl.session import Session

SUBVERBS = {
    "view": "Display merged kubeconfig settings or a specified kubeconfig file",
    "current-context": "Display the current-context",
    "use-context": "Set the current-context in a kubeconfig file",
    "use": "Set the current-context in a kubeconfig file",
    "get-contexts": "Describe one or many contexts",
    "get-clusters": "Display clusters defined in the kubeconfig",
    "get-users": "Display users defined in the kubeconfig",
    "set-context": "Set a context entry in kubeconfig",
    "set-cluster": "Set a cluster entry in kubeconfig",
    "set-credentials": "Set a user entry in kubeconfig",
    "delete-context": "Delete the specified context from the kubeconfig",
    "delete-cluster": "Delete the specified cluster from the kubeconfig",
    "delete-user": "Delete the specified user from the kubeconfig",
    "rename-context": "Rename a context from the kubeconfig file",
}

EXAMPLES = {"config view": """examples:
  # Show merged kubeconfig settings
  tkctl config view

  # Get the password for the e2e user
  tkctl config view -o jsonpath='{.users[?(@.name == "e2e")].user.password}'
"""}

_REDACT = {"certificate-authority-data": "DATA+OMITTED", "client-certificate-data": "DATA+OMITTED",
           "client-key-data": "DATA+OMITTED", "token": "REDACTED", "password": "REDACTED"}


def build(p: Parser, verb: str) -> None:
    sub = verb.removeprefix("config").strip()
    if not sub:
        p.add_argument("args", nargs="*")
        return
    if sub == "view":
        p.add_argument("-o", "--output", default="yaml", help="output format: yaml, json, jsonpath=...")
        p.flag("--minify", help="remove all information not used by current-context from the output")
        p.flag("--raw", help="display raw byte data and sensitive data")
        p.flag("--flatten", help="flatten the resulting kubeconfig file into self-contained output")
    if sub in ("get-contexts",):
        p.add_argument("-o", "--output", default="", help="output format: name")
        p.flag("--no-headers", help="when using the default output format, don't print headers")
    if sub == "set-context":
        p.flag("--current", help="modify the current context")
        p.add_argument("--cluster", dest="ctx_cluster", help="cluster for the context entry")
        p.add_argument("--user", dest="ctx_user", help="user for the context entry")
        p.add_argument("--namespace", dest="ctx_namespace", help="namespace for the context entry")
    if sub == "set-cluster":
        p.add_argument("--server", dest="cl_server", help="server for the cluster entry")
        p.add_argument("--certificate-authority", help="path to a certificate authority file")
        p.flag("--embed-certs", help="embed certificates in the kubeconfig")
        p.add_argument("--tls-server-name", dest="cl_tls_server_name", help="tls-server-name for the cluster")
        p._bools.add("--insecure-skip-tls-verify")
    if sub == "set-credentials":
        p.add_argument("--token", dest="cred_token", help="bearer token for the user entry")
        p.add_argument("--username", help="username for basic authentication")
        p.add_argument("--password", help="password for basic authentication")
        p.add_argument("--client-certificate", dest="cred_cert", help="path to a client certificate file")
        p.add_argument("--client-key", dest="cred_key", help="path to a client key file")
        p.flag("--embed-certs", help="embed client cert/key in the kubeconfig")
    p.add_argument("args", nargs="*")


def run(s: Session, o: argparse.Namespace) -> int:
    from client.kubeconfig import KubeconfigError  # noqa: PLC0415

    sub = s.verb.removeprefix("config").strip()
    if not sub:
        raise CliError(f'unknown command "{o.args[0]}" for "tkctl config"' if o.args else
                       "a config subcommand is required (view, use-context, get-contexts, ...)")
    try:
        return _run(s, o, sub)
    except KubeconfigError as exc:
        raise CliError(str(exc)) from exc


def _name_arg(o: argparse.Namespace, what: str) -> str:
    if len(o.args) != 1:
        raise CliError(f"unexpected args: {o.args}" if o.args else f"you must specify a {what} name")
    return str(o.args[0])


def _run(s: Session, o: argparse.Namespace, sub: str) -> int:
    kc = s.kubeconfig
    if sub == "current-context":
        if not kc.current_context:
            raise CliError("current-context is not set")
        s.print(kc.current_context)
    elif sub in ("use-context", "use"):
        name = _name_arg(o, "context")
        if name not in kc.contexts:
            raise CliError(f'no context exists with the name: "{name}"')
        kc.use_context(name)
        kc.save()
        s.print(f'Switched to context "{name}".')
    elif sub == "get-contexts":
        _get_contexts(s, o)
    elif sub == "get-clusters":
        s.print("NAME")
        for name in kc.clusters:
            s.print(name)
    elif sub == "get-users":
        s.print("NAME")
        for name in kc.users:
            s.print(name)
    elif sub == "set-context":
        name = kc.current_context if o.current else _name_arg(o, "context")
        existed = name in kc.contexts
        fields = {"cluster": o.ctx_cluster, "user": o.ctx_user, "namespace": o.ctx_namespace}
        kc.set_context(name, **{k: v for k, v in fields.items() if v is not None})
        kc.save()
        s.print(f'Context "{name}" {"modified" if existed else "created"}.')
    elif sub == "set-cluster":
        name = _name_arg(o, "cluster")
        cluster_fields: dict[str, Any] = {"server": o.cl_server, "tls_server_name": o.cl_tls_server_name}
        if o.certificate_authority:
            if o.embed_certs:
                from pathlib import Path  # noqa: PLC0415

                cluster_fields["certificate_authority_data"] = Path(o.certificate_authority).read_bytes()
            else:
                cluster_fields["certificate_authority"] = o.certificate_authority
        if o.insecure_skip_tls_verify:
            cluster_fields["insecure_skip_tls_verify"] = True
        kc.set_cluster(name, **{k: v for k, v in cluster_fields.items() if v is not None})
        kc.save()
        s.print(f'Cluster "{name}" set.')
    elif sub == "set-credentials":
        name = _name_arg(o, "user")
        fields = {"token": o.cred_token, "username": o.username, "password": o.password}
        for flag, key in ((o.cred_cert, "client_certificate"), (o.cred_key, "client_key")):
            if flag:
                if o.embed_certs:
                    from pathlib import Path  # noqa: PLC0415

                    fields[key + "_data"] = Path(flag).read_bytes()
                else:
                    fields[key] = flag
        kc.set_user(name, **{k: v for k, v in fields.items() if v is not None})
        kc.save()
        s.print(f'User "{name}" set.')
    elif sub in ("delete-context", "delete-cluster", "delete-user"):
        what = sub.removeprefix("delete-")
        name = _name_arg(o, what)
        kc.delete(what + "s" if what != "user" else "users", name)
        paths = kc.save()
        where = paths[0] if paths else kc.paths[0]
        s.print(f"deleted {what} {name} from {where}")
    elif sub == "rename-context":
        if len(o.args) != 2:
            raise CliError("unexpected args: need CONTEXT_NAME NEW_NAME")
        old, new = o.args
        body = kc.context(old)
        kc.set_context(new, **{k: v for k, v in body.items()})
        if kc.current_context == old:
            kc.use_context(new)
        kc.delete("contexts", old)
        kc.save()
        s.print(f'Context "{old}" renamed to "{new}".')
    elif sub == "view":
        _view(s, o)
    return 0


def _get_contexts(s: Session, o: argparse.Namespace) -> None:
    from tkctl.table import format_rows  # noqa: PLC0415

    kc = s.kubeconfig
    names = list(o.args) or list(kc.contexts)
    missing = [n for n in names if n not in kc.contexts]
    if o.output == "name":
        for n in names:
            if n in kc.contexts:
                s.print(n)
    else:
        rows = [] if o.no_headers else [["CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"]]
        for n in sorted(n for n in names if n in kc.contexts):
            c = kc.contexts[n]
            rows.append(["*" if n == kc.current_context else "", n, c.get("cluster", ""), c.get("user", ""),
                         c.get("namespace", "")])
        s.out.write(format_rows(rows))
    if missing:
        raise CliError(f'context {missing[0]} not found')


def _view(s: Session, o: argparse.Namespace) -> None:
    doc = s.kubeconfig.to_dict()
    if o.minify:
        current = doc.get("current-context")
        if not current:
            raise CliError("current-context must exist in order to minify")
        ctx = next((c for c in doc["contexts"] if c["name"] == current), None)
        if ctx is None:
            raise CliError(f'cannot locate context {current}')
        doc["contexts"] = [ctx]
        doc["clusters"] = [c for c in doc["clusters"] if c["name"] == ctx["context"].get("cluster")]
        doc["users"] = [u for u in doc["users"] if u["name"] == ctx["context"].get("user")]
    if not o.raw:
        doc = copy.deepcopy(doc)
        for section, body in (("clusters", "cluster"), ("users", "user")):
            for entry in doc.get(section) or []:
                for key, value in (entry.get(body) or {}).items():
                    if key in _REDACT and value:
                        entry[body][key] = _REDACT[key]
    for section in ("clusters", "contexts", "users"):
        doc[section] = doc.get(section) or None
    doc.setdefault("preferences", {})
    from tkctl.printing import render  # noqa: PLC0415

    s.out.write(render([doc], o.output, single=True))
