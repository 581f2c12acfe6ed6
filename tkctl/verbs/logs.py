"""``tkctl logs``: a container's log, followed or not, for a pod, a workload's pod, or pods by selector."""

from __future__ import annotations

import argparse

from tkctl.errors import CliError
from tkctl.flags import Parser, duration_seconds
from tkctl.session import Session
from tkctl.verbs.exec_ import pick_container, resolve_pod

EXAMPLES = {"logs": """examples:
  # Return snapshot logs from pod nginx with only one container
  tkctl logs nginx

  # Begin streaming the logs of the ruby container in pod web-1
  tkctl logs -f -c ruby web-1

  # Display only the most recent 20 lines of output in pod nginx
  tkctl logs --tail=20 nginx

  # Return snapshot logs from first container of a job named hello
  tkctl logs job/hello
"""}


def build(p: Parser, verb: str) -> None:
    p.add_argument("-c", "--container", default="", help="print the logs of this container")
    p.flag("-f", "--follow", help="specify if the logs should be streamed")
    p.flag("-p", "--previous", help="print the logs for the previous instance of the container")
    p.add_argument("--tail", type=int, default=-1, help="lines of recent log file to display")
    p.add_argument("--since", default="", help="only return logs newer than a relative duration like 5s, 2m, 3h")
    p.add_argument("--since-time", default="", help="only return logs after a specific date (RFC3339)")
    p.flag("--timestamps", help="include timestamps on each line in the log output")
    p.add_argument("--limit-bytes", type=int, default=0, help="maximum bytes of logs to return")
    p.add_argument("-l", "--selector", default="", help="selector (label query) to filter on")
    p.flag("--all-containers", help="get all containers' logs in the pod(s)")
    p.flag("--prefix", help="prefix each log line with the log source (pod name and container name)")
    p.add_argument("--max-log-requests", type=int, default=5, help="maximum concurrent logs to follow")
    p.flag("--ignore-errors", help="if watching / following pod logs, allow for any errors that occur to be "
           "non-fatal")
    p.add_argument("--pod-running-timeout", default="20s", help="time to wait until at least one pod is running")
    p.add_argument("args", nargs="*", help="(POD | TYPE/NAME) [CONTAINER]")


def run(s: Session, o: argparse.Namespace) -> int:
    if o.selector:
        pods = s.client.list(s.resource("pods").ref, s.namespace, label_selector=o.selector).get("items") or []
        if not pods:
            s.warn(f"No resources found in {s.namespace} namespace.")
            return 0
        if o.tail < 0:
            o.tail = 10  # kubectl's default for selector-based logs
    elif not o.args:
        raise CliError("expected POD or TYPE/NAME is a required argument for the logs command")
    else:
        pods = [resolve_pod(s, o.args[0])]
        if len(o.args) > 1:
            o.container = o.container or o.args[1]
    for pod in pods:
        containers = ([c["name"] for c in pod["spec"].get("containers") or []] if o.all_containers
                      else [pick_container(s, pod, o.container)])
        for container in containers:
            _logs(s, o, pod, container)
    return 0


def _logs(s: Session, o: argparse.Namespace, pod: dict[str, object], container: str) -> None:
    meta = pod["metadata"]
    assert isinstance(meta, dict)
    params = {"container": container}
    if o.follow:
        params["follow"] = "true"
    if o.previous:
        params["previous"] = "true"
    if o.tail >= 0:
        params["tailLines"] = str(o.tail)
    if o.since:
        params["sinceSeconds"] = str(int(duration_seconds(o.since, "--since")))
    if o.since_time:
        params["sinceTime"] = o.since_time
    if o.timestamps:
        params["timestamps"] = "true"
    if o.limit_bytes:
        params["limitBytes"] = str(o.limit_bytes)
    path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/log"
    prefix = f"[pod/{meta['name']}/{container}] ".encode() if o.prefix else b""
    out = s.out.buffer if hasattr(s.out, "buffer") else None
    if o.follow:
        for line in s.client.stream_lines(path, params=params, accept="*/*"):
            _write(s, prefix + line, out)
        return
    body = s.client.request_raw("GET", path, params=params, accept="*/*")
    if prefix:
        body = b"".join(prefix + line for line in body.splitlines(keepends=True))
    _write(s, body, out)


def _write(s: Session, data: bytes, out: object) -> None:
    if out is not None:
        out.write(data)  # type: ignore[attr-defined]
        out.flush()  # type: ignore[attr-defined]
    else:
        s.out.write(data.decode("utf-8", "replace"))
