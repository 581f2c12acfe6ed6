"""``tkctl edit``: the object in ``$KUBE_EDITOR``/``$EDITOR`` (vi), then a patch of what changed."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from client.refs import PatchType
from tkctl.errors import CliError
from tkctl.flags import Parser, add_filename_flags
from tkctl.mutate import report
from tkctl.session import Session
from tkctl.targets import parse_targets

EXAMPLES = {"edit": """examples:
  # Edit the service named 'registry'
  tkctl edit svc/registry

  # Use an alternative editor
  KUBE_EDITOR="nano" tkctl edit svc/registry
"""}

_HEADER = ("# Please edit the object below. Lines beginning with a '#' will be ignored,\n"
           "# and an empty file will abort the edit. If an error occurs while saving this file will be\n"
           "# reopened with the relevant failures.\n#\n")


def build(p: Parser, verb: str) -> None:
    add_filename_flags(p)
    p.add_argument("-o", "--output", default="", help="yaml or json: the format the object is edited, then printed in")
    p.add_argument("--field-manager", default="kubectl-edit", help="name of the manager used to track field "
                   "ownership")
    p.flag("--save-config", help="save the configuration in the last-applied-configuration annotation")
    p.add_argument("args", nargs="*", help="(RESOURCE/NAME | -f FILENAME)")


def run(s: Session, o: argparse.Namespace) -> int:
    from api.catalog import REGISTRY, type_name_for  # noqa: PLC0415
    from api.patch import merge_patch, strategic  # noqa: PLC0415
    from tkctl.encode import to_json, to_yaml  # noqa: PLC0415
    from tkctl.manifests import parse_documents  # noqa: PLC0415

    if o.output not in ("", "yaml", "json"):
        raise CliError(f'unable to match a printer suitable for the output format "{o.output}", allowed formats '
                       "are: json,yaml")
    encode = to_json if o.output == "json" else to_yaml
    objects: list[tuple[Any, dict[str, Any]]] = []
    for t in parse_targets(s, o.args, allow_empty_names=False):
        ns = s.namespace if t.info.ref.namespaced else None
        objects += [(t.info, s.client.get(t.info.ref, n, ns)) for n in t.names]
    editor = shlex.split(os.environ.get("KUBE_EDITOR") or os.environ.get("EDITOR") or "vi")
    for info, live in objects:
        live.setdefault("apiVersion", info.ref.api_version)
        live.setdefault("kind", info.ref.kind)
        with tempfile.TemporaryDirectory(prefix="tkctl-edit-") as tmp:
            path = Path(tmp) / f"{info.ref.resource}-{live['metadata']['name']}.{o.output or 'yaml'}"
            original_text = _HEADER + encode(live)
            path.write_text(original_text)
            if subprocess.run([*editor, str(path)]).returncode != 0:
                raise CliError("there was a problem with the editor " + " ".join(editor))
            edited_text = path.read_text()
        if edited_text == original_text:
            s.warn("Edit cancelled, no changes made.")
            continue
        body = "\n".join(line for line in edited_text.splitlines() if not line.lstrip().startswith("#"))
        if not body.strip():
            s.warn("Edit cancelled, saved file was empty.")
            continue
        edited = parse_documents(str(path), body)[0]
        type_name = type_name_for(str(live["apiVersion"]), str(live["kind"]))
        if type_name is not None:
            patch, patch_type = strategic.create_two_way(REGISTRY, type_name, live, edited), PatchType.STRATEGIC
        else:
            merge = merge_patch.create(live, edited)
            patch, patch_type = merge if isinstance(merge, dict) else {}, PatchType.MERGE
        if not patch:
            s.warn("Edit cancelled, no changes made.")
            continue
        result = s.client.patch(info.ref, live["metadata"]["name"], patch, live["metadata"].get("namespace"),
                                patch_type=patch_type, field_manager=o.field_manager)
        report(s, result, "edited", o)
    return 0
