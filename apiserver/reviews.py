"""Review kinds answered without storing anything: who am I, may I, token reviews and TokenRequests.

Access and rules reviews are answered by the configured authorizer (`apiserver.authz.access_reviews`).
"""

from __future__ import annotations

from api import status
from api.schema import JSON, Resource
from apiserver.auth import User
from apiserver.authn.chain import Authenticator
from apiserver.authn.reviews import self_subject_review, token_review
from apiserver.authn.token_request import TokenRequests
from apiserver.authz.access_reviews import ACCESS_REVIEWS, RULES_REVIEW, AccessReviews
from apiserver.errors import APIError


class Reviews:
    """Answers for authentication.k8s.io and authorization.k8s.io creates, and serviceaccounts/token."""

    def __init__(
        self, authenticator: Authenticator, token_requests: TokenRequests | None, access: AccessReviews
    ) -> None:
        self.authenticator = authenticator
        self.token_requests = token_requests
        self.access = access

    async def review(self, res: Resource, body: dict[str, JSON], user: User, namespace: str | None) -> dict[str, JSON]:
        """The review with its status filled in."""
        out: dict[str, JSON] = {**body, "apiVersion": res.api_version, "kind": res.kind}
        out.setdefault("metadata", {})
        if res.kind == "SelfSubjectReview":
            out["status"] = self_subject_review(user)
        elif res.kind in ACCESS_REVIEWS:
            out["status"] = self.access.access(res.kind, _spec(body), user, namespace)
        elif res.kind == RULES_REVIEW:
            out["status"] = self.access.rules(_spec(body), user)
        elif res.kind == "TokenReview":
            out["status"] = await token_review(self.authenticator, body)
        else:
            raise APIError(status.method_not_allowed(res.plural, res.group))
        if namespace and res.namespaced:
            out["metadata"] = {**(out.get("metadata") or {}), "namespace": namespace}
        return out

    async def token(self, sa: dict[str, JSON], body: dict[str, JSON]) -> dict[str, JSON]:
        """A TokenRequest answered with a signed token for the ServiceAccount `sa`."""
        if self.token_requests is None:
            raise APIError(
                status.failure(
                    "NotFound",
                    "the server could not find the requested resource: no --service-account-signing-key-file was given",
                )
            )
        return await self.token_requests.create(sa, body)


def _spec(body: dict[str, JSON]) -> dict[str, JSON]:
    spec = body.get("spec")
    return spec if isinstance(spec, dict) else {}
