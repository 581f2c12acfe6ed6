"""`--authorization-mode`: the simple authorizers and the union that asks each mode in order.

As in kube-apiserver, members of `system:masters` are allowed before any mode is asked, and the first
authorizer with an opinion (allow or deny) decides; when none has one, the request is denied.
"""

from __future__ import annotations

from collections.abc import Sequence

from apiserver.authz.attributes import ALLOW, MASTERS_GROUP, NO_OPINION, Attributes, Authorizer, Decision, Outcome

MODES = ("AlwaysAllow", "AlwaysDeny", "Node", "RBAC")


class AlwaysAllow:
    """Allows everything (the default until a cluster opts into Node,RBAC)."""

    def authorize(self, attrs: Attributes) -> Decision:
        """Always ALLOW."""
        return ALLOW


class AlwaysDeny:
    """Denies everything (tests and lock-down)."""

    def authorize(self, attrs: Attributes) -> Decision:
        """Always DENY."""
        return Decision(Outcome.DENY, "Everything is forbidden.")


class PrivilegedGroup:
    """Allows every member of `system:masters`, whatever the store's RBAC objects say."""

    def authorize(self, attrs: Attributes) -> Decision:
        """ALLOW for system:masters, else no opinion."""
        return ALLOW if MASTERS_GROUP in attrs.user.groups else NO_OPINION


class Union:
    """Authorizers asked in order; the first allow or deny wins."""

    def __init__(self, members: Sequence[Authorizer]) -> None:
        self.members = tuple(members)

    def authorize(self, attrs: Attributes) -> Decision:
        """The first opinion, or no opinion with the reasons collected on the way."""
        reasons: list[str] = []
        for member in self.members:
            decision = member.authorize(attrs)
            if decision.outcome is not Outcome.NO_OPINION:
                return decision
            if decision.reason:
                reasons.append(decision.reason)
        return Decision(Outcome.NO_OPINION, ", ".join(reasons))


def parse_modes(value: str) -> list[str]:
    """The comma list of modes; ValueError names an unknown or repeated one."""
    modes = [m.strip() for m in value.split(",") if m.strip()]
    if not modes:
        raise ValueError("--authorization-mode may not be empty")
    for m in modes:
        if m not in MODES:
            raise ValueError(f"unknown authorization mode {m!r} (supported: {', '.join(MODES)})")
    if len(set(modes)) != len(modes):
        raise ValueError(f"--authorization-mode lists a mode twice: {value}")
    return modes
