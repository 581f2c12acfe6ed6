"""The health and metrics endpoints of control-plane components (kube-scheduler's 10259, kube-controller-manager's
10257) as kube serves them: HTTPS with the component's serving certificate; the always-allowed paths
(``/healthz``, ``/readyz``, ``/livez``) open to anyone; every other path only for a caller the apiserver
authenticates (client certificate from ``--client-ca-file``, or a bearer token through TokenReview) and
authorizes (SubjectAccessReview on the non-resource path). Without ``--tls-cert-file`` the endpoint is plain
HTTP with no checks, meant for loopback.
"""

from __future__ import annotations

import argparse
import ssl
from pathlib import Path
from typing import Any

from aiohttp import web

from client.delegated_auth import VERBS, Action, DelegatedAuth
from client.rest import RestClient

DEFAULT_ALWAYS_ALLOW = "/healthz,/readyz,/livez"


def add_serving_flags(parser: argparse.ArgumentParser) -> None:
    """``--tls-cert-file``, ``--tls-private-key-file``, ``--client-ca-file``, ``--authorization-always-allow-paths``."""
    parser.add_argument("--tls-cert-file", type=Path, default=None, help="serve HTTPS with this certificate")
    parser.add_argument("--tls-private-key-file", type=Path, default=None, help="the certificate's key")
    parser.add_argument("--client-ca-file", type=Path, default=None,
                        help="CA whose client certificates identify callers (others use bearer tokens)")
    parser.add_argument("--authorization-always-allow-paths", default=DEFAULT_ALWAYS_ALLOW,
                        help="comma-separated paths served without authentication or authorization")


def serving_tls(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The serving context, or None for plain HTTP; client certificates are verified when offered."""
    if args.tls_cert_file is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.tls_cert_file, args.tls_private_key_file)
    if args.client_ca_file is not None:
        ctx.load_verify_locations(cafile=str(args.client_ca_file))
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def serving_middlewares(args: argparse.Namespace, rest: RestClient) -> list[Any]:
    """The delegated-auth middleware for an HTTPS endpoint (none for plain HTTP)."""
    if args.tls_cert_file is None:
        return []
    open_paths = frozenset(p.strip() for p in args.authorization_always_allow_paths.split(",") if p.strip())
    auth = DelegatedAuth(rest)

    def action_of(request: web.Request) -> Action | None:
        if request.path in open_paths:
            return None
        return Action(VERBS.get(request.method, request.method.lower()), path=request.path)

    return [auth.middleware(action_of)]
