"""The identity an authenticated request carries (kube's user.Info), and the groups Kubernetes gives users.

`apiserver.authn` decides who a request is; authorization, admission and the reviews read the `User`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from api.schema import JSON

AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS_NAME = "system:anonymous"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"


@dataclass(frozen=True)
class User:
    """An authenticated identity: name, uid, groups and extra attributes."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = field(default=())
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    def authenticated(self) -> User:
        """This user with `system:authenticated` added, as every authenticator's result gets it."""
        if AUTHENTICATED in self.groups or self.name == ANONYMOUS_NAME:
            return self
        return User(self.name, self.uid, (*self.groups, AUTHENTICATED), self.extra)

    def info(self) -> dict[str, JSON]:
        """authentication.k8s.io/v1 UserInfo."""
        out: dict[str, JSON] = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            out["uid"] = self.uid
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra.items()}
        return out


ANONYMOUS = User(ANONYMOUS_NAME, "", (UNAUTHENTICATED,))
"""Who a request without credentials is, where such requests are let in at all."""


def service_account_user(
    namespace: str, name: str, uid: str = "", extra: Mapping[str, tuple[str, ...]] | None = None
) -> User:
    """The user a ServiceAccount authenticates as."""
    return User(
        f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}",
        uid,
        (SERVICE_ACCOUNTS_GROUP, f"{SERVICE_ACCOUNTS_GROUP}:{namespace}", AUTHENTICATED),
        dict(extra or {}),
    )


def split_service_account(username: str) -> tuple[str, str] | None:
    """(namespace, name) of a `system:serviceaccount:<ns>:<name>` user name, else None."""
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    namespace, sep, name = username[len(SERVICE_ACCOUNT_PREFIX) :].partition(":")
    if not sep or not namespace or not name or ":" in name:
        return None
    return namespace, name
