"""The kubelet's HTTPS server on 10250: containerLogs, exec, attach, portForward, healthz, stats and metrics.

The apiserver proxies pods/log, pods/exec, pods/attach and pods/portforward here (kubectl never talks to a
kubelet directly). Exec, attach and port-forward are WebSocket sessions relayed frame by frame to the URL
the runtime's CRI streaming server hands out, so the channel protocol passes through untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import ssl
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import aiohttp
import grpc
from aiohttp import web

from client import httpupgrade, wsrelay
from client.spdy import portforward
from kubelet.cri import CriClient
from kubelet.logs import LogOptions, parse_lines, render
from kubelet.portforward import SpdyPortForward
from kubelet.runtime_view import RUNNING, ContainerView
from kubelet.stats_provider import StatsProvider
from kubelet.stats_routes import stats_routes
from process.log import get_logger
from protos.cri import api_pb2 as cri

log = get_logger("kubelet.server")

FOLLOW_POLL: Final = 0.2
PodLookup = Callable[[str, str], dict[str, Any] | None]


def self_signed(cert_dir: Path, node_name: str, node_ip: str) -> tuple[Path, Path]:
    """A serving certificate for this node, made once and reused (what kubelet does without --tls-cert-file)."""
    # cryptography only here: with --tls-cert-file the kubelet never loads its ~7 MiB.
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    cert, key = cert_dir / "kubelet.crt", cert_dir / "kubelet.key"
    if cert.exists() and key.exists():
        return cert, key
    cert_dir.mkdir(parents=True, exist_ok=True)
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{node_name}@{int(time.time())}")])
    now = datetime.datetime.now(datetime.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(node_name)]
    with contextlib.suppress(ValueError):
        sans.append(x509.IPAddress(ipaddress.ip_address(node_ip)))
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=365))
                   .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                   .sign(private, hashes.SHA256()))
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    key.chmod(0o600)
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert, key


def serving_context(cert: Path, key: Path, client_ca: Path | None) -> ssl.SSLContext:
    """TLS for 10250; a client certificate, when offered, must come from the client CA (it then names the
    caller); callers without one are judged by their bearer token or as anonymous (see client.delegated_auth)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    if client_ca is not None:
        ctx.load_verify_locations(cafile=str(client_ca))
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def _truthy(value: str | None) -> bool:
    return value in ("1", "true", "True")


class KubeletServer:
    """Handlers over the pod cache and the runtime."""

    def __init__(self, pods: PodLookup, cri_client: CriClient, root_dir: Path, middlewares: Sequence[Any] = (),
                 node_name: str = "") -> None:
        self.pods = pods
        self.cri = cri_client
        self.root_dir = root_dir
        self.app = web.Application(middlewares=list(middlewares))
        self.app.add_routes([
            web.get("/healthz", self._healthz),
            web.get("/containerLogs/{namespace}/{pod}/{container}", self._logs),
            web.get("/exec/{namespace}/{pod}/{container}", self._exec),
            web.get("/attach/{namespace}/{pod}/{container}", self._attach),
            web.get("/portForward/{namespace}/{pod}", self._port_forward),
            web.post("/portForward/{namespace}/{pod}", self._port_forward),
            *stats_routes(StatsProvider(node_name, cri_client, root_dir), cri_client),
        ])
        self._runner: web.AppRunner | None = None

    async def start(self, host: str, port: int, tls: ssl.SSLContext) -> None:
        """Listen on ``host:port`` with ``tls``."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port, ssl_context=tls).start()

    async def stop(self) -> None:
        """Close the listener and open connections."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    def _pod(self, request: web.Request) -> dict[str, Any]:
        ns, name = request.match_info["namespace"], request.match_info["pod"]
        pod = self.pods(ns, name)
        if pod is None:
            raise web.HTTPNotFound(text=f'pod "{name}" not found in namespace "{ns}" on this node')
        return pod

    async def _instances(self, request: web.Request) -> tuple[dict[str, Any], list[ContainerView]]:
        pod = self._pod(request)
        name = request.match_info["container"]
        runtime = await self.cri.pod_runtime(pod["metadata"]["uid"])
        instances = runtime.instances(name)
        if not instances:
            raise web.HTTPBadRequest(text=f'container "{name}" in pod "{pod["metadata"]["name"]}" is waiting '
                                          "to start: ContainerCreating")
        return pod, instances

    async def _running(self, request: web.Request) -> str:
        _, instances = await self._instances(request)
        if instances[0].state != RUNNING:
            raise web.HTTPBadRequest(text=f"container {instances[0].name} is not running")
        return instances[0].id

    def _log_path(self, pod: dict[str, Any], view: ContainerView) -> Path:
        meta = pod["metadata"]
        return (self.root_dir / "pod-logs" / f"{meta['namespace']}_{meta['name']}_{meta['uid']}" / view.name
                / f"{view.attempt}.log")

    async def _logs(self, request: web.Request) -> web.StreamResponse:
        pod, instances = await self._instances(request)
        previous = _truthy(request.query.get("previous"))
        if previous and len(instances) < 2:
            raise web.HTTPBadRequest(text=f'previous terminated container "{instances[0].name}" in pod '
                                          f'"{pod["metadata"]["name"]}" not found')
        view = instances[1] if previous else instances[0]
        path = self._log_path(pod, view)
        options = LogOptions.from_query(dict(request.query), time.time())
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        complete = await asyncio.to_thread(_complete_lines, path, 0)
        await resp.write(render(parse_lines(complete.splitlines(keepends=True)), options))
        if _truthy(request.query.get("follow")) and not previous:
            await self._follow(resp, view, uid=pod["metadata"]["uid"], path=path, offset=len(complete),
                               timestamps=options.timestamps)
        await resp.write_eof()
        return resp

    async def _follow(self, resp: web.StreamResponse, view: ContainerView, *, uid: str, path: Path, offset: int,
                      timestamps: bool) -> None:
        """Stream new complete lines until the container stops (or the client goes away)."""
        follow_opts = LogOptions(timestamps=timestamps)
        while True:
            complete = await asyncio.to_thread(_complete_lines, path, offset)
            if complete:
                offset += len(complete)
                try:
                    await resp.write(render(parse_lines(complete.splitlines(keepends=True)), follow_opts))
                except ConnectionResetError:
                    return
                continue
            current = (await self.cri.pod_runtime(uid)).latest(view.name)
            if current is None or current.id != view.id or current.state != RUNNING:
                return
            await asyncio.sleep(FOLLOW_POLL)

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        cid = await self._running(request)
        command = request.query.getall("command", [])
        if not command:
            raise web.HTTPBadRequest(text="you must specify at least 1 command")
        try:
            reply = await self.cri.runtime.Exec(cri.ExecRequest(
                container_id=cid, cmd=command, tty=_truthy(request.query.get("tty")),
                stdin=_truthy(request.query.get("stdin")), stdout=_truthy(request.query.get("stdout")),
                stderr=_truthy(request.query.get("stderr"))), timeout=30)
        except grpc.aio.AioRpcError as err:
            raise web.HTTPInternalServerError(text=err.details() or "exec failed") from None
        return await _relay(request, reply.url)

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        cid = await self._running(request)
        try:
            reply = await self.cri.runtime.Attach(cri.AttachRequest(
                container_id=cid, stdin=_truthy(request.query.get("stdin")), tty=_truthy(request.query.get("tty")),
                stdout=_truthy(request.query.get("stdout")), stderr=_truthy(request.query.get("stderr"))),
                timeout=30)
        except grpc.aio.AioRpcError as err:
            raise web.HTTPInternalServerError(text=err.details() or "attach failed") from None
        return await _relay(request, reply.url)

    async def _port_forward(self, request: web.Request) -> web.StreamResponse:
        pod = self._pod(request)
        runtime = await self.cri.pod_runtime(pod["metadata"]["uid"])
        sandbox = runtime.latest_sandbox()
        if sandbox is None:
            raise web.HTTPBadRequest(text=f"pod {pod['metadata']['name']} has no sandbox")
        if request.headers.get("Upgrade", "").lower() == portforward.UPGRADE.lower():
            return await self._port_forward_spdy(request, sandbox.id, f"pod {pod['metadata']['name']}")
        # The Python client's ?ports=80,443 (the apiserver passes it through), or ?port= repeated.
        ports = [int(p) for key in ("port", "ports") for value in request.query.getall(key, [])
                 for p in value.split(",") if p.isdigit()]
        try:
            reply = await self.cri.runtime.PortForward(cri.PortForwardRequest(pod_sandbox_id=sandbox.id, port=ports),
                                                       timeout=30)
        except grpc.aio.AioRpcError as err:
            raise web.HTTPInternalServerError(text=err.details() or "port-forward failed") from None
        url = reply.url
        if ports and "port=" not in url:
            url += ("&" if "?" in url else "?") + "&".join(f"port={p}" for p in ports)
        return await _relay(request, url)

    async def _port_forward_spdy(self, request: web.Request, sandbox_id: str, what: str) -> web.StreamResponse:
        """kubectl's SPDY port-forward (relayed by the apiserver): each forwarded connection gets its own
        runtime port-forward URL."""
        if portforward.PROTOCOL not in request.headers.get("X-Stream-Protocol-Version", ""):
            raise web.HTTPBadRequest(text=f"port-forward needs X-Stream-Protocol-Version: {portforward.PROTOCOL}")

        async def url_for_port(port: int) -> str:
            try:
                reply = await self.cri.runtime.PortForward(
                    cri.PortForwardRequest(pod_sandbox_id=sandbox_id, port=[port]), timeout=30)
            except grpc.aio.AioRpcError as err:
                raise RuntimeError(err.details() or "the runtime refused the port-forward") from None
            return str(reply.url)

        response, conn = await httpupgrade.accept(request, {"Upgrade": portforward.UPGRADE,
                                                            "X-Stream-Protocol-Version": portforward.PROTOCOL})
        await SpdyPortForward(conn, url_for_port, what).run()
        return response


def _complete_lines(path: Path, offset: int) -> bytes:
    """The log's whole lines from ``offset`` on (a line still being written waits for the next read)."""
    try:
        with path.open("rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return b""
    return data[:data.rfind(b"\n") + 1]


async def _relay(request: web.Request, url: str) -> web.StreamResponse:
    """Pump WebSocket frames between the caller and the runtime's streaming URL, both ways."""
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    session = aiohttp.ClientSession()
    try:
        try:
            upstream = await session.ws_connect(url.replace("http://", "ws://", 1), protocols=offered,
                                                max_msg_size=0)
        except aiohttp.ClientError as err:
            raise web.HTTPBadGateway(text=f"the runtime's streaming server refused: {err}") from None
        client = web.WebSocketResponse(protocols=[upstream.protocol] if upstream.protocol else (), autoclose=False,
                                       max_msg_size=0)
        await client.prepare(request)
        await wsrelay.relay(client, upstream)
        return client
    finally:
        await session.close()
