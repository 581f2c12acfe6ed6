"""Building blocks of kubectl's describe pages: levelled tab-separated lines, maps, times, events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tkctl.table import TabWriter

if TYPE_CHECKING:
    from tkctl.session import Session

SKIP_ANNOTATIONS = {"kubectl.kubernetes.io/last-applied-configuration"}


class Page:
    """A describe page: ``w(level, "Name:\\t%s\\n")`` lines, laid out by one tabwriter (min 0, padding 2)."""

    def __init__(self) -> None:
        self.tw = TabWriter(min_width=0, padding=2)

    def w(self, level: int, text: str) -> None:
        self.tw.write("  " * level + text)

    def render(self) -> str:
        return self.tw.render()


@dataclass
class Subject:
    """What a page section reads: the object, its events (None: not asked for), the session for lookups."""

    session: Session
    obj: dict[str, Any]
    events: list[dict[str, Any]] | None

    @property
    def meta(self) -> dict[str, Any]:
        return self.obj.get("metadata") or {}

    @property
    def spec(self) -> dict[str, Any]:
        return self.obj.get("spec") or {}

    @property
    def status(self) -> dict[str, Any]:
        return self.obj.get("status") or {}


# One part of a describe page: a few lines written for the subject.
Section = Callable[[Page, Subject], None]


def rfc1123z(ts: str | None) -> str:
    """``Thu, 26 Nov 2026 11:49:00 +0000`` (Go's RFC1123Z), or ``<unknown>``."""
    if not ts:
        return "<unknown>"
    try:
        t = datetime.strptime(ts.replace("Z", "+0000")[:19] + "+0000", "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return ts
    return t.strftime("%a, %d %b %Y %H:%M:%S %z")


def human_age(ts: str | None, now: datetime | None = None) -> str:
    """kubectl's short age (``5m``, ``3h2m``): ``duration.HumanDuration`` of now - ts."""
    if not ts:
        return "<unknown>"
    from api.tables import human_duration, parse_time  # noqa: PLC0415

    t = parse_time(ts)
    if t is None:
        return "<unknown>"
    return human_duration(((now or datetime.now(UTC)) - t).total_seconds())


def labels_lines(page: Page, level: int, title: str, values: dict[str, str] | None, *, sep: str = "=",
                 skip: set[str] | None = None) -> None:
    """``Labels:  a=b`` with one key per continuation line (``Annotations`` use ``: ``)."""
    items = sorted((k, v) for k, v in (values or {}).items() if k not in (skip or set()))
    if not items:
        page.w(level, f"{title}:\t<none>\n")
        return
    for i, (k, v) in enumerate(items):
        page.w(level, f"{title + ':' if i == 0 else ''}\t{k}{sep}{v}\n")


def annotations_lines(page: Page, level: int, values: dict[str, str] | None) -> None:
    labels_lines(page, level, "Annotations", values, sep=": ", skip=SKIP_ANNOTATIONS)


def selector_text(selector: dict[str, Any] | None) -> str:
    """A LabelSelector as kubectl formats it (``app=web,tier in (a,b)``), ``<none>`` when empty."""
    if not selector:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op = expr.get("operator")
        values = ",".join(expr.get("values") or [])
        if op == "In":
            parts.append(f"{expr['key']} in ({values})")
        elif op == "NotIn":
            parts.append(f"{expr['key']} notin ({values})")
        elif op == "Exists":
            parts.append(expr["key"])
        elif op == "DoesNotExist":
            parts.append(f"!{expr['key']}")
    return ",".join(sorted(parts)) or "<none>"


def present_lines(page: Page, level: int, values: dict[str, Any], fields: tuple[tuple[str, str], ...]) -> None:
    """``Title:\tvalue`` for each ``(title, key)`` whose value is set, as kubectl skips empty optional fields."""
    for title, key in fields:
        if values.get(key):
            page.w(level, f"{title}:\t{values[key]}\n")


def map_selector_text(selector: dict[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((selector or {}).items())) or "<none>"


def events_section(page: Page, events: list[dict[str, Any]] | None) -> None:
    """The ``Events:`` table (or ``<none>``), oldest first as kubectl sorts them."""
    if not events:
        page.w(0, "Events:\t<none>\n")
        return
    page.w(0, "Events:\n")
    page.w(1, "Type\tReason\tAge\tFrom\tMessage\n")
    page.w(1, "----\t------\t----\t----\t-------\n")
    for e in sorted(events, key=_event_time):
        first = e.get("firstTimestamp") or e.get("eventTime")
        last = e.get("lastTimestamp") or (e.get("series") or {}).get("lastObservedTime") or first
        count = int(e.get("count") or (e.get("series") or {}).get("count") or 1)
        age = human_age(last) if count <= 1 else f"{human_age(last)} (x{count} over {human_age(first)})"
        source = e.get("source") or {}
        origin = e.get("reportingComponent") or source.get("component") or ""
        if source.get("host"):
            origin = f"{origin}, {source['host']}"
        message = str(e.get("message") or "").strip()
        page.w(1, f"{e.get('type', '')}\t{e.get('reason', '')}\t{age}\t{origin}\t{message}\n")


def _event_time(e: dict[str, Any]) -> str:
    return str(e.get("lastTimestamp") or e.get("eventTime") or e.get("firstTimestamp") or "")
