"""Review kinds answered without storing anything: who am I, may I, token reviews and TokenRequests.

Authorization is AlwaysAllow for now (RBAC comes with the security issue), so every access review
is allowed; the answers still carry the caller's identity as kube-apiserver reports it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from api import status
from api.errors import invalid
from api.schema import JSON, Resource
from apiserver.auth import Authenticator, User
from apiserver.errors import APIError, bad_request
from apiserver.tokens import ServiceAccountIdentity, TokenIssuer

DEFAULT_TOKEN_SECONDS = 3600
MIN_TOKEN_SECONDS = 600


class Reviews:
    """Answers for authentication.k8s.io and authorization.k8s.io creates, and serviceaccounts/token."""

    def __init__(self, authenticator: Authenticator, issuer: TokenIssuer | None) -> None:
        self.authenticator = authenticator
        self.issuer = issuer

    async def review(self, res: Resource, body: dict[str, JSON], user: User, namespace: str | None) -> dict[str, JSON]:
        """The review with its status filled in."""
        out: dict[str, JSON] = {**body, "apiVersion": res.api_version, "kind": res.kind}
        out.setdefault("metadata", {})
        user_info: dict[str, JSON] = {"username": user.name, "groups": list(user.groups)}
        if user.uid:
            user_info["uid"] = user.uid
        if res.kind == "SelfSubjectReview":
            out["status"] = {"userInfo": user_info}
        elif res.kind in ("SelfSubjectAccessReview", "SubjectAccessReview", "LocalSubjectAccessReview"):
            out["status"] = {"allowed": True, "reason": "AlwaysAllow authorizer"}
        elif res.kind == "SelfSubjectRulesReview":
            out["status"] = {
                "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                "incomplete": False,
            }
        elif res.kind == "TokenReview":
            token = str((body.get("spec") or {}).get("token", ""))
            sa = self.issuer.verify(token) if self.issuer is not None else None
            static = self.authenticator.tokens.get(token)
            if sa is not None:
                out["status"] = {
                    "authenticated": True,
                    "user": {
                        "username": f"system:serviceaccount:{sa.namespace}:{sa.name}",
                        "uid": sa.uid,
                        "groups": [
                            "system:serviceaccounts",
                            f"system:serviceaccounts:{sa.namespace}",
                            "system:authenticated",
                        ],
                    },
                }
            elif static is not None:
                out["status"] = {
                    "authenticated": True,
                    "user": {
                        "username": static.name,
                        "uid": static.uid,
                        "groups": [*static.groups, "system:authenticated"],
                    },
                }
            else:
                out["status"] = {"authenticated": False}
        else:
            raise APIError(status.method_not_allowed(res.plural, res.group))
        if namespace and res.namespaced:
            out["metadata"] = {**(out.get("metadata") or {}), "namespace": namespace}
        return out

    def token(self, sa: JSON, body: dict[str, JSON]) -> dict[str, JSON]:
        """A TokenRequest answered with a signed token for the ServiceAccount `sa`."""
        if self.issuer is None or not self.issuer.can_sign:
            raise APIError(
                status.failure(
                    "NotFound",
                    "the server could not find the requested resource: no --service-account-signing-key-file was given",
                )
            )
        spec = body.get("spec") or {}
        if not isinstance(spec, dict):
            raise bad_request("spec must be an object")
        seconds = int(spec.get("expirationSeconds") or DEFAULT_TOKEN_SECONDS)
        if seconds < MIN_TOKEN_SECONDS:
            cause = invalid("spec.expirationSeconds", seconds, "may not specify a duration less than 10 minutes")
            raise APIError(status.invalid("TokenRequest", "authentication.k8s.io", "", [cause]))
        m = sa.get("metadata") or {}
        ident = ServiceAccountIdentity(str(m.get("namespace", "")), str(m.get("name", "")), str(m.get("uid", "")))
        audiences = [str(a) for a in spec.get("audiences") or []]
        token, expires = self.issuer.issue(ident, audiences, seconds)
        return {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": ident.name, "namespace": ident.namespace, "creationTimestamp": None},
            "spec": {**spec, "audiences": audiences or [self.issuer.issuer], "expirationSeconds": seconds},
            "status": {
                "token": token,
                "expirationTimestamp": datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        }
