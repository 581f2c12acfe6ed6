"""What authentication costs per request: each authenticator's check, in process, against the full JWT
verification it saves (the peer, measured in the same run).

A ServiceAccount token's RSA signature is checked once and cached for seconds; every request still
checks expiry, audience and that its account and pod exist (dict lookups in the watch cache, stood in
for here by a dict). Static tokens and client certificates are lookups only.

    .venv/bin/python -m bench.authn_bench [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from api.schema import JSON
from apiserver.auth import User
from apiserver.authn.client_certs import ClientCertAuthenticator
from apiserver.authn.serviceaccount_auth import ServiceAccountAuthenticator
from apiserver.authn.serviceaccount_tokens import ServiceAccountClaims, ServiceAccountKeys
from apiserver.authn.static_tokens import StaticTokenAuthenticator
from apiserver.authn.token_cache import TokenCache
from apiserver.authn.token_request import TokenRequests
from tinykube.pki import new_signing_key, private_pem

ISSUER = "https://kubernetes.default.svc.cluster.local"


class Objects:
    """The watch cache's answer, as a dict."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str | None, str], dict[str, JSON]] = {}

    async def get(self, plural: str, namespace: str | None, name: str, uid: str = "") -> dict[str, JSON] | None:
        obj = self.items.get((plural, namespace, name))
        return obj if obj is not None and (not uid or obj["metadata"]["uid"] == uid) else None


async def _per_call(rounds: int, call: Callable[[], Awaitable[object]]) -> float:
    """Microseconds per call, best of three runs."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(rounds):
            await call()
        best = min(best, (time.perf_counter() - start) / rounds * 1e6)
    return best


async def main(rounds: int) -> None:
    """Print µs per authentication and the cached/uncached ratio."""
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "sa.key"
        key.write_bytes(private_pem(new_signing_key()))
        keys = ServiceAccountKeys(key, [])
    objects = Objects()
    sa = {"metadata": {"name": "robot", "namespace": "ns", "uid": "sa-uid"}}
    objects.items[("serviceaccounts", "ns", "robot")] = sa
    objects.items[("pods", "ns", "web")] = {
        "metadata": {"name": "web", "namespace": "ns", "uid": "pod-uid"},
        "spec": {"serviceAccountName": "robot"},
    }
    reply = await TokenRequests(keys, ISSUER, (ISSUER,), objects).create(
        sa, {"spec": {"boundObjectRef": {"kind": "Pod", "name": "web"}}}
    )
    token = str(reply["status"]["token"])

    def verifier(cache: TokenCache[ServiceAccountClaims]) -> ServiceAccountAuthenticator:
        return ServiceAccountAuthenticator(keys, frozenset({ISSUER}), (ISSUER,), lookup=objects, cache=cache)

    cached, uncached = verifier(TokenCache()), verifier(TokenCache(capacity=0))
    static = StaticTokenAuthenticator({"static-token": User("ops")})
    certs = ClientCertAuthenticator()
    peercert = {
        "subject": ((("organizationName", "system:masters"),), (("commonName", "admin"),)),
        "notAfter": "Jan  1 00:00:00 2099 GMT",
    }

    async def static_call() -> object:
        return static.authenticate("static-token")

    async def cert_call() -> object:
        return certs.authenticate(peercert)

    full = await _per_call(max(rounds // 20, 50), lambda: uncached.authenticate(token))
    fast = await _per_call(rounds, lambda: cached.authenticate(token))
    print(f"ServiceAccount JWT, full verification (peer): {full:8.1f} µs/request")
    print(
        f"ServiceAccount JWT, cached signature + bound-object checks: {fast:8.1f} µs/request "
        f"(ratio {fast / full:.3f} of the peer)"
    )
    print(f"static token: {await _per_call(rounds, static_call):8.2f} µs/request")
    print(f"client certificate (subject + expiry): {await _per_call(rounds, cert_call):8.2f} µs/request")


def cli() -> None:
    """Parse flags and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20_000, help="calls per measurement")
    asyncio.run(main(parser.parse_args().rounds))


if __name__ == "__main__":
    cli()
