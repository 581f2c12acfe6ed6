"""--token-auth-file: static bearer tokens, one `token,user,uid,"group1,group2"` line each (kube-apiserver's format)."""

from __future__ import annotations

import csv
from pathlib import Path

from apiserver.auth import User


class TokenFileError(ValueError):
    """The token file cannot be used; the message names the line."""


def load_token_file(path: Path) -> dict[str, User]:
    """The users by token; lines starting with `#` are comments, blank lines are skipped."""
    users: dict[str, User] = {}
    with path.open(newline="") as fh:
        for line, row in enumerate(csv.reader(fh), start=1):
            if not row or row[0].startswith("#"):
                continue
            if len(row) < 3:
                raise TokenFileError(f"{path}:{line}: a token line needs at least token,user,uid")
            token = row[0].strip()
            if not token:
                raise TokenFileError(f"{path}:{line}: empty token")
            groups = tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else ()
            users[token] = User(row[1].strip(), row[2].strip(), groups)
    return users


class StaticTokenAuthenticator:
    """Tokens from the file; the file is read once at start-up, as kube-apiserver does."""

    def __init__(self, users: dict[str, User]) -> None:
        self.users = {token: user.authenticated() for token, user in users.items()}
        """token -> its user, already in system:authenticated (a lookup per request, nothing built)."""

    def authenticate(self, token: str) -> User | None:
        """The token's user, or None when the file does not list it."""
        return self.users.get(token)
