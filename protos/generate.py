"""Generates the Python modules (messages, gRPC stubs, type stubs) from ``protos/**/*.proto``.

Run by ``make setup``; the generated files sit beside their sources and are not committed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from grpc_tools import protoc  # type: ignore[import-untyped]


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    sources = sorted(str(p.relative_to(root)) for p in (root / "protos").rglob("*.proto"))
    if not sources:
        return 0
    include = Path(protoc.__file__).resolve().parent / "_proto"
    # The mypy plugins live beside this interpreter; name them so PATH need not contain the venv.
    bindir = Path(sys.executable).parent
    args = ["protoc", f"-I{root}", f"-I{include}", f"--python_out={root}", f"--grpc_python_out={root}",
            f"--plugin=protoc-gen-mypy={bindir / 'protoc-gen-mypy'}",
            f"--plugin=protoc-gen-mypy_grpc={bindir / 'protoc-gen-mypy_grpc'}",
            f"--mypy_out={root}", f"--mypy_grpc_out={root}", *sources]
    code: int = protoc.main(args)
    if code != 0:
        print(f"protoc failed on {' '.join(sources)}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
