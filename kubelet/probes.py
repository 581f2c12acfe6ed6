"""Liveness, readiness and startup probes: the per-container state machine (pure) and the probe executors.

The state machine is Kubernetes' prober worker: results start at readiness=Failure, liveness=Success,
startup=Unknown; nothing is probed before ``initialDelaySeconds`` or, for liveness/readiness, before the
startup probe has succeeded; a result changes only after ``successThreshold``/``failureThreshold``
consecutive outcomes; a failed liveness/startup probe holds until the runtime shows a new container.
Executors are small coroutines returning an Outcome; the worker runs them under the probe's timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final
from urllib.parse import urljoin, urlsplit

import aiohttp
import grpc

LIVENESS: Final = "liveness"
READINESS: Final = "readiness"
STARTUP: Final = "startup"

USER_AGENT: Final = "kube-probe/1.31"
MAX_REDIRECTS: Final = 10


class Result(Enum):
    """A probe's cached result, as the rest of the kubelet sees it."""

    UNKNOWN = "Unknown"
    SUCCESS = "Success"
    FAILURE = "Failure"


@dataclass(frozen=True)
class Outcome:
    """One probe run: a result plus the text that goes into the ``Unhealthy`` event."""

    result: Result
    output: str = ""


@dataclass(frozen=True)
class ProbeSpec:
    """A probe's timing fields with Kubernetes' defaults."""

    initial_delay: int = 0
    period: int = 10
    timeout: int = 1
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def from_api(cls, probe: Mapping[str, Any]) -> ProbeSpec:
        """The timing fields of an API probe, defaults filled."""
        return cls(initial_delay=int(probe.get("initialDelaySeconds") or 0),
                   period=int(probe.get("periodSeconds") or 10),
                   timeout=int(probe.get("timeoutSeconds") or 1),
                   success_threshold=int(probe.get("successThreshold") or 1),
                   failure_threshold=int(probe.get("failureThreshold") or 3))


@dataclass(frozen=True)
class ProbeTarget:
    """The container as the status currently reports it."""

    container_id: str
    running: bool
    started_at: float = 0.0
    terminated: bool = False
    started: bool = False  # the startup probe has succeeded (or there is none)
    deleting: bool = False


_INITIAL = {READINESS: Result.FAILURE, LIVENESS: Result.SUCCESS, STARTUP: Result.UNKNOWN}


class ProbeTracker:
    """One probe of one container across its restarts."""

    def __init__(self, kind: str, spec: ProbeSpec, restart_never: bool = False) -> None:
        self.kind = kind
        self.spec = spec
        self.restart_never = restart_never
        self.container_id = ""
        self.result = Result.UNKNOWN
        self.stopped = False
        self._on_hold = False
        self._last: Result | None = None
        self._run = 0

    def should_probe(self, target: ProbeTarget, now: float) -> bool:
        """Update for the container's current state; True when a probe should run now.

        Sets ``stopped`` when this probe will never run again (the container won't restart, or the pod is
        being deleted and liveness/startup no longer matter).
        """
        if not target.container_id:
            return False
        if target.container_id != self.container_id:
            self.container_id = target.container_id
            self.result = _INITIAL[self.kind]
            self._on_hold = False
            self._last = None
            self._run = 0
        if self._on_hold:
            return False
        if not target.running:
            self.result = Result.FAILURE
            if target.terminated and self.restart_never:
                self.stopped = True
            return False
        if target.deleting and self.kind in (LIVENESS, STARTUP):
            self.result = Result.SUCCESS
            self.stopped = True
            return False
        if now - target.started_at < self.spec.initial_delay:
            return False
        if target.started:
            return self.kind != STARTUP
        return self.kind == STARTUP

    def record(self, outcome: Result) -> bool:
        """Apply one outcome; True when the cached result changed. UNKNOWN (a prober error) is discarded."""
        if outcome is Result.UNKNOWN:
            return False
        if outcome == self._last:
            self._run += 1
        else:
            self._last = outcome
            self._run = 1
        threshold = self.spec.failure_threshold if outcome is Result.FAILURE else self.spec.success_threshold
        if self._run < threshold:
            return False
        changed = outcome != self.result
        self.result = outcome
        if self.kind in (LIVENESS, STARTUP) and outcome is Result.FAILURE:
            # The container will be restarted: stop probing until a new container id shows up.
            self._on_hold = True
            self._run = 0
        return changed


def resolve_port(port: int | str, container: Mapping[str, Any]) -> int:
    """A probe port: a number, or the name of one of the container's ports."""
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"couldn't find port: {port} in container {container.get('name', '')}")


async def http_get(probe: Mapping[str, Any], container: Mapping[str, Any], pod_ip: str,
                   limit: float) -> Outcome:
    """httpGet: 2xx/3xx is success; redirects are followed on the same host, a redirect elsewhere succeeds."""
    action = probe["httpGet"]
    scheme = str(action.get("scheme", "HTTP")).lower()
    host = action.get("host") or pod_ip
    port = resolve_port(action.get("port", 80), container)
    path = action.get("path", "/")
    if not path.startswith("/"):
        path = "/" + path
    url = f"{scheme}://{host}:{port}{path}"
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
    for header in action.get("httpHeaders") or []:
        headers[header["name"]] = header.get("value", "")
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=limit)) as session:
            for _ in range(MAX_REDIRECTS + 1):
                async with session.get(url, headers=headers, allow_redirects=False, ssl=tls) as resp:
                    body = (await resp.content.read(10 * 1024)).decode("utf-8", "replace")
                    if 300 <= resp.status < 400 and "Location" in resp.headers:
                        target = urljoin(url, resp.headers["Location"])
                        if urlsplit(target).hostname != urlsplit(url).hostname:
                            return Outcome(Result.SUCCESS, f"Probe terminated redirects, Response body: {body}")
                        url = target
                        continue
                    if 200 <= resp.status < 400:
                        return Outcome(Result.SUCCESS, body)
                    return Outcome(Result.FAILURE, f"HTTP probe failed with statuscode: {resp.status}")
            return Outcome(Result.FAILURE, "stopped after 10 redirects")
    except TimeoutError:
        return Outcome(Result.FAILURE, f'Get "{url}": context deadline exceeded (Client.Timeout exceeded '
                                       "while awaiting headers)")
    except (aiohttp.ClientError, OSError) as err:
        return Outcome(Result.FAILURE, f'Get "{url}": {err}')


async def tcp_socket(probe: Mapping[str, Any], container: Mapping[str, Any], pod_ip: str,
                     limit: float) -> Outcome:
    """tcpSocket: success when a connection opens within the timeout."""
    action = probe["tcpSocket"]
    host = action.get("host") or pod_ip
    port = resolve_port(action.get("port", 0), container)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), limit)
    except TimeoutError:
        return Outcome(Result.FAILURE, f"dial tcp {host}:{port}: i/o timeout")
    except OSError as err:
        return Outcome(Result.FAILURE, f"dial tcp {host}:{port}: {err.strerror or err}")
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return Outcome(Result.SUCCESS)


# exec_sync(container_id, argv, timeout_seconds) -> (exit code, stdout + stderr); raises TimeoutError on timeout.
ExecSync = Callable[[str, list[str], int], Awaitable[tuple[int, bytes]]]


async def exec_probe(probe: Mapping[str, Any], container_id: str, exec_sync: ExecSync, limit: int) -> Outcome:
    """exec: runs the command in the container through CRI ExecSync; exit code 0 is success."""
    command = [str(a) for a in probe["exec"].get("command") or []]
    try:
        code, output = await exec_sync(container_id, command, limit)
    except TimeoutError:
        return Outcome(Result.FAILURE, f"command {command!r} timed out")
    text = output.decode("utf-8", "replace")
    return Outcome(Result.SUCCESS if code == 0 else Result.FAILURE, text)


def _health_request(service: str) -> bytes:
    data = service.encode()
    return b"\x0a" + bytes([len(data)]) + data if data else b""


def _health_status(reply: bytes) -> int:
    # HealthCheckResponse is one varint field (1): SERVING = 1.
    if len(reply) >= 2 and reply[0] == 0x08:
        return reply[1]
    return 0


async def grpc_probe(probe: Mapping[str, Any], pod_ip: str, limit: float) -> Outcome:
    """grpc: the standard health service's Check; only SERVING is success."""
    action = probe["grpc"]
    target = f"{pod_ip}:{int(action['port'])}"
    async with grpc.aio.insecure_channel(target) as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                    request_serializer=lambda b: b, response_deserializer=lambda b: b)
        try:
            reply: bytes = await check(_health_request(str(action.get("service") or "")), timeout=limit)
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                return Outcome(Result.FAILURE, f"timeout: health rpc did not complete within {limit}s")
            return Outcome(Result.FAILURE, f"error: health rpc probe failed: {err.details()}")
    status = _health_status(reply)
    if status == 1:
        return Outcome(Result.SUCCESS)
    names = {0: "UNKNOWN", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}
    return Outcome(Result.FAILURE, f"service unhealthy (responded with \"{names.get(status, status)}\")")


async def run_probe(probe: Mapping[str, Any], container: Mapping[str, Any], *, container_id: str, pod_ip: str,
                    exec_sync: ExecSync) -> Outcome:
    """Run whichever handler the probe has, under its timeout."""
    timeout = ProbeSpec.from_api(probe).timeout
    if "exec" in probe:
        return await exec_probe(probe, container_id, exec_sync, timeout)
    if "httpGet" in probe:
        return await http_get(probe, container, pod_ip, timeout)
    if "tcpSocket" in probe:
        return await tcp_socket(probe, container, pod_ip, timeout)
    if "grpc" in probe:
        return await grpc_probe(probe, pod_ip, timeout)
    return Outcome(Result.UNKNOWN, "probe has no handler")
