"""The ``tkctl`` command: kubectl's grammar in Python. Verbs arrive with the tkctl issue."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from process.version import KUBERNETES_GIT_VERSION, __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tkctl",
        description="tkctl controls a Kubernetes cluster, as kubectl does.",
    )
    parser.add_argument("--version", action="version",
                        version=f"tkctl {__version__} (Kubernetes API {KUBERNETES_GIT_VERSION})")
    parser.add_argument("--kubeconfig", help="path to the kubeconfig file")
    parser.add_argument("--context", help="the kubeconfig context to use")
    parser.add_argument("-n", "--namespace", help="the namespace scope of this request")
    parser.add_argument("verb", nargs="?", help="what to do (get, apply, delete, ...)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, _ = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    if args.verb is None:
        parser.print_help()
        return 0
    print(f'error: unknown command "{args.verb}" for "tkctl"', file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
