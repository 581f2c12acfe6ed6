"""The CPU manager's checkpoint, ``<root-dir>/cpu_manager_state``, in upstream's JSON shape (pure).

``{"policyName": "static", "defaultCpuSet": "0", "entries": {"<pod uid>": {"<container>": "1"}},
"checksum": N}``. Upstream's checksum hashes its Go struct dump (FNV-32a over a spew printout), which has no
portable definition; ours is FNV-32a over the canonical JSON of the other fields, so a file edited by hand
or cut short is refused just the same, but the files are not interchangeable with a real kubelet's.
"""

from __future__ import annotations

import json
from typing import Any

from kubelet.cpu_policy import CpuAssignments
from kubelet.cpuset import CpuSetError, format_cpus, parse_cpus

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


class CheckpointError(ValueError):
    """The checkpoint is unreadable, corrupted, or was written under another policy."""


def fnv32a(data: bytes) -> int:
    """The 32-bit FNV-1a hash."""
    h = _FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return h


def _checksum(body: dict[str, Any]) -> int:
    return fnv32a(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())


def encode(policy: str, state: CpuAssignments) -> bytes:
    """The checkpoint's bytes; ``entries`` is omitted when empty, as upstream's ``omitempty`` does."""
    body: dict[str, Any] = {"policyName": policy, "defaultCpuSet": format_cpus(state.default)}
    if state.entries:
        body["entries"] = {uid: {name: format_cpus(cpus) for name, cpus in pod.items()}
                           for uid, pod in state.entries.items()}
    return json.dumps({**body, "checksum": _checksum(body)}).encode()


def decode(data: bytes, policy: str) -> CpuAssignments:
    """The state saved in ``data``, which must have been written under ``policy`` and be intact."""
    try:
        doc = json.loads(data)
        if not isinstance(doc, dict):
            raise TypeError("not a JSON object")
        checksum = doc.pop("checksum")
        if checksum != _checksum(doc):
            raise CheckpointError("checkpoint is corrupted (checksum mismatch)")
        saved = doc["policyName"]
        if saved != policy:
            raise CheckpointError(f"configured policy {policy!r} differs from state checkpoint policy {saved!r}")
        entries = {str(uid): {str(name): parse_cpus(cpus) for name, cpus in pod.items()}
                   for uid, pod in (doc.get("entries") or {}).items()}
        return CpuAssignments(parse_cpus(doc["defaultCpuSet"]), entries)
    except CheckpointError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, CpuSetError) as err:
        raise CheckpointError(f"checkpoint is unreadable: {err}") from None
