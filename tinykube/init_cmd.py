"""``tinykube init``: bring up the first machine of a cluster of machines (see tinykube/machine_cmd.py)."""

from __future__ import annotations

from collections.abc import Sequence

from tinykube.machine_cmd import main_for


def main(argv: Sequence[str]) -> int:
    return main_for("init", argv)
