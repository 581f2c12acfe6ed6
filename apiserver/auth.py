"""Authentication: client certificates (CN = user, O = groups), static tokens and ServiceAccount tokens.

Anonymous requests are refused with 401 except for the health and version endpoints, which
kube-apiserver also serves to everyone (the kubectl dispatcher asks /version before anything else).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from apiserver.tokens import TokenIssuer

PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version", "/version/"})


@dataclass(frozen=True)
class User:
    """An authenticated identity."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = field(default=())


def load_token_file(path: Path) -> dict[str, User]:
    """kube-apiserver's --token-auth-file: `token,user,uid,"group1,group2"` per line."""
    users: dict[str, User] = {}
    with path.open(newline="") as fh:
        for row in csv.reader(fh):
            if len(row) < 3 or row[0].startswith("#"):
                continue
            groups = tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else ()
            users[row[0].strip()] = User(row[1].strip(), row[2].strip(), groups)
    return users


class Authenticator:
    """Turns a request into a User, or None when nothing identifies the caller."""

    def __init__(self, tokens: dict[str, User], issuer: TokenIssuer | None) -> None:
        self.tokens = tokens
        self.issuer = issuer

    def authenticate(self, request: web.Request) -> User | None:
        """The caller, from its bearer token or its verified client certificate."""
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            token = header[7:].strip()
            if token in self.tokens:
                return self._with_defaults(self.tokens[token])
            if self.issuer is not None:
                sa = self.issuer.verify(token)
                if sa is not None:
                    return User(
                        f"system:serviceaccount:{sa.namespace}:{sa.name}",
                        sa.uid,
                        ("system:serviceaccounts", f"system:serviceaccounts:{sa.namespace}", "system:authenticated"),
                    )
            return None
        transport = request.transport
        cert = transport.get_extra_info("peercert") if transport is not None else None
        if cert:
            cn, orgs = "", []
            for rdn in cert.get("subject", ()):
                for key, value in rdn:
                    if key == "commonName":
                        cn = value
                    elif key == "organizationName":
                        orgs.append(value)
            if cn:
                return self._with_defaults(User(cn, "", tuple(orgs)))
        return None

    @staticmethod
    def _with_defaults(user: User) -> User:
        if "system:authenticated" in user.groups:
            return user
        return User(user.name, user.uid, (*user.groups, "system:authenticated"))
