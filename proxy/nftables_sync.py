"""Applies nftables rulesets with one atomic ``nft -f`` transaction per sync, holding only the difference."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from proxy.iptables_sync import Runner, run_command
from proxy.nftables_rules import TABLE, Ruleset, transaction


class NftablesError(RuntimeError):
    """nft refused a transaction; nothing of it was applied (nft transactions are atomic)."""


@dataclass
class NftSyncResult:
    statements: int


class NftablesSyncer:
    """Owns table ``ip tinykube-proxy`` in the namespace it runs in."""

    def __init__(self, runner: Runner = run_command) -> None:
        self.run = runner
        self._applied: Ruleset | None = None

    def _nft(self, argv: Sequence[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        result = self.run(["nft", *argv], stdin)
        if result.returncode != 0:
            raise NftablesError(f"nft {' '.join(argv)}: {result.stderr.decode(errors='replace').strip()}")
        return result

    def sync(self, desired: Ruleset) -> NftSyncResult:
        payload = transaction(self._applied, desired)
        if payload:
            try:
                self._nft(["-f", "-"], payload.encode())
            except NftablesError:
                self._applied = None  # the next sync rebuilds the table from scratch
                raise
        self._applied = desired  # built fresh by every sync and never changed after
        return NftSyncResult(sum(1 for line in payload.splitlines() if line and not line.startswith(" ")))

    def cleanup(self) -> None:
        self._nft(["-f", "-"], f"add table ip {TABLE}\ndelete table ip {TABLE}\n".encode())
        self._applied = None
