"""``tkctl exec`` and ``tkctl attach``: streams to a container, passing on the remote exit code."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from tkctl.errors import CliError, ExitCode
from tkctl.flags import Parser
from tkctl.session import Session

EXAMPLES = {"exec": """examples:
  # Get output from running the 'date' command from pod mypod, using the first container by default
  tkctl exec mypod -- date

  # Switch to raw terminal mode; sends stdin to 'bash' in ruby-container from pod mypod
  tkctl exec mypod -c ruby-container -i -t -- bash -il
""", "attach": """examples:
  # Get output from running pod mypod; use the 'kubectl.kubernetes.io/default-container' annotation
  tkctl attach mypod
"""}


def build(p: Parser, verb: str) -> None:
    p.add_argument("-c", "--container", default="", help="container name")
    p.flag("-i", "--stdin", help="pass stdin to the container")
    p.flag("-t", "--tty", help="stdin is a TTY")
    p.flag("-q", "--quiet", help="only print output from the remote session")
    p.add_argument("--pod-running-timeout", default="1m0s", help="time to wait until at least one pod is running")
    p.add_argument("args", nargs="*", help="POD [-- COMMAND [args...]]" if verb == "exec" else "POD")


def pick_container(s: Session, pod: dict[str, Any], wanted: str, quiet: bool = False) -> str:
    """``-c``, else the default-container annotation, else the first container (saying so when there are more)."""
    containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    if wanted:
        init = [c["name"] for c in (pod.get("spec") or {}).get("initContainers") or []]
        if wanted not in containers + init:
            problem = "is not valid for pod" if s.verb == "logs" else "not found in pod"
            raise CliError(f"container {wanted} {problem} {pod['metadata']['name']}")
        return wanted
    default = ((pod.get("metadata") or {}).get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
    if default in containers:
        return str(default)
    if len(containers) > 1 and not quiet:
        s.warn(f'Defaulted container "{containers[0]}" out of: {", ".join(containers)}')
    return str(containers[0])


def resolve_pod(s: Session, text: str) -> dict[str, Any]:
    """``pod``, ``pod/x`` or ``deploy/x`` (its first pod, as kubectl picks one)."""
    kind, sep, name = text.partition("/")
    if not sep:
        return s.client.get(s.resource("pods").ref, text, s.namespace)
    info = s.resource(kind)
    if info.ref.kind == "Pod":
        return s.client.get(info.ref, name, s.namespace)
    obj = s.client.get(info.ref, name, s.namespace)
    selector = (obj.get("spec") or {}).get("selector") or {}
    labels = selector.get("matchLabels", selector) if isinstance(selector, dict) else {}
    text_sel = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    pods = s.client.list(s.resource("pods").ref, s.namespace, label_selector=text_sel).get("items") or []
    if not pods:
        raise CliError(f"no pods found for {text}")
    first: dict[str, Any] = sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""))[0]
    return first


@contextlib.contextmanager
def raw_terminal(enabled: bool) -> Iterator[None]:
    """Put the local terminal in raw mode for ``-t`` (restored on exit)."""
    if not enabled or not sys.stdin.isatty():
        yield
        return
    import termios  # noqa: PLC0415
    import tty  # noqa: PLC0415

    saved = termios.tcgetattr(0)
    tty.setraw(0)
    try:
        yield
    finally:
        termios.tcsetattr(0, termios.TCSADRAIN, saved)


def run(s: Session, o: argparse.Namespace) -> int:
    from tkctl.streams import run_stream, stream_url  # noqa: PLC0415

    if not o.args:
        raise CliError("pod, type/name or --filename must be specified" if s.verb == "exec" else
                       "at least 1 argument is required for attach")
    pod = resolve_pod(s, o.args[0])
    command = o.args[1:]
    if s.verb == "exec" and not command:
        raise CliError("you must specify at least one command for the container")
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise CliError(f"cannot {s.verb} into a container in a completed pod; current phase is {phase}" if
                       s.verb == "exec" else f"cannot attach a container in a completed pod; current phase is "
                       f"{phase}")
    container = pick_container(s, pod, o.container, o.quiet)
    if o.tty and not o.stdin and not o.quiet:
        s.warn("Unable to use a TTY - input is not a terminal or the right kind of file")
    params = [("container", container), ("stdout", "true"), ("stderr", "false" if o.tty else "true")]
    if o.stdin:
        params.append(("stdin", "true"))
    if o.tty and o.stdin:
        params.append(("tty", "true"))
    if s.verb == "exec":
        params += [("command", c) for c in command]
    path = f"/api/v1/namespaces/{pod['metadata']['namespace']}/pods/{pod['metadata']['name']}/{s.verb}"
    headers = {k: v for k, v in s.client.extra_headers.items() if isinstance(v, str)}
    with raw_terminal(o.tty and o.stdin):
        code = asyncio.run(run_stream(s.config, headers, stream_url(s.config, path, params), stdin=o.stdin,
                                      tty=o.tty and o.stdin))
    if code:
        if not o.quiet:
            s.warn(f"command terminated with exit code {code}")
        raise ExitCode(code)
    return 0
