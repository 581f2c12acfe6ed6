"""What an authorizer is asked and what it answers, as Kubernetes' authorizer.Attributes and Decision.

Every authorizer is synchronous and reads only in-memory state, so the request path pays no I/O for it;
impersonation checks call the same interface with verb `impersonate`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from apiserver.auth import ANONYMOUS, User

__all__ = ["ALLOW", "ANONYMOUS", "MASTERS_GROUP", "NO_OPINION", "Attributes", "Authorizer", "Decision", "Outcome"]

MASTERS_GROUP = "system:masters"


class Attributes(NamedTuple):
    """One action: who does which verb on what.

    A resource request has `resource` set (and `api_group` "" for the core group); a non-resource request
    has `path` (`/healthz`, `/apis`) instead. A NamedTuple: every request builds one, and a tuple is the
    cheapest immutable record Python has.
    """

    user: User
    verb: str
    resource: str = ""
    api_group: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""
    resource_request: bool = True
    api_version: str = ""
    field_selector: str = ""
    """The raw fieldSelector of a list or watch: the Node authorizer checks `spec.nodeName` in it."""


class Outcome(enum.Enum):
    """The three answers of an authorizer."""

    ALLOW = "allow"
    DENY = "deny"
    NO_OPINION = "no-opinion"


@dataclass(frozen=True, slots=True)
class Decision:
    """An outcome and why (the reason ends up in 403 messages and SubjectAccessReview status)."""

    outcome: Outcome
    reason: str = ""

    @property
    def allowed(self) -> bool:
        """True only for ALLOW."""
        return self.outcome is Outcome.ALLOW


ALLOW = Decision(Outcome.ALLOW)
NO_OPINION = Decision(Outcome.NO_OPINION)


class Authorizer(Protocol):
    """Anything that can judge an action."""

    def authorize(self, attrs: Attributes) -> Decision:
        """Allow, deny or no opinion (the union then asks the next authorizer)."""
        ...
