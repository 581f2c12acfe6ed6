"""``tkctl port-forward``: local ports to a pod's (or a service's / workload's pod's) ports over SPDY/3.1."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from tkctl.errors import CliError
from tkctl.flags import Parser
from tkctl.session import Session
from tkctl.verbs.exec_ import resolve_pod

EXAMPLES = {"port-forward": """examples:
  # Listen on ports 5000 and 6000 locally, forwarding data to/from ports 5000 and 6000 in the pod
  tkctl port-forward pod/mypod 5000 6000

  # Listen on port 8888 locally, forwarding to 5000 in the pod
  tkctl port-forward pod/mypod 8888:5000

  # Listen on a random port locally, forwarding to 5000 in the pod
  tkctl port-forward pod/mypod :5000
"""}


def build(p: Parser, verb: str) -> None:
    p.add_argument("--address", default="127.0.0.1", help="address to listen on (only one is supported)")
    p.add_argument("--pod-running-timeout", default="1m0s", help="time to wait until at least one pod is running")
    p.add_argument("args", nargs="*", help="TYPE/NAME [LOCAL_PORT:]REMOTE_PORT [...]")


def _service_target_port(svc: dict[str, Any], port: int, pod: dict[str, Any]) -> int:
    """A Service port as the container port it targets (named target ports looked up in the pod)."""
    for p in (svc.get("spec") or {}).get("ports") or []:
        if p.get("port") == port:
            target = p.get("targetPort", port)
            if isinstance(target, int):
                return target
            for c in (pod.get("spec") or {}).get("containers") or []:
                for cp in c.get("ports") or []:
                    if cp.get("name") == target:
                        return int(cp["containerPort"])
            raise CliError(f"Service {svc['metadata']['name']} does not have a named port '{target}'")
    raise CliError(f"Service {svc['metadata']['name']} does not have a service port {port}")


def run(s: Session, o: argparse.Namespace) -> int:
    if len(o.args) < 2:
        raise CliError("TYPE/NAME and list of ports are required for port-forward")
    target, specs = o.args[0], o.args[1:]
    ports: list[tuple[int, int]] = []
    for spec in specs:
        local_text, sep, remote_text = spec.partition(":")
        remote_text = remote_text if sep else local_text
        if not remote_text.isdigit() or (local_text and not local_text.isdigit()):
            raise CliError(f"Error parsing local port '{local_text}': invalid port")
        ports.append((int(local_text or 0), int(remote_text)))
    kind = target.partition("/")[0] if "/" in target else "pod"
    if s.resource(kind).ref.kind == "Service":
        svc = s.client.get(s.resource("services").ref, target.partition("/")[2], s.namespace)
        selector = ",".join(f"{k}={v}" for k, v in sorted(((svc.get("spec") or {}).get("selector") or {}).items()))
        pods = s.client.list(s.resource("pods").ref, s.namespace, label_selector=selector).get("items") or []
        if not pods:
            raise CliError(f"no pods found for service {svc['metadata']['name']}")
        pod = pods[0]
        ports = [(local, _service_target_port(svc, remote, pod)) for local, remote in ports]
    else:
        pod = resolve_pod(s, target)
    phase = (pod.get("status") or {}).get("phase")
    if phase != "Running":
        raise CliError(f"unable to forward port because pod is not running. Current status={phase}")
    from tkctl.portforward import forward  # noqa: PLC0415 - aiohttp and SPDY only for this verb

    meta = pod["metadata"]
    path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/portforward"
    headers = {k: v for k, v in s.client.extra_headers.items() if isinstance(v, str)}

    def say(line: str) -> None:
        (sys.stderr if line.startswith("E ") else sys.stdout).write(line + "\n")
        sys.stdout.flush()

    try:
        asyncio.run(forward(s.config, headers, path, ports, address=o.address, say=say))
    except KeyboardInterrupt:
        return 0
    return 0
