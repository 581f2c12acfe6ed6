"""``tkctl cp``: files to and from containers as a tar stream over exec, as kubectl does."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import posixpath
import tarfile
from pathlib import Path

from tkctl.errors import CliError, ExitCode
from tkctl.flags import Parser
from tkctl.session import Session
from tkctl.verbs.exec_ import pick_container

EXAMPLES = {"cp": """examples:
  # Copy /tmp/foo_dir local directory to /tmp/bar_dir in a remote pod in the default namespace
  tkctl cp /tmp/foo_dir some-pod:/tmp/bar_dir

  # Copy /tmp/foo from a remote pod to /tmp/bar locally
  tkctl cp some-namespace/some-pod:/tmp/foo /tmp/bar
"""}


def build(p: Parser, verb: str) -> None:
    p.add_argument("-c", "--container", default="", help="container name")
    p.flag("--no-preserve", help="the copied file/directory's ownership and permissions will not be preserved")
    p.add_argument("--retries", type=int, default=0, help="set number of retries to complete a copy operation")
    p.add_argument("args", nargs="*", help="SRC DEST")


def _remote(spec: str) -> tuple[str, str, str] | None:
    """``[ns/]pod:path`` → (namespace, pod, path); None for a local path."""
    if ":" not in spec or spec.startswith("/") or spec.startswith("."):
        return None
    target, _, path = spec.partition(":")
    ns, _, pod = target.rpartition("/")
    return ns, pod, path


def run(s: Session, o: argparse.Namespace) -> int:
    if len(o.args) != 2:
        raise CliError("source and destination are required")
    src, dst = _remote(o.args[0]), _remote(o.args[1])
    if (src is None) == (dst is None):
        raise CliError("one of src or dest must be a local file specification")
    if src is not None:
        return _download(s, o, src, o.args[1])
    assert dst is not None
    return _upload(s, o, o.args[0], dst)


def _exec(s: Session, o: argparse.Namespace, ns: str, pod_name: str, command: list[str], *,
          stdin_data: bytes | None) -> bytes:
    from tkctl.streams import run_stream, stream_url  # noqa: PLC0415

    pod = s.client.get(s.resource("pods").ref, pod_name, ns)
    container = pick_container(s, pod, o.container)
    params = [("container", container), ("stdout", "true"), ("stderr", "true")]
    if stdin_data is not None:
        params.append(("stdin", "true"))
    params += [("command", c) for c in command]
    chunks: list[bytes] = []
    path = f"/api/v1/namespaces/{ns}/pods/{pod_name}/exec"
    code = asyncio.run(run_stream(s.config, {}, stream_url(s.config, path, params), stdin=stdin_data is not None,
                                  tty=False, stdin_data=stdin_data, on_stdout=chunks.append))
    if code:
        raise ExitCode(code)
    return b"".join(chunks)


def _download(s: Session, o: argparse.Namespace, src: tuple[str, str, str], local: str) -> int:
    ns, pod, path = src
    data = _exec(s, o, ns or s.namespace, pod, ["tar", "cf", "-", path], stdin_data=None)
    prefix = path.lstrip("/")
    dest = Path(local)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        members = tar.getmembers()
        if not members:
            raise CliError(f"{path}: no such file or directory")
        single = len(members) == 1 and members[0].isfile()
        for m in members:
            rel = posixpath.relpath(m.name.lstrip("/"), prefix) if m.name.lstrip("/") != prefix else ""
            target = dest if single or not rel or rel == "." else dest / rel
            if ".." in Path(rel).parts:
                continue  # kubectl refuses paths escaping the destination
            if m.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif m.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                extracted = tar.extractfile(m)
                assert extracted is not None
                target.write_bytes(extracted.read())
                if not o.no_preserve:
                    os.chmod(target, m.mode & 0o777)
    return 0


def _upload(s: Session, o: argparse.Namespace, local: str, dst: tuple[str, str, str]) -> int:
    ns, pod, path = dst
    source = Path(local)
    if not source.exists():
        raise CliError(f"{local} doesn't exist in local filesystem")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:") as tar:
        tar.add(str(source), arcname=posixpath.basename(path.rstrip("/")) or source.name)
    parent = posixpath.dirname(path.rstrip("/")) or "/"
    _exec(s, o, ns or s.namespace, pod, ["tar", "-xmf", "-", "-C", parent], stdin_data=buffer.getvalue())
    return 0
