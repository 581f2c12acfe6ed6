"""The authentication flags (kube-apiserver's names) and the authenticator chain they describe."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from apiserver.authn.bootstrap_tokens import BootstrapTokenAuthenticator
from apiserver.authn.chain import Authenticator
from apiserver.authn.client_certs import ClientCertAuthenticator
from apiserver.authn.impersonation import Impersonation
from apiserver.authn.lookup import ObjectLookup
from apiserver.authn.serviceaccount_auth import ServiceAccountAuthenticator
from apiserver.authn.serviceaccount_tokens import ServiceAccountKeys
from apiserver.authn.static_tokens import StaticTokenAuthenticator, load_token_file
from apiserver.authn.token_request import TokenRequests
from apiserver.authz.attributes import Authorizer
from apiserver.registry import Registry
from apiserver.watch_cache import WatchCaches

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def add_flags(p: argparse.ArgumentParser) -> None:
    """Register the authentication flags."""
    p.add_argument(
        "--service-account-key-file",
        type=Path,
        action="append",
        default=[],
        help="public (or private) key verifying ServiceAccount tokens; repeatable",
    )
    p.add_argument("--service-account-signing-key-file", type=Path, help="private key signing ServiceAccount tokens")
    p.add_argument(
        "--service-account-issuer",
        action="append",
        default=[],
        help=f"iss of issued tokens (the first; every one given is accepted; default {DEFAULT_ISSUER}); repeatable",
    )
    p.add_argument(
        "--api-audiences",
        type=_csv,
        default=[],
        help="audiences a token must name to be accepted, comma-separated (default: the service-account issuers)",
    )
    p.add_argument("--token-auth-file", type=Path, help='static tokens: token,user,uid,"groups" per line')
    p.add_argument(
        "--enable-bootstrap-token-auth",
        action="store_true",
        help="accept bootstrap tokens from bootstrap-token-<id> Secrets in kube-system",
    )


@dataclass(frozen=True)
class Authentication:
    """The request authenticator and, with a signing key, the TokenRequest signer."""

    authenticator: Authenticator
    token_requests: TokenRequests | None


def build(args: argparse.Namespace, caches: WatchCaches, registry: Registry, authorizer: Authorizer) -> Authentication:
    """The chain the flags ask for; OSError or ValueError when a key or token file cannot be used.

    `authorizer` judges impersonation requests (verb `impersonate`)."""
    issuers = list(args.service_account_issuer) or [DEFAULT_ISSUER]
    audiences = tuple(args.api_audiences or issuers)
    lookup = ObjectLookup(caches, registry)
    signing, verifying = args.service_account_signing_key_file, args.service_account_key_file
    keys = ServiceAccountKeys(signing, verifying) if signing or verifying else None
    accounts = ServiceAccountAuthenticator(keys, frozenset(issuers), audiences, lookup=lookup) if keys else None
    authenticator = Authenticator(
        api_audiences=audiences,
        impersonation=Impersonation(authorizer),
        certs=ClientCertAuthenticator(),
        static=StaticTokenAuthenticator(load_token_file(args.token_auth_file)) if args.token_auth_file else None,
        bootstrap=BootstrapTokenAuthenticator(lookup) if args.enable_bootstrap_token_auth else None,
        service_accounts=accounts,
    )
    signer = TokenRequests(keys, issuers[0], audiences, lookup) if keys and keys.private else None
    return Authentication(authenticator, signer)
