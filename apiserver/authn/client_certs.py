"""Authentication by x509 client certificate: CN is the user, each O a group.

The TLS handshake has already verified the chain against --client-ca-file (an unknown CA, an expired
or garbage certificate never completes it), once per connection; per request only the subject is read
and the expiry re-checked, since a keep-alive connection may outlive its certificate.
"""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any

from apiserver.auth import User
from apiserver.authn.errors import InvalidCredentials


@functools.lru_cache(maxsize=1024)
def _expiry(not_after: str) -> float:
    """Unix seconds of a peercert `notAfter` (parsing it costs more than the rest of the check); 0 if unreadable."""
    try:
        return float(ssl.cert_time_to_seconds(not_after))
    except ValueError:
        return 0.0


class ClientCertAuthenticator:
    """Users from verified peer certificates (`ssl` peercert dicts)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock

    def authenticate(self, peercert: Mapping[str, Any] | None) -> User | None:
        """The certificate's user; None when the client sent no (verified) certificate."""
        if not peercert:
            return None
        not_after = peercert.get("notAfter")
        if _expiry(not_after if isinstance(not_after, str) else "") <= self.clock():
            raise InvalidCredentials("client certificate has expired")
        return _user(peercert.get("subject", ()))


@functools.lru_cache(maxsize=1024)
def _user(subject: tuple[tuple[tuple[str, str], ...], ...]) -> User:
    """The user a certificate subject names (the same few subjects come on every request: built once)."""
    name, groups = "", []
    for rdn in subject:
        for key, value in rdn:
            if key == "commonName":
                name = value
            elif key == "organizationName":
                groups.append(value)
    if not name:
        raise InvalidCredentials("client certificate has no common name")
    return User(name, "", tuple(groups)).authenticated()
