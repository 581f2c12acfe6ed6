"""``tkctl auth can-i`` (SelfSubjectAccessReview / SelfSubjectRulesReview) and ``tkctl auth whoami``."""

from __future__ import annotations

import argparse
from typing import Any

from tkctl.errors import CliError, ExitCode
from tkctl.flags import Parser
from tkctl.session import Session

SUBVERBS = {
    "can-i": "Check whether an action is allowed",
    "whoami": "Experimental: Check self subject attributes",
}

EXAMPLES = {"auth can-i": """examples:
  # Check to see if I can create pods in any namespace
  tkctl auth can-i create pods --all-namespaces

  # List all allowed actions in namespace "foo"
  tkctl auth can-i --list --namespace=foo
"""}

_AUTHZ = "/apis/authorization.k8s.io/v1"


def build(p: Parser, verb: str) -> None:
    sub = verb.removeprefix("auth").strip()
    if sub == "can-i":
        p.flag("-A", "--all-namespaces", help="if true, check the specified action in all namespaces")
        p.flag("--list", help="if true, prints all allowed actions")
        p.flag("-q", "--quiet", help="if true, suppress output and just return the exit code")
        p.flag("--no-headers", help="if true, prints allowed actions without headers")
        p.add_argument("--subresource", default="", help="subresource such as pod/log or deployment/scale")
    if sub == "whoami":
        p.add_argument("-o", "--output", default="", help="output format: json, yaml")
    p.add_argument("args", nargs="*", help="VERB [TYPE | TYPE/NAME | NONRESOURCEURL]")


def run(s: Session, o: argparse.Namespace) -> int:
    sub = s.verb.removeprefix("auth").strip()
    if sub == "whoami":
        return _whoami(s, o)
    if sub != "can-i":
        raise CliError("an auth subcommand is required: can-i, whoami")
    if o.list:
        return _list(s, o)
    if len(o.args) < 2:
        raise CliError("you must specify two arguments: verb resource or verb resource/resourceName.\nSee "
                       "'kubectl auth can-i -h' for help and examples")
    verb, what = o.args[0], o.args[1]
    attrs: dict[str, Any]
    if what.startswith("/"):
        attrs = {"nonResourceAttributes": {"path": what, "verb": verb}}
    else:
        kind, _, name = what.partition("/")
        info = s.resource(kind)
        ra: dict[str, Any] = {"verb": verb, "resource": info.ref.resource, "group": info.ref.group,
                              "version": info.ref.version}
        if name:
            ra["name"] = name
        if o.subresource:
            ra["subresource"] = o.subresource
        if info.ref.namespaced and not o.all_namespaces:
            ra["namespace"] = s.namespace
        attrs = {"resourceAttributes": ra}
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
              "metadata": {"creationTimestamp": None}, "spec": attrs, "status": {"allowed": False}}
    result = s.client.request("POST", f"{_AUTHZ}/selfsubjectaccessreviews", body=review)
    allowed = bool((result.get("status") or {}).get("allowed"))
    if not o.quiet:
        s.print("yes" if allowed else "no")
    if not allowed:
        raise ExitCode(1)
    return 0


def _list(s: Session, o: argparse.Namespace) -> int:
    from tkctl.table import TabWriter  # noqa: PLC0415

    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
              "metadata": {"creationTimestamp": None}, "spec": {"namespace": s.namespace}, "status": {
                  "incomplete": False, "nonResourceRules": None, "resourceRules": None}}
    result = s.client.request("POST", f"{_AUTHZ}/selfsubjectrulesreviews", body=review)
    st = result.get("status") or {}
    w = TabWriter(min_width=0, padding=3)
    if not o.no_headers:
        w.write("Resources\tNon-Resource URLs\tResource Names\tVerbs\n")
    rows = []
    for rule in st.get("resourceRules") or []:
        groups = rule.get("apiGroups") or [""]
        for res in rule.get("resources") or []:
            for g in groups:
                name = f"{res}.{g}" if g else res
                rows.append((name, "[]", "[" + " ".join(rule.get("resourceNames") or []) + "]",
                             "[" + " ".join(rule.get("verbs") or []) + "]"))
    for rule in st.get("nonResourceRules") or []:
        rows.append(("", "[" + " ".join(rule.get("nonResourceURLs") or []) + "]", "[]",
                     "[" + " ".join(rule.get("verbs") or []) + "]"))
    for r in sorted(rows, key=lambda r: (r[0] == "", r[0], r[1])):
        w.write("\t".join(r) + "\n")
    s.out.write(w.render())
    return 0


def _whoami(s: Session, o: argparse.Namespace) -> int:
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview",
              "metadata": {"creationTimestamp": None}, "status": {"userInfo": {}}}
    result = s.client.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", body=review)
    if o.output:
        from tkctl.printing import render  # noqa: PLC0415

        s.out.write(render([result], o.output, single=True))
        return 0
    from tkctl.table import TabWriter  # noqa: PLC0415

    user = (result.get("status") or {}).get("userInfo") or {}
    w = TabWriter(min_width=0, padding=3)
    w.write("ATTRIBUTE\tVALUE\n")
    w.write(f"Username\t{user.get('username', '')}\n")
    if user.get("uid"):
        w.write(f"UID\t{user['uid']}\n")
    if user.get("groups"):
        w.write(f"Groups\t[{' '.join(user['groups'])}]\n")
    for key, values in sorted((user.get("extra") or {}).items()):
        w.write(f"Extra: {key}\t[{' '.join(values)}]\n")
    s.out.write(w.render())
    return 0
