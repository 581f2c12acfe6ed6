"""``tkctl apply``: client-side apply (last-applied annotation, three-way strategic merge) or server-side apply."""

from __future__ import annotations

import argparse
from typing import Any

from client.errors import ApiError, NotFound
from client.refs import PatchType
from tkctl.errors import CliError, api_error_text
from tkctl.flags import Parser, add_dry_run, add_filename_flags, add_output_flag
from tkctl.mutate import add_validate, dry_run_mode, field_validation, namespace_for, report
from tkctl.session import Session

EXAMPLES = {"apply": """examples:
  # Apply the configuration in pod.json to a pod
  tkctl apply -f ./pod.json

  # Apply the JSON passed into stdin to a pod
  cat pod.json | tkctl apply -f -

  # Apply every manifest under a directory, recursively, with server-side apply
  tkctl apply -R -f ./manifests --server-side
"""}


def build(p: Parser, verb: str) -> None:
    add_filename_flags(p)
    add_output_flag(p)
    add_dry_run(p)
    add_validate(p)
    p.flag("--server-side", help="if true, apply runs in the server instead of the client")
    p.flag("--force-conflicts", help="if true, server-side apply will force the changes against conflicts")
    p.add_argument("--field-manager", default="", help="name of the manager used to track field ownership")
    p.flag("--overwrite", default=True, help="automatically resolve conflicts between the modified and live "
           "configuration by using values from the modified configuration")


def run(s: Session, o: argparse.Namespace) -> int:
    from tkctl.manifests import read_objects  # noqa: PLC0415

    if not o.filename:
        raise CliError("must specify one of -f and -k")
    objects = read_objects(o.filename, o.recursive, "apply")
    failed = False
    for source, obj in objects:
        try:
            info = s.discovery.for_kind(str(obj.get("apiVersion")), str(obj.get("kind")))
            ns = namespace_for(s, info.ref.namespaced, obj)
            if ns is not None:
                obj.setdefault("metadata", {})["namespace"] = ns
            if o.server_side:
                _server_side(s, o, info.ref, obj, ns)
            else:
                _client_side(s, o, info.ref, obj, ns, source=source)
        except _Failed as failure:
            s.warn(api_error_text(failure.error, context=f'error when {failure.doing} "{source}": '))
            failed = True
        except ApiError as exc:
            s.warn(api_error_text(exc))
            failed = True
    return 1 if failed else 0


class _Failed(Exception):
    """A write that failed, and what kubectl says it was doing ("creating", "patching")."""

    def __init__(self, error: ApiError, doing: str) -> None:
        super().__init__(error.message)
        self.error = error
        self.doing = doing


def _server_side(s: Session, o: argparse.Namespace, ref: Any, obj: dict[str, Any], ns: str | None) -> None:
    mode = dry_run_mode(o)
    if mode == "client":
        raise CliError("--dry-run=client doesn't work with --server-side (did you mean --dry-run=server instead?)")
    name = str((obj.get("metadata") or {}).get("name") or "")
    import json  # noqa: PLC0415

    result = s.client.patch(ref, name, json.dumps(obj).encode(), ns, patch_type=PatchType.APPLY,
                            field_manager=o.field_manager or "kubectl", force=bool(o.force_conflicts),
                            field_validation=field_validation(o), dry_run=mode == "server")
    report(s, result, "serverside-applied", o)


def _client_side(s: Session, o: argparse.Namespace, ref: Any, obj: dict[str, Any], ns: str | None, *,
                 source: str) -> None:
    from tkctl.lastapplied import stored, with_last_applied  # noqa: PLC0415

    mode = dry_run_mode(o)
    manager = o.field_manager or "kubectl-client-side-apply"
    name = str((obj.get("metadata") or {}).get("name") or "")
    if not name:
        raise CliError(f'error when retrieving current configuration of:\nResource: "{ref.resource}", '
                       f'Name: "", Namespace: "{ns or ""}"\nfrom server for: "{source}": resource name may not '
                       f"be empty")
    modified = with_last_applied(obj)
    try:
        live = s.client.get(ref, name, ns)
    except NotFound:
        if mode == "client":
            report(s, modified, "created", o)
            return
        try:
            created = s.client.create(ref, modified, ns, field_manager=manager, field_validation=field_validation(o),
                                      dry_run=mode == "server")
        except ApiError as exc:
            raise _Failed(exc, "creating") from exc
        report(s, created, "created", o)
        return
    patch, patch_type = three_way_patch(stored(live), modified, live)
    if not patch:
        report(s, live, "unchanged", o)
        return
    if mode == "client":
        report(s, live, "configured", o)
        return
    import json  # noqa: PLC0415

    try:
        result = s.client.patch(ref, name, json.dumps(patch).encode(), ns, patch_type=patch_type,
                                field_manager=manager, field_validation=field_validation(o), dry_run=mode == "server")
    except ApiError as exc:
        raise _Failed(exc, "patching") from exc
    report(s, result, "configured", o)


def three_way_patch(original: dict[str, Any] | None, modified: dict[str, Any],
                    current: dict[str, Any]) -> tuple[dict[str, Any], PatchType]:
    """kubectl's apply patch: strategic for built-in kinds, JSON merge for custom ones."""
    from api.catalog import REGISTRY, type_name_for  # noqa: PLC0415
    from api.patch import merge_patch, strategic  # noqa: PLC0415

    type_name = type_name_for(str(modified.get("apiVersion")), str(modified.get("kind")))
    if type_name is not None:
        return strategic.create_three_way(REGISTRY, type_name, original or {}, modified, current), PatchType.STRATEGIC
    additions = merge_patch.create(current, modified)
    deletions = merge_patch.create(original or {}, modified) if original else {}
    patch = {k: v for k, v in (additions if isinstance(additions, dict) else {}).items() if v is not None}
    for key, value in (deletions if isinstance(deletions, dict) else {}).items():
        patch.setdefault(key, value)
    return patch, PatchType.MERGE
