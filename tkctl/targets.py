"""Resource arguments as kubectl reads them: ``pods``, ``pods a b``, ``pods,svc``, ``pod/a svc/b``, ``all``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from client.resources import ResourceInfo
from tkctl.errors import CliError
from tkctl.session import Session


@dataclass
class Target:
    """One resource type and the names asked for (empty: every object matching the selectors)."""

    info: ResourceInfo
    names: list[str] = field(default_factory=list)


def _dedupe_category(infos: list[ResourceInfo]) -> list[ResourceInfo]:
    seen: set[tuple[str, str]] = set()
    out = []
    for info in infos:
        key = (info.ref.group, info.ref.resource)
        if key not in seen:
            seen.add(key)
            out.append(info)
    return out


def expand_types(session: Session, text: str) -> list[ResourceInfo]:
    """``pods,svc`` / ``all`` into resource infos, in the order given."""
    out: list[ResourceInfo] = []
    for word in text.split(","):
        if not word:
            continue
        category = [i for i in session.discovery.resources() if word in i.categories]
        if word == "all" or (category and not _is_resource_name(session, word)):
            out += _dedupe_category(category)
        else:
            out.append(session.resource(word))
    return out


def _is_resource_name(session: Session, word: str) -> bool:
    return any(word in i.names() for i in session.discovery.resources())


def parse_targets(session: Session, args: list[str], *, allow_empty_names: bool = True) -> list[Target]:
    """The resource/name arguments of ``get``, ``delete``, ``describe``, ``label``, …."""
    if not args:
        raise CliError("Required resource not specified.")
    if any("/" in a for a in args):
        if not all("/" in a for a in args):
            raise CliError("there is no need to specify a resource type as a separate argument when passing "
                           "arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' instead of "
                           "'kubectl get resource resource/<resource_name>'")
        targets: list[Target] = []
        for a in args:
            kind, _, name = a.partition("/")
            info = session.resource(kind)
            if targets and targets[-1].info == info:
                targets[-1].names.append(name)
            else:
                targets.append(Target(info, [name]))
        return targets
    types = expand_types(session, args[0])
    names = args[1:]
    if not allow_empty_names and not names:
        raise CliError("resource(s) were provided, but no name was specified")
    return [Target(info, list(names)) for info in types]


def object_identity(obj: dict[str, Any]) -> tuple[str, str]:
    """(namespace, name) of an object."""
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")
