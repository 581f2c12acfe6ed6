"""``tinykube token create``: a bootstrap token for joining nodes, as ``kubeadm token create`` makes it.

The token ``<id>.<secret>`` lives in the Secret ``kube-system/bootstrap-token-<id>`` of type
``bootstrap.kubernetes.io/token``; the apiserver authenticates it as ``system:bootstrap:<id>`` in the groups
``system:bootstrappers`` and ``system:bootstrappers:kubeadm:default-node-token``, which may create node
client CSRs and have them approved.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import secrets
import string
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from client.errors import ClientError
from client.flags import parse_duration
from client.kubeconfig import load_client_config
from client.rest import ResourceRef, RestClient
from tinykube.cluster import DEFAULT_NAME, default_state_dir

SECRETS: Final = ResourceRef("", "v1", "secrets", True, "Secret")
SECRET_TYPE: Final = "bootstrap.kubernetes.io/token"
DEFAULT_GROUP: Final = "system:bootstrappers:kubeadm:default-node-token"
_ALPHABET: Final = string.ascii_lowercase + string.digits


def new_token() -> tuple[str, str]:
    """A fresh (token id, token secret): 6 and 16 characters of ``[a-z0-9]``, kubeadm's format."""
    return ("".join(secrets.choice(_ALPHABET) for _ in range(6)),
            "".join(secrets.choice(_ALPHABET) for _ in range(16)))


def token_secret(token_id: str, secret: str, *, ttl_seconds: float, now: datetime.datetime,
                 groups: Sequence[str] = (DEFAULT_GROUP,), description: str = "") -> dict[str, Any]:
    """The Secret that makes ``<token_id>.<secret>`` a bootstrap token (no expiration with ``ttl_seconds`` 0)."""
    data = {"token-id": token_id, "token-secret": secret, "usage-bootstrap-authentication": "true",
            "usage-bootstrap-signing": "true"}
    if groups:
        data["auth-extra-groups"] = ",".join(groups)
    if description:
        data["description"] = description
    if ttl_seconds > 0:
        data["expiration"] = (now + datetime.timedelta(seconds=ttl_seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"apiVersion": "v1", "kind": "Secret", "type": SECRET_TYPE,
            "metadata": {"name": f"bootstrap-token-{token_id}", "namespace": "kube-system"}, "stringData": data}


async def create_token(rest: RestClient, *, ttl_seconds: float, groups: Sequence[str] = (DEFAULT_GROUP,),
                       description: str = "") -> str:
    """Store a new bootstrap token and return it as ``<id>.<secret>``."""
    token_id, secret = new_token()
    await rest.create(SECRETS, token_secret(token_id, secret, ttl_seconds=ttl_seconds,
                                            now=datetime.datetime.now(datetime.UTC), groups=groups,
                                            description=description), "kube-system")
    return f"{token_id}.{secret}"


async def _create(args: argparse.Namespace) -> str:
    kubeconfig = args.kubeconfig or (args.state_dir or default_state_dir(args.name)) / "admin.kubeconfig"
    async with RestClient(load_client_config(kubeconfig), user_agent="tinykube-token") as rest:
        return await create_token(rest, ttl_seconds=args.ttl, groups=args.groups, description=args.description)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="tinykube token", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="action", required=True)
    create = sub.add_parser("create", help="create a bootstrap token and print it")
    create.add_argument("--name", default=DEFAULT_NAME, help="cluster name (finds its admin kubeconfig)")
    create.add_argument("--state-dir", type=Path, default=None, help="cluster state directory")
    create.add_argument("--kubeconfig", type=Path, default=None, help="kubeconfig to use instead of the cluster's")
    create.add_argument("--ttl", type=parse_duration, default=24 * 3600.0,
                        help="how long the token is valid (e.g. 24h, 30m; 0 never expires)")
    create.add_argument("--groups", type=lambda s: [g for g in s.split(",") if g], default=[DEFAULT_GROUP],
                        help="extra groups the token authenticates as, comma-separated")
    create.add_argument("--description", default="", help="a note stored with the token")
    args = parser.parse_args(argv)
    try:
        print(asyncio.run(_create(args)))
    except (ClientError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
