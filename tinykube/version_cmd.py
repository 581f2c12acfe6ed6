"""``tinykube version``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from process.version import KUBERNETES_GIT_VERSION, __version__


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="tinykube version")
    parser.add_argument("-o", "--output", choices=["json"], help="output format")
    args = parser.parse_args(argv)
    if args.output == "json":
        print(json.dumps({"tinykube": __version__, "kubernetes": KUBERNETES_GIT_VERSION}))
    else:
        print(f"tinykube {__version__}\nKubernetes API {KUBERNETES_GIT_VERSION}")
    return 0
