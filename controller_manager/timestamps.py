"""RFC 3339 timestamps as the apiserver writes them (``2024-01-02T03:04:05Z``), to and from ``datetime``."""

from __future__ import annotations

from datetime import UTC, datetime


def parse(text: str | None) -> datetime | None:
    """A timestamp from an object, or None when absent; fractional seconds (MicroTime) are kept."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def format_time(when: datetime) -> str:
    """Second precision, as metav1.Time serializes."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

