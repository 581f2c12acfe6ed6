"""The one failure authenticators raise: credentials were presented and are not acceptable."""

from __future__ import annotations


class InvalidCredentials(Exception):
    """Presented credentials were rejected; the message says why (it never contains the credential)."""
