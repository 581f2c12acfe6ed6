"""kubectl's wording for failures, and the exit code each one gets."""

from __future__ import annotations

import re

from client.errors import ApiConnectionError, ApiError, ClientError, Invalid, Unauthorized


class CliError(Exception):
    """A failure the user caused or can fix; printed as ``error: <message>``, exit 1."""


class UsageError(CliError):
    """Bad arguments; printed with a pointer to the verb's ``--help``."""

    def __init__(self, message: str, verb: str = "") -> None:
        super().__init__(message)
        self.verb = verb


class ExitCode(Exception):
    """Leave with this status after output already printed (``exec`` passes on the remote exit code)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


_REFUSED = re.compile(r"(?:https?://)?([^/\s]+?)(?:/|$)")


def api_error_text(exc: ApiError, context: str = "") -> str:
    """One API error the way kubectl's ``CheckErr`` prints it (``Error from server (NotFound): ...``);
    ``context`` goes before the message, as kubectl's ``AddSourceToErr`` puts it."""
    if isinstance(exc, Unauthorized):
        return f"error: You must be logged in to the server ({exc.message})"
    if isinstance(exc, Invalid):
        kind, name = exc.details.get("kind", ""), exc.details.get("name", "")
        head = f"The {kind} \"{name}\" is invalid" if kind or name else "The request is invalid"
        causes = [f"{c.get('field')}: {c.get('message')}" if c.get("field") else str(c.get("message"))
                  for c in exc.causes]
        if not causes:
            return head
        if len(causes) == 1:
            return f"{head}: {causes[0]}"
        return f"{head}: \n" + "\n".join(f"* {c}" for c in causes)
    reason = str(exc.status.get("reason") or "")
    message = context + exc.message
    return f"Error from server ({reason}): {message}" if reason else f"Error from server: {message}"


def connection_error_text(exc: ApiConnectionError, server: str) -> str:
    """kubectl's line for a server it could not reach."""
    host = server.split("://", 1)[-1].rstrip("/")
    if "ConnectionRefused" in str(exc):
        return f"The connection to the server {host} was refused - did you specify the right host or port?"
    return f"Unable to connect to the server: {exc}"


def error_text(exc: BaseException, server: str = "") -> str:
    """The stderr line(s) for any failure tkctl reports."""
    if isinstance(exc, ApiError):
        return api_error_text(exc)
    if isinstance(exc, ApiConnectionError):
        return connection_error_text(exc, server)
    if isinstance(exc, CliError | ClientError):
        text = str(exc)
        return text if text.startswith("error: ") else f"error: {text}"
    return f"error: {exc}"
