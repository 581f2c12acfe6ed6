"""Per-kind validation checks; importing this package registers them with api.validation."""

from api.checks import cluster, core, workloads

__all__ = ["cluster", "core", "workloads"]
