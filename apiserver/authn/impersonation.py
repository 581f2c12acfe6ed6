"""Impersonation headers (`kubectl --as/--as-group/--as-uid`): act as another user when allowed to.

Each requested attribute — the user (or ServiceAccount), every group, the uid and every extra value —
needs verb `impersonate` on `users`, `groups`, `serviceaccounts` (core group) or `uids`,
`userextras/<key>` (authentication.k8s.io), judged by the authorizer for the real caller; one refusal
is a 403 and nothing is impersonated. Groups, uid or extras without a user are a 400, as in
kube-apiserver.
"""

from __future__ import annotations

from urllib.parse import unquote

from multidict import CIMultiDict, CIMultiDictProxy

from api import status
from apiserver.auth import (
    ANONYMOUS_NAME,
    AUTHENTICATED,
    SERVICE_ACCOUNTS_GROUP,
    UNAUTHENTICATED,
    User,
    split_service_account,
)
from apiserver.authz.attributes import Attributes, Authorizer
from apiserver.errors import APIError, bad_request

USER = "Impersonate-User"
GROUP = "Impersonate-Group"
UID = "Impersonate-Uid"
EXTRA_PREFIX = "impersonate-extra-"
AUTH_GROUP = "authentication.k8s.io"
NAMES = frozenset(h.lower() for h in (USER, GROUP, UID))
PREFIX = "impersonate-"


Headers = CIMultiDictProxy[str] | CIMultiDict[str]


def requested(headers: Headers) -> bool:
    """Whether the request asks to impersonate anything (every request asks this: only headers that start
    like an impersonation header are lower-cased and looked at)."""
    for key in headers:
        if key[: len(PREFIX)].lower() == PREFIX:
            name = key.lower()
            if name in NAMES or name.startswith(EXTRA_PREFIX):
                return True
    return False


def _extras(headers: Headers) -> dict[str, tuple[str, ...]]:
    extra: dict[str, list[str]] = {}
    for key, value in headers.items():
        if key.lower().startswith(EXTRA_PREFIX):
            name = unquote(key[len(EXTRA_PREFIX) :].lower())
            extra.setdefault(name, []).append(value)
    return {k: tuple(v) for k, v in extra.items()}


class Impersonation:
    """Checks impersonation requests against the authorizer and builds the impersonated user."""

    def __init__(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer

    def _require(
        self, caller: User, resource: str, group: str, name: str, *, namespace: str = "", sub: str = ""
    ) -> None:
        attrs = Attributes(
            caller, "impersonate", resource=resource, api_group=group, subresource=sub, namespace=namespace, name=name
        )
        if not self.authorizer.authorize(attrs).allowed:
            plural = f"{resource}/{sub}" if sub else resource
            raise APIError(status.forbidden(caller.name, "impersonate", plural, group, namespace=namespace, name=name))

    def apply(self, caller: User, headers: Headers) -> User:
        """The user to act as; APIError 400 for a malformed request, 403 when not allowed."""
        users, groups, uids = headers.getall(USER, []), headers.getall(GROUP, []), headers.getall(UID, [])
        extra = _extras(headers)
        if len(users) > 1 or len(uids) > 1:
            raise bad_request("only one Impersonate-User and one Impersonate-Uid may be given")
        if not users or not users[0]:
            raise bad_request(
                f"requested impersonation of {', '.join(sorted(_asked(groups, uids, extra)))} "
                "without impersonating a user"
            )
        name = users[0]
        account = split_service_account(name)
        if account is not None:
            self._require(caller, "serviceaccounts", "", account[1], namespace=account[0])
        else:
            self._require(caller, "users", "", name)
        for group in groups:
            self._require(caller, "groups", "", group)
        for uid in uids:
            self._require(caller, "uids", AUTH_GROUP, uid)
        for key, values in extra.items():
            for value in values:
                self._require(caller, "userextras", AUTH_GROUP, value, sub=key)
        result = list(dict.fromkeys(groups))
        if account is not None and not groups:
            result = [SERVICE_ACCOUNTS_GROUP, f"{SERVICE_ACCOUNTS_GROUP}:{account[0]}"]
        marker = UNAUTHENTICATED if name == ANONYMOUS_NAME else AUTHENTICATED
        if marker not in result:
            result.append(marker)
        return User(name, uids[0] if uids else "", tuple(result), extra)


def _asked(groups: list[str], uids: list[str], extra: dict[str, tuple[str, ...]]) -> set[str]:
    asked = {f"group {g!r}" for g in groups} | {f"uid {u!r}" for u in uids}
    return asked | {f"extra {k!r}" for k in extra} or {"nothing"}
