"""The authenticator chain: every request leaves it as a `User` or as a 401, with one log line saying why.

Like kube-apiserver's union, the client certificate is asked first, then the bearer token's
authenticators (static file, bootstrap, ServiceAccount JWT); the first success wins. Requests with no
credentials at all are anonymous only on the health and version endpoints; everywhere else they get
401. Impersonation headers are applied last, to an authenticated caller.
"""

from __future__ import annotations

from aiohttp import web

from api import status
from apiserver.auth import ANONYMOUS, User
from apiserver.authn.bootstrap_tokens import BootstrapTokenAuthenticator
from apiserver.authn.client_certs import ClientCertAuthenticator
from apiserver.authn.credentials import bearer_token
from apiserver.authn.errors import InvalidCredentials
from apiserver.authn.impersonation import Impersonation, requested
from apiserver.authn.serviceaccount_auth import ServiceAccountAuthenticator
from apiserver.authn.static_tokens import StaticTokenAuthenticator
from apiserver.errors import APIError
from process.log import get_logger

log = get_logger("apiserver.authn")

PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version")
"""Open to anonymous callers, with their sub-paths (kube-apiserver's system:public-info-viewer)."""


def is_public(path: str) -> bool:
    """Whether `path` may be read without credentials."""
    return any(path == p or path.startswith(p + "/") for p in PUBLIC_PATHS)


def unauthorized() -> APIError:
    """kube-apiserver's 401 Status."""
    return APIError(status.failure("Unauthorized", "Unauthorized"))


class Authenticator:
    """Turns requests (and, for TokenReview, bare tokens) into users."""

    def __init__(
        self,
        *,
        api_audiences: tuple[str, ...],
        impersonation: Impersonation,
        certs: ClientCertAuthenticator | None = None,
        static: StaticTokenAuthenticator | None = None,
        bootstrap: BootstrapTokenAuthenticator | None = None,
        service_accounts: ServiceAccountAuthenticator | None = None,
    ) -> None:
        self.api_audiences = api_audiences
        self.impersonation = impersonation
        self.certs = certs
        self.static = static
        self.bootstrap = bootstrap
        self.service_accounts = service_accounts

    async def authenticate(self, request: web.Request) -> User:
        """The acting user of a request; APIError 401 (or impersonation's 400/403) otherwise."""
        try:
            user = await self._identify(request)
        except InvalidCredentials as err:
            log.info(
                "authentication failed",
                reason=str(err),
                method=request.method,
                path=request.path,
                remote=request.remote,
            )
            raise unauthorized() from None
        if user is None:
            if is_public(request.path):
                return ANONYMOUS
            log.info(
                "authentication failed",
                reason="no credentials",
                method=request.method,
                path=request.path,
                remote=request.remote,
            )
            raise unauthorized()
        if requested(request.headers):
            return self.impersonation.apply(user, request.headers)
        return user

    async def _identify(self, request: web.Request) -> User | None:
        cert_error: InvalidCredentials | None = None
        if self.certs is not None:
            transport = request.transport
            try:
                user = self.certs.authenticate(transport.get_extra_info("peercert") if transport else None)
            except InvalidCredentials as err:
                user, cert_error = None, err
            if user is not None:
                return user
        token = bearer_token(request.headers)
        if token is None:
            if cert_error is not None:
                raise cert_error
            return None
        found = await self.authenticate_token(token)
        if found is None:
            raise InvalidCredentials("bearer token is not known to any authenticator")
        return found[0]

    async def authenticate_token(
        self, token: str, audiences: tuple[str, ...] = ()
    ) -> tuple[User, tuple[str, ...]] | None:
        """A token's user and the audiences it is good for (TokenReview asks for specific ones); None when
        no authenticator knows it; InvalidCredentials when one owns it and rejects it."""
        if self.static is not None:
            user = self.static.authenticate(token)
            if user is not None:
                return user, self._audience_agnostic(audiences)
        if self.bootstrap is not None:
            user = await self.bootstrap.authenticate(token)
            if user is not None:
                return user, self._audience_agnostic(audiences)
        if self.service_accounts is not None:
            return await self.service_accounts.authenticate(token, audiences)
        return None

    def _audience_agnostic(self, audiences: tuple[str, ...]) -> tuple[str, ...]:
        """Tokens that carry no audience are good for this server's audiences only."""
        if not audiences:
            return self.api_audiences
        accepted = tuple(a for a in audiences if a in self.api_audiences)
        if not accepted:
            raise InvalidCredentials("token is not valid for the requested audiences")
        return accepted
