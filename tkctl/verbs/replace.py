"""``tkctl replace``: PUT whole objects from files (``--force`` deletes and re-creates)."""

from __future__ import annotations

import argparse

from client.errors import ApiError, NotFound
from tkctl.errors import CliError, api_error_text
from tkctl.flags import Parser, add_dry_run, add_filename_flags, add_output_flag
from tkctl.mutate import add_validate, dry_run_mode, field_validation, namespace_for, report
from tkctl.session import Session

EXAMPLES = {"replace": """examples:
  # Replace a pod using the data in pod.json
  tkctl replace -f ./pod.json

  # Force replace, delete and then re-create the resource
  tkctl replace --force -f ./pod.json
"""}


def build(p: Parser, verb: str) -> None:
    add_filename_flags(p)
    add_output_flag(p)
    add_dry_run(p)
    add_validate(p)
    p.flag("--force", help="delete and re-create the resource")
    p.add_argument("--field-manager", default="kubectl-replace", help="name of the manager used to track field "
                   "ownership")


def run(s: Session, o: argparse.Namespace) -> int:
    from tkctl.manifests import read_objects  # noqa: PLC0415

    if not o.filename:
        raise CliError("must specify --filename to replace")
    mode = dry_run_mode(o)
    failed = False
    for source, obj in read_objects(o.filename, o.recursive, "replace"):
        try:
            info = s.discovery.for_kind(str(obj.get("apiVersion")), str(obj.get("kind")))
            ns = namespace_for(s, info.ref.namespaced, obj)
            name = str((obj.get("metadata") or {}).get("name"))
            if mode == "client":
                report(s, obj, "replaced", o)
                continue
            if o.force:
                try:
                    s.client.delete(info.ref, name, ns)
                    s.print(f'{info.ref.kind.lower()}{"." + info.ref.group if info.ref.group else ""} "{name}" '
                            f"deleted")
                except NotFound:
                    pass
                _wait_gone(s, info.ref, name, ns)
                result = s.client.create(info.ref, obj, ns, field_manager=o.field_manager,
                                         field_validation=field_validation(o))
            else:
                result = s.client.update(info.ref, obj, ns, field_manager=o.field_manager,
                                         field_validation=field_validation(o), dry_run=mode == "server")
            report(s, result, "replaced", o)
        except ApiError as exc:
            s.warn(api_error_text(exc, context=f'error when replacing "{source}": '))
            failed = True
    return 1 if failed else 0


def _wait_gone(s: Session, ref: object, name: str, ns: str | None) -> None:
    import time  # noqa: PLC0415

    from client.refs import ResourceRef  # noqa: PLC0415

    assert isinstance(ref, ResourceRef)
    for _ in range(600):
        try:
            s.client.get(ref, name, ns)
        except NotFound:
            return
        time.sleep(0.1)
    raise CliError(f"timed out waiting for {ref.resource} \"{name}\" to be deleted")
