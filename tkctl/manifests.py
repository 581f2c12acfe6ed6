"""Objects from ``-f`` arguments: files, directories (``-R`` to recurse), ``-``; YAML streams, JSON, Lists."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tkctl.errors import CliError

_EXTENSIONS = (".json", ".yaml", ".yml")


def _files(arg: str, recursive: bool) -> Iterator[tuple[str, str]]:
    """(source name, text) for one ``-f`` argument."""
    if arg == "-":
        yield "STDIN", sys.stdin.read()
        return
    path = Path(arg)
    if path.is_dir():
        pattern = "**/*" if recursive else "*"
        for child in sorted(path.glob(pattern)):
            if child.is_file() and child.suffix in _EXTENSIONS:
                yield str(child), child.read_text()
        return
    if not path.exists():
        raise CliError(f'the path "{arg}" does not exist')
    yield arg, path.read_text()


def parse_documents(source: str, text: str) -> list[dict[str, Any]]:
    """Every object in a YAML stream or JSON document, ``List`` kinds flattened."""
    stripped = text.lstrip()
    docs: list[Any]
    if stripped.startswith("{") or stripped.startswith("["):
        try:
            loaded = json.loads(text)
            docs = loaded if isinstance(loaded, list) else [loaded]
        except ValueError:
            docs = _yaml_docs(source, text)
    else:
        docs = _yaml_docs(source, text)
    objects: list[dict[str, Any]] = []
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise CliError(f'error validating "{source}": error validating data: invalid object')
        if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
            objects += [i for i in doc["items"] if isinstance(i, dict)]
            continue
        if not doc.get("kind") or not doc.get("apiVersion"):
            missing = "kind" if not doc.get("kind") else "apiVersion"
            raise CliError(f'error validating "{source}": error validating data: {missing} not set')
        objects.append(doc)
    return objects


def _loader() -> type:
    """A safe loader that keeps timestamps as strings (go-yaml into ``interface{}`` does)."""
    import yaml  # noqa: PLC0415

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc,valid-type]
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in base.yaml_implicit_resolvers.items()
    }
    return Loader


def _yaml_docs(source: str, text: str) -> list[Any]:
    import yaml  # noqa: PLC0415

    try:
        return list(yaml.load_all(text, Loader=_loader()))
    except yaml.YAMLError as exc:
        raise CliError(f"error parsing {source}: {exc}") from exc


def read_objects(filenames: list[str], recursive: bool, verb: str = "create") -> list[tuple[str, dict[str, Any]]]:
    """(source, object) for every object named by the ``-f`` arguments, in order."""
    if not filenames:
        raise CliError("must specify one of -f and -k")
    out: list[tuple[str, dict[str, Any]]] = []
    for arg in filenames:
        found = False
        for source, text in _files(arg, recursive):
            found = True
            out += [(source, obj) for obj in parse_documents(source, text)]
        if not found:
            raise CliError(f'error reading [{arg}]: recognized file extensions are [.json .yaml .yml]')
    if not out:
        raise CliError(f"no objects passed to {verb}")
    return out
