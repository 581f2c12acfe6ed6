"""Patch formats the apiserver accepts: JSON Patch, JSON Merge Patch and strategic merge patch."""


class PatchError(ValueError):
    """A patch that cannot be applied (bad path, failed test op, malformed directive): a 422 for the client."""
