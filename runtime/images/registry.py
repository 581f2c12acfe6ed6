"""Pull and push over the OCI distribution API (docker-registry, Docker Hub, any v2 registry).

Pulls try the configured mirrors of the image's registry first, then the registry itself.
Every manifest and blob is verified against its digest before it is kept. Authentication
follows the registry's ``WWW-Authenticate`` challenge: Basic with the given credentials, or
Bearer with a token from the named realm (anonymously when no credentials are given).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import aiohttp
import orjson
from yarl import URL

from process.log import get_logger
from runtime.images.content import sha256_digest
from runtime.images.errors import (
    AuthenticationFailed,
    BadReference,
    DigestMismatch,
    ImageError,
    ImageNotFound,
    RegistryError,
    RegistryUnreachable,
)
from runtime.images.oci import ACCEPT, Descriptor, Index, Manifest, parse_manifest, select_platform
from runtime.images.reference import DEFAULT_DOMAIN, Reference
from runtime.images.store import ImageRecord, ImageStore

log = get_logger("runtime.images.registry")

DOCKER_HUB = "https://registry-1.docker.io"
_CHUNK = 1 << 20
_PARALLEL_BLOBS = 3
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_HTTP_ERRORS = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError)


@dataclass(frozen=True)
class Credentials:
    """What CRI's AuthConfig carries: a username/password pair, or a ready bearer token."""

    username: str = ""
    password: str = ""
    registry_token: str = ""

    @staticmethod
    def parse(text: str) -> Credentials:
        """``USER:PASSWORD`` (crictl's ``--creds``)."""
        user, sep, password = text.partition(":")
        if not sep or not user:
            raise AuthenticationFailed("credentials must be given as USERNAME:PASSWORD")
        return Credentials(user, password)


@dataclass
class RegistryHosts:
    """Where each registry is reached: mirrors (``NAME=URL``) and hosts spoken to over plain http."""

    mirrors: dict[str, list[str]] = field(default_factory=dict)
    insecure: set[str] = field(default_factory=set)
    credentials: dict[str, Credentials] = field(default_factory=dict)

    @staticmethod
    def from_flags(mirrors: Sequence[str] = (), insecure: Sequence[str] = ()) -> RegistryHosts:
        """From the daemon's and CLI's ``--registry-mirror NAME=URL`` and ``--insecure-registry``."""
        hosts = RegistryHosts(insecure=set(insecure))
        for item in mirrors:
            name, sep, url = item.partition("=")
            if not sep or not name or not url.startswith(("http://", "https://")):
                raise BadReference(f"invalid registry mirror {item!r}: expected NAME=http(s)://HOST[:PORT]")
            hosts.mirrors.setdefault("docker.io" if name == "index.docker.io" else name, []).append(url.rstrip("/"))
        return hosts

    def upstream(self, domain: str) -> str:
        """The registry's own base URL: http for insecure and loopback registries, https otherwise."""
        if domain == DEFAULT_DOMAIN:
            return DOCKER_HUB
        host = domain[1:domain.index("]")] if domain.startswith("[") else domain.partition(":")[0]
        scheme = "http" if domain in self.insecure or _is_loopback(host) else "https"
        return f"{scheme}://{domain}"

    def endpoints(self, domain: str) -> list[str]:
        """Base URLs to pull ``domain``'s images from, in order: its mirrors, then itself."""
        return [*self.mirrors.get(domain, []), self.upstream(domain)]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Endpoint:
    """One registry base URL with its authentication state (basic credentials, bearer tokens by scope)."""

    def __init__(self, client: RegistryClient, base: str, creds: Credentials | None) -> None:
        self.client = client
        self.base = base
        self.creds = creds
        self._basic = False
        self._tokens: dict[str, str] = {}

    def _auth_header(self, scope: str) -> dict[str, str]:
        if self.creds is not None and self.creds.registry_token:
            return {"Authorization": f"Bearer {self.creds.registry_token}"}
        if scope in self._tokens:
            return {"Authorization": f"Bearer {self._tokens[scope]}"}
        if self._basic and self.creds is not None:
            raw = f"{self.creds.username}:{self.creds.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        return {}

    async def request(self, method: str, url: str, scope: str, *, headers: dict[str, str] | None = None,
                      data: Any = None) -> aiohttp.ClientResponse:
        """Send, answering one authentication challenge; the caller must release the response."""
        full = url if url.startswith(("http://", "https://")) else self.base + url
        for attempt in range(2):
            all_headers = {**(headers or {}), **self._auth_header(scope)}
            body = data() if callable(data) else data  # a file body is opened anew for the retry
            try:
                resp = await self.client.session.request(method, URL(full, encoded=True), headers=all_headers,
                                                         data=body)
            except _HTTP_ERRORS as err:
                raise RegistryUnreachable(f"cannot reach registry {self.base}: {err or type(err).__name__}") from None
            finally:
                if callable(data):
                    body.close()
            if resp.status != 401 or attempt == 1:
                if resp.status == 401:
                    resp.release()
                    raise AuthenticationFailed(f"registry {self.base} refused our credentials for {scope or full}")
                return resp
            challenge = resp.headers.get("WWW-Authenticate", "")
            resp.release()
            await self._answer(challenge, scope)
        raise AssertionError("unreachable: the loop returns or raises")

    async def _answer(self, challenge: str, scope: str) -> None:
        kind, _, rest = challenge.partition(" ")
        params = dict(_CHALLENGE_PARAM.findall(rest))
        if kind.lower() == "basic":
            if self.creds is None or not self.creds.username:
                raise AuthenticationFailed(f"registry {self.base} requires a username and password")
            self._basic = True
            return
        if kind.lower() != "bearer" or "realm" not in params:
            raise AuthenticationFailed(f"registry {self.base} sent an unsupported challenge {challenge!r}")
        query = {"service": params["service"]} if "service" in params else {}
        if scope or params.get("scope"):
            query["scope"] = scope or params["scope"]
        headers: dict[str, str] = {}
        if self.creds is not None and self.creds.username:
            raw = f"{self.creds.username}:{self.creds.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        try:
            async with self.client.session.get(params["realm"], params=query, headers=headers) as resp:
                if resp.status != 200:
                    raise AuthenticationFailed(f"token service {params['realm']} answered {resp.status} "
                                               f"for {query.get('scope', 'registry')}")
                body = orjson.loads(await resp.read())
        except _HTTP_ERRORS as err:
            raise RegistryUnreachable(f"cannot reach token service {params['realm']}: {err}") from None
        except orjson.JSONDecodeError:
            raise AuthenticationFailed(f"token service {params['realm']} returned invalid JSON") from None
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthenticationFailed(f"token service {params['realm']} returned no token")
        self._tokens[scope] = token


async def _fail(resp: aiohttp.ClientResponse, what: str, where: str) -> ImageError:
    """The typed error for a non-success response, with the registry's own error code and message."""
    try:
        body = orjson.loads(await resp.read())
        errors = body.get("errors") or []
        detail = "; ".join(f"{e.get('code', '')}: {e.get('message', '')}" for e in errors if isinstance(e, dict))
    except (orjson.JSONDecodeError, AttributeError, aiohttp.ClientError):
        detail = ""
    finally:
        resp.release()
    suffix = f" ({detail})" if detail else ""
    if resp.status == 404:
        return ImageNotFound(f"{what}: not found in {where}{suffix}")
    if resp.status == 403:
        return AuthenticationFailed(f"{what}: access denied by {where}{suffix}")
    return RegistryError(f"{what}: registry {where} answered HTTP {resp.status}{suffix}")


class RegistryClient:
    """Pulls images into an ImageStore and pushes them out; one aiohttp session for its lifetime."""

    def __init__(self, hosts: RegistryHosts | None = None, timeout: float = 30.0) -> None:
        self.hosts = hosts or RegistryHosts()
        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout), trust_env=False)

    async def close(self) -> None:
        await self.session.close()

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _endpoint(self, base: str, domain: str, creds: Credentials | None) -> _Endpoint:
        host = URL(base).authority
        return _Endpoint(self, base, creds or self.hosts.credentials.get(domain) or self.hosts.credentials.get(host))

    # ---- pull ---------------------------------------------------------------------------------------

    async def pull(self, ref: Reference, store: ImageStore, creds: Credentials | None = None) -> ImageRecord:
        """Fetch ``ref`` (tag or digest) with its config and layers, verify all, and record it."""
        failures: list[ImageError] = []
        for base in self.hosts.endpoints(ref.domain):
            endpoint = self._endpoint(base, ref.domain, creds)
            for path in _repository_paths(ref, is_mirror=base != self.hosts.upstream(ref.domain)):
                try:
                    return await self._pull_from(endpoint, ref, path, store)
                except (ImageNotFound, RegistryUnreachable) as err:
                    log.v(2, "pull attempt failed", endpoint=base, repository=path, err=err)
                    failures.append(err)
        not_found = [f for f in failures if isinstance(f, ImageNotFound)]
        if not_found:
            raise ImageNotFound(f"image {ref.familiar()} not found: {not_found[-1]}")
        raise RegistryUnreachable(f"cannot pull {ref.familiar()}: " + "; ".join(map(str, failures)))

    async def _pull_from(self, endpoint: _Endpoint, ref: Reference, path: str, store: ImageStore) -> ImageRecord:
        scope = f"repository:{path}:pull"
        top_data, top_digest = await self._get_manifest(endpoint, path, ref.locator, scope)
        parsed = parse_manifest(top_data)
        data, digest = top_data, top_digest
        if isinstance(parsed, Index):
            chosen = select_platform(parsed)
            data, digest = await self._get_manifest(endpoint, path, chosen.digest, scope)
            parsed = parse_manifest(data)
        if not isinstance(parsed, Manifest):
            raise ImageError(f"{ref.familiar()}: the index entry for linux/amd64 is itself an index")
        blobs = [parsed.config, *parsed.layers]
        limit = asyncio.Semaphore(_PARALLEL_BLOBS)

        async def fetch(desc: Descriptor) -> None:
            async with limit:
                await self._get_blob(endpoint, path, desc, scope, store)

        for desc in blobs:
            store.content.touch(desc.digest)  # keeps a blob we reuse from a concurrent prune
        fetches = [asyncio.create_task(fetch(d)) for d in blobs if not store.content.has(d.digest)]
        try:
            await asyncio.gather(*fetches)
        except BaseException:
            # One blob failed: the others stop too, and their partial writes are gone before the error surfaces.
            for task in fetches:
                task.cancel()
            await asyncio.gather(*fetches, return_exceptions=True)
            raise
        store.content.write(data, digest)
        names = [ref.with_tag(ref.tag)] if ref.tag else []
        record = await asyncio.to_thread(store.commit, digest, names, [ref.with_digest(top_digest)])
        log.info("pulled", image=str(ref), endpoint=endpoint.base, digest=top_digest)
        return record

    async def _get_manifest(self, endpoint: _Endpoint, path: str, locator: str, scope: str) -> tuple[bytes, str]:
        url = f"/v2/{path}/manifests/{locator}"
        resp = await endpoint.request("GET", url, scope, headers={"Accept": ACCEPT})
        if resp.status != 200:
            raise await _fail(resp, f"manifest {path}:{locator}", endpoint.base)
        try:
            data = await resp.read()
        except _HTTP_ERRORS as err:
            raise RegistryUnreachable(f"reading manifest from {endpoint.base}: {err}") from None
        finally:
            resp.release()
        digest = sha256_digest(data)
        claimed = locator if locator.startswith("sha256:") else resp.headers.get("Docker-Content-Digest", digest)
        if claimed != digest:
            raise DigestMismatch(f"manifest {path}:{locator} from {endpoint.base} has digest {digest}, "
                                 f"expected {claimed}")
        return data, digest

    async def _get_blob(self, endpoint: _Endpoint, path: str, desc: Descriptor, scope: str,
                        store: ImageStore) -> None:
        resp = await endpoint.request("GET", f"/v2/{path}/blobs/{desc.digest}", scope)
        if resp.status != 200:
            raise await _fail(resp, f"blob {desc.digest} of {path}", endpoint.base)
        try:
            with store.content.writer(desc.digest, desc.size) as blob:
                async for chunk in resp.content.iter_chunked(_CHUNK):
                    blob.write(chunk)
                await asyncio.to_thread(blob.commit)
        except _HTTP_ERRORS as err:
            raise RegistryUnreachable(f"reading blob {desc.digest} from {endpoint.base}: {err}") from None
        finally:
            resp.release()

    # ---- push ---------------------------------------------------------------------------------------

    async def push(self, ref: Reference, store: ImageStore, creds: Credentials | None = None,
                   source: str | None = None) -> str:
        """Upload the local image ``source`` (default: ``ref``) as ``ref``; returns the manifest digest.

        Blobs the registry already has (HEAD answers 200) are not sent again.
        """
        record = store.get(source or str(ref))
        manifest = store.manifest(record)
        endpoint = self._endpoint(self.hosts.upstream(ref.domain), ref.domain, creds)
        scope = f"repository:{ref.path}:pull,push"
        for desc in [*manifest.layers, manifest.config]:
            await self._push_blob(endpoint, ref.path, desc, scope, store)
        data = store.content.read(record.manifest_digest)
        url = f"/v2/{ref.path}/manifests/{ref.tag or record.manifest_digest}"
        resp = await endpoint.request("PUT", url, scope, headers={"Content-Type": manifest.media_type}, data=data)
        if resp.status not in (200, 201):
            raise await _fail(resp, f"manifest upload of {ref.familiar()}", endpoint.base)
        resp.release()
        answered = resp.headers.get("Docker-Content-Digest", record.manifest_digest)
        if answered != record.manifest_digest:
            raise DigestMismatch(f"registry stored the manifest as {answered}, expected {record.manifest_digest}")
        await asyncio.to_thread(store.commit, record.manifest_digest, [], [ref.with_digest(record.manifest_digest)])
        log.info("pushed", image=str(ref), digest=record.manifest_digest)
        return record.manifest_digest

    async def _push_blob(self, endpoint: _Endpoint, path: str, desc: Descriptor, scope: str,
                         store: ImageStore) -> None:
        resp = await endpoint.request("HEAD", f"/v2/{path}/blobs/{desc.digest}", scope)
        resp.release()
        if resp.status == 200:
            return
        resp = await endpoint.request("POST", f"/v2/{path}/blobs/uploads/", scope)
        if resp.status != 202 or "Location" not in resp.headers:
            raise await _fail(resp, f"upload of blob {desc.digest}", endpoint.base)
        resp.release()
        location = urljoin(endpoint.base + "/", resp.headers["Location"])
        sep = "&" if "?" in location else "?"
        location = f"{location}{sep}digest={desc.digest.replace(':', '%3A')}"
        blob_path = store.content.path(desc.digest)

        def body() -> Any:
            return blob_path.open("rb")

        resp = await endpoint.request("PUT", location, scope, data=body,
                                      headers={"Content-Type": "application/octet-stream",
                                               "Content-Length": str(desc.size)})
        if resp.status not in (201, 204):
            raise await _fail(resp, f"upload of blob {desc.digest}", endpoint.base)
        resp.release()


def _repository_paths(ref: Reference, is_mirror: bool) -> list[str]:
    """Repository paths to try: a mirror for Docker Hub may hold ``library/busybox`` as ``busybox``."""
    if is_mirror and ref.domain == DEFAULT_DOMAIN and ref.path.startswith("library/"):
        return [ref.path, ref.path.removeprefix("library/")]
    return [ref.path]
