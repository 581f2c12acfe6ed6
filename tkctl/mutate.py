"""What mutating verbs share: the success line (``deployment.apps/web created``), ``-o`` instead of it,
dry-run modes, and kubectl's defaults for field validation and field managers."""

from __future__ import annotations

import argparse
from typing import Any

from tkctl.errors import CliError
from tkctl.printing import name_of, render
from tkctl.session import Session

_SUFFIX = {"client": " (dry run)", "server": " (server dry run)"}


def dry_run_mode(o: argparse.Namespace) -> str:
    """``none``, ``client`` or ``server`` (the deprecated ``unchanged`` means client)."""
    mode = str(getattr(o, "dry_run", "none") or "none")
    return "client" if mode == "unchanged" else mode


def report(s: Session, obj: dict[str, Any], word: str, o: argparse.Namespace, *, built: bool = False) -> None:
    """Print the object in ``-o`` format, or the success line for it (``built``: see printing.render)."""
    output = getattr(o, "output", "") or ""
    if output and output != "wide":
        s.out.write(render([obj], output, single=True, built=built))
        return
    s.print(f"{name_of(obj)} {word}{_SUFFIX.get(dry_run_mode(o), '')}")


def field_validation(o: argparse.Namespace) -> str:
    """``--validate``: strict (default), warn, ignore — sent as the server's ``fieldValidation``."""
    value = str(getattr(o, "validate", "strict") or "strict").lower()
    mapping = {"true": "Strict", "strict": "Strict", "warn": "Warn", "false": "Ignore", "ignore": "Ignore"}
    if value not in mapping:
        raise CliError(f'invalid - validate option "{value}"; must be one of: strict (or true), warn, ignore '
                       f"(or false)")
    return mapping[value]


def add_validate(p: Any) -> None:
    """``--validate``."""
    p.add_argument("--validate", default="strict", help="strict, warn or ignore (true/false) schema validation")


def namespace_for(s: Session, namespaced: bool, obj: dict[str, Any]) -> str | None:
    """The namespace an object from a file goes to; a conflicting ``-n`` is an error, as in kubectl."""
    if not namespaced:
        return None
    in_file = (obj.get("metadata") or {}).get("namespace")
    if in_file and s.explicit_namespace and in_file != s.namespace:
        raise CliError(f"the namespace from the provided object \"{in_file}\" does not match the namespace "
                       f"\"{s.namespace}\". You must pass '--namespace={in_file}' to perform this operation.")
    return str(in_file or s.namespace)


def with_namespace(s: Session, obj: dict[str, Any], namespaced: bool) -> dict[str, Any]:
    """A generated object as kubectl prints it: ``metadata.namespace`` set when ``-n`` was given."""
    if namespaced and s.explicit_namespace:
        obj.setdefault("metadata", {})["namespace"] = s.namespace
    return obj
