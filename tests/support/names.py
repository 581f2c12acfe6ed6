"""Unique, short name prefixes so parallel tests never share a netns, link, cgroup or chain."""

from __future__ import annotations

import secrets

# Linux interface names hold 15 characters and iptables chains 28: leave room for suffixes.
PREFIX_LEN = 7


def unique_prefix() -> str:
    """``tk`` and five hex digits, e.g. ``tk3fa9c``; the same prefix marks all of a test's resources."""
    return "tk" + secrets.token_hex(3)[:PREFIX_LEN - 2]
