"""TokenReview and SelfSubjectReview: the authenticator's answers as API objects.

TokenReview asks whether a token is good for some audiences (default: this server's); the answer is
`authenticated` with the user and the audiences it is good for, or `authenticated: false` with an error.
"""

from __future__ import annotations

from api.schema import JSON
from apiserver.auth import User
from apiserver.authn.chain import Authenticator
from apiserver.authn.errors import InvalidCredentials
from apiserver.errors import bad_request


async def token_review(authenticator: Authenticator, body: dict[str, JSON]) -> dict[str, JSON]:
    """The status of a TokenReview."""
    spec = body.get("spec") or {}
    if not isinstance(spec, dict):
        raise bad_request("spec must be an object")
    token, audiences = spec.get("token"), spec.get("audiences") or []
    if not isinstance(token, str) or not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise bad_request("spec.token must be a string and spec.audiences a list of strings")
    try:
        found = await authenticator.authenticate_token(token, tuple(str(a) for a in audiences)) if token else None
    except InvalidCredentials as err:
        return {"authenticated": False, "error": str(err), "user": {}}
    if found is None:
        return {"authenticated": False, "error": "token is not known to any authenticator", "user": {}}
    user, accepted = found
    return {"authenticated": True, "user": user.info(), "audiences": list(accepted)}


def self_subject_review(user: User) -> dict[str, JSON]:
    """The status of a SelfSubjectReview: who the caller is (after impersonation)."""
    return {"userInfo": user.info()}
