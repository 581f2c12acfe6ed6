"""pods/log, pods/exec, pods/attach and pods/portforward, proxied to the kubelet of the pod's node.

The kubelet is found through its Node: the first InternalIP (else Hostname) address and
`status.daemonEndpoints.kubeletEndpoint.Port`. Paths are the kubelet's own (`/containerLogs/…`, `/exec/…`,
`/attach/…`, `/portForward/…`). Logs stream as text; exec, attach and the Python client's port-forward
(v4.channel.k8s.io) are WebSocket sessions pumped message by message in both directions. kubectl's
port-forward is a SPDY/3.1 session, carried in WebSocket messages (subprotocol SPDY/3.1+portforward.k8s.io)
or, on its fallback, on the upgraded connection itself; either way its bytes go to a SPDY upgrade of the
kubelet's /portForward, which speaks the protocol (as kube-apiserver's tunnelling handler does). Exec's
SPDY fallback is refused with 400: kubectl 1.32 tries WebSocket first and that works.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from aiohttp import web
from yarl import URL

from api import status
from api.schema import JSON
from apiserver.errors import APIError, bad_request
from apiserver.registry import Registry
from client import httpupgrade, wsrelay
from client.spdy import portforward

DEFAULT_KUBELET_PORT = 10250
LOG_PARAMS = ("follow", "previous", "sinceSeconds", "sinceTime", "timestamps", "tailLines", "limitBytes")
KUBELET_PATHS = {"exec": "exec", "attach": "attach", "portforward": "portForward"}


def _container(pod: JSON, query: Mapping[str, str]) -> str:
    """The container named in the query, or the only one; kube-apiserver's 400 when ambiguous."""
    name = query.get("container", "")
    spec = pod.get("spec") or {}
    names = [c.get("name") for c in spec.get("containers") or []]
    all_names = names + [c.get("name") for c in spec.get("initContainers") or []]
    pod_name = (pod.get("metadata") or {}).get("name")
    if name:
        if name not in all_names:
            raise bad_request(f"container {name} is not valid for pod {pod_name}")
        return name
    if len(names) == 1:
        return str(names[0])
    raise bad_request(
        f"a container name must be specified for pod {pod_name}, choose one of: [{' '.join(map(str, names))}]"
    )


def kubelet_address(node: JSON) -> tuple[str, int]:
    """Where the node's kubelet listens."""
    st = node.get("status") or {}
    addresses = st.get("addresses") or []
    host = next((a.get("address") for a in addresses if a.get("type") == "InternalIP"), None) or next(
        (a.get("address") for a in addresses if a.get("type") == "Hostname"), None
    )
    if not host:
        name = (node.get("metadata") or {}).get("name")
        raise APIError(status.service_unavailable(f"node {name} reports no address for its kubelet"))
    port = ((st.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or DEFAULT_KUBELET_PORT
    return str(host), int(port)


class KubeletProxy:
    """Connections to kubelets, authenticated with the apiserver's kubelet client certificate."""

    def __init__(
        self,
        registry: Registry,
        nodes_prefix: str,
        client_cert: Path | None,
        client_key: Path | None,
        ca_file: Path | None,
    ) -> None:
        self.registry = registry
        self.nodes_prefix = nodes_prefix
        ctx = ssl.create_default_context(cafile=str(ca_file)) if ca_file else ssl.create_default_context()
        if ca_file is None:
            # kube-apiserver does not verify kubelet serving certificates without --kubelet-certificate-authority.
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if client_cert and client_key:
            ctx.load_cert_chain(client_cert, client_key)
        self.ssl = ctx
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """One client session for every kubelet (created inside the running loop)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self.ssl), timeout=aiohttp.ClientTimeout(total=None, sock_connect=10)
            )
        return self._session

    async def close(self) -> None:
        """Close kubelet connections."""
        if self._session is not None:
            await self._session.close()

    async def _base_url(self, pod: JSON) -> str:
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name:
            raise bad_request(f"pod {(pod.get('metadata') or {}).get('name')} does not have a host assigned")
        node = await self.registry.get(f"{self.nodes_prefix}/{node_name}")
        if node is None:
            raise APIError(status.not_found("nodes", "", str(node_name)))
        host, port = kubelet_address(node)
        return f"https://{host}:{port}"

    async def node_get(self, node: JSON, path: str) -> str:
        """A GET of ``path`` on the node's kubelet (stats, metrics); failures become APIErrors."""
        host, port = kubelet_address(node)
        try:
            async with self.session().get(f"https://{host}:{port}{path}",
                                          timeout=aiohttp.ClientTimeout(total=10)) as resp:
                text = await resp.text()
        except (aiohttp.ClientError, TimeoutError) as err:
            raise APIError(status.service_unavailable(f"the kubelet is unreachable: {err}")) from None
        if resp.status != 200:
            raise APIError(status.service_unavailable(f"the kubelet answered {path} with {resp.status}: {text[:200]}"))
        return text

    async def serve(self, request: web.Request, pod: JSON, sub: str) -> web.StreamResponse:
        """Proxy one streaming subresource request."""
        meta = pod.get("metadata") or {}
        ns, name = quote(str(meta.get("namespace", ""))), quote(str(meta.get("name", "")))
        base = await self._base_url(pod)
        if sub == "log":
            container = quote(_container(pod, request.query))
            query = urlencode([(k, v) for k, v in request.query.items() if k in LOG_PARAMS])
            return await self._logs(request, f"{base}/containerLogs/{ns}/{name}/{container}?{query}")
        if sub == "portforward":
            url = f"{base}/portForward/{ns}/{name}"
            spdy = _spdy_port_forward(request)
            if spdy is not None:
                return await self._spdy(request, url, over_websocket=spdy)
            if request.query_string:
                url += "?" + request.query_string
        else:
            container = quote(_container(pod, request.query))
            query = urlencode([(k, v) for k, v in request.query.items() if k != "container"])
            url = f"{base}/{KUBELET_PATHS[sub]}/{ns}/{name}/{container}?{query}"
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise bad_request(f"pods/{sub} needs a WebSocket upgrade (the SPDY/3.1 fallback is not served)")
        return await self._websocket(request, url)

    async def _spdy(self, request: web.Request, url: str, *, over_websocket: bool) -> web.StreamResponse:
        """kubectl's port-forward SPDY session, tunnelled in WebSocket messages or on the upgraded connection
        itself, relayed byte for byte to a SPDY upgrade of the kubelet's /portForward (the kubelet speaks
        the protocol; here it is only bytes)."""
        parsed = URL(url)
        try:
            upstream, _ = await httpupgrade.dial(
                str(parsed.host), int(parsed.port or DEFAULT_KUBELET_PORT), parsed.raw_path_qs,
                {"Upgrade": portforward.UPGRADE, "X-Stream-Protocol-Version": portforward.PROTOCOL}, tls=self.ssl)
        except httpupgrade.UpgradeRefused as err:
            raise APIError(status.failure("BadRequest", f"the kubelet refused the stream: {err.body}",
                                          code=err.status if err.status >= 400 else 400)) from None
        except (OSError, TimeoutError) as err:
            raise APIError(status.service_unavailable(f"the kubelet is unreachable: {err}")) from None
        try:
            if over_websocket:
                ws = web.WebSocketResponse(protocols=[portforward.WEBSOCKET_TUNNEL], autoping=True, max_msg_size=0)
                await ws.prepare(request)
                await _relay_websocket(ws, upstream)
                return ws
            response, downstream = await httpupgrade.accept(
                request, {"Upgrade": portforward.UPGRADE, "X-Stream-Protocol-Version": portforward.PROTOCOL})
            await _relay_bytes(downstream, upstream)
            return response
        finally:
            await upstream.close()

    async def _logs(self, request: web.Request, url: str) -> web.StreamResponse:
        try:
            upstream = await self.session().get(url)
        except aiohttp.ClientError as err:
            raise APIError(status.service_unavailable(f"the kubelet is unreachable: {err}")) from None
        async with upstream:
            if upstream.status != 200:
                text = (await upstream.text())[:1000]
                raise APIError(
                    status.failure(
                        "BadRequest" if upstream.status == 400 else "InternalError",
                        text or f"kubelet answered {upstream.status}",
                        code=upstream.status if upstream.status >= 400 else 502,
                    )
                )
            resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            with contextlib.suppress(ConnectionResetError):
                async for chunk in upstream.content.iter_any():
                    await resp.write(chunk)
                await resp.write_eof()
            return resp

    async def _websocket(self, request: web.Request, url: str) -> web.StreamResponse:
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        try:
            upstream = await self.session().ws_connect(
                url.replace("https://", "wss://", 1), protocols=offered, autoping=True, max_msg_size=0
            )
        except aiohttp.WSServerHandshakeError as err:
            raise APIError(
                status.failure(
                    "BadRequest",
                    f"the kubelet refused the stream: {err.message}",
                    code=err.status if err.status >= 400 else 400,
                )
            ) from None
        except aiohttp.ClientError as err:
            raise APIError(status.service_unavailable(f"the kubelet is unreachable: {err}")) from None
        client = web.WebSocketResponse(
            protocols=[upstream.protocol] if upstream.protocol else (), autoping=True, autoclose=False, max_msg_size=0
        )
        await client.prepare(request)
        await wsrelay.relay(client, upstream)
        return client


def _spdy_port_forward(request: web.Request) -> bool | None:
    """Whether a port-forward request wants SPDY over WebSocket (True), SPDY on the upgraded connection
    (False), or neither (None: the Python client's channel protocol)."""
    upgrade = request.headers.get("Upgrade", "").lower()
    if upgrade == portforward.UPGRADE.lower():
        return False
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    if upgrade == "websocket" and portforward.WEBSOCKET_TUNNEL in offered:
        return True
    return None


async def _relay_bytes(a: httpupgrade.ByteStream, b: httpupgrade.ByteStream) -> None:
    """Copy both ways until either side ends."""

    async def copy(src: httpupgrade.ByteStream, dst: httpupgrade.ByteStream) -> None:
        while data := await src.read():
            await dst.write(data)

    await _first_to_end(copy(a, b), copy(b, a))


async def _relay_websocket(ws: web.WebSocketResponse, upstream: httpupgrade.ByteStream) -> None:
    """Binary messages' bytes to ``upstream``, its bytes back as binary messages (boundaries mean nothing)."""

    async def up() -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.BINARY:
                break
            await upstream.write(msg.data)

    async def down() -> None:
        while data := await upstream.read():
            await ws.send_bytes(data)
        await ws.close()

    await _first_to_end(up(), down())


async def _first_to_end(*coros: Coroutine[Any, Any, None]) -> None:
    tasks = [asyncio.create_task(c) for c in coros]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
