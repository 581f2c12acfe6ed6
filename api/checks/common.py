"""Helpers shared by the kind checks: uniqueness, quantities, percentages, IPs, selectors vs templates."""

from __future__ import annotations

import ipaddress
import re
from typing import Final

from api import errors, labels
from api.errors import Cause
from api.quantity import Quantity, QuantityError
from api.schema import JSON
from api.structure import join

CORE: Final = "io.k8s.api.core.v1."
APPS: Final = "io.k8s.api.apps.v1."
BATCH: Final = "io.k8s.api.batch.v1."
META: Final = "io.k8s.apimachinery.pkg.apis.meta.v1."

_PERCENT = re.compile(r"[0-9]+%\Z")
PERCENT_ERROR: Final = (
    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', "
    "regex used for validation is '[0-9]+%')"
)
IP_ERROR: Final = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
CIDR_ERROR: Final = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
NON_NEGATIVE: Final = "must be greater than or equal to 0"


def names_unique(items: list[JSON], path: str, out: list[Cause], seen: set[str] | None = None) -> set[str]:
    """Report repeated `name`s in a list; returns the names seen (so several lists can share a namespace)."""
    known = seen if seen is not None else set()
    for i, item in enumerate(items):
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str):
            if name in known:
                out.append(errors.duplicate(f"{path}[{i}].name", name))
            known.add(name)
    return known


def quantity(value: JSON) -> Quantity | None:
    """The parsed quantity, or None when the text is not one (decoding reports that separately)."""
    try:
        return Quantity.parse(str(value))
    except QuantityError:
        return None


def non_negative(obj: JSON, path: str, *keys: str) -> list[Cause]:
    """`must be greater than or equal to 0` for each named integer field that is negative."""
    out = []
    for key in keys:
        value = obj.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            out.append(errors.invalid(join(path, key), value, NON_NEGATIVE))
    return out


def int_or_percent(value: JSON, path: str) -> list[Cause]:
    """maxSurge/maxUnavailable/minAvailable: a non-negative integer or a percentage string."""
    if isinstance(value, str):
        if not _PERCENT.match(value):
            return [errors.invalid(path, value, PERCENT_ERROR)]
        if int(value[:-1]) > 100 and "Unavailable" in path:
            return [errors.invalid(path, value, "must not be greater than 100%")]
        return []
    if isinstance(value, int) and value < 0:
        return [errors.invalid(path, value, NON_NEGATIVE)]
    return []


def is_zero_int_or_percent(value: JSON) -> bool:
    """Whether an int-or-percent value means zero."""
    return value in (0, "0%")


def ip_address(value: str) -> bool:
    """Whether the text is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def cidr(value: str) -> bool:
    """Whether the text is an IPv4 or IPv6 CIDR (with a prefix length)."""
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return "/" in value


def selector_matches_template(obj: dict[str, JSON], path: str, selector: JSON) -> list[Cause]:
    """Workload selectors must be non-empty and select their own pod template."""
    if selector is None:
        return [errors.required(join(path, "selector"))]
    if isinstance(selector, dict) and not selector.get("matchLabels") and not selector.get("matchExpressions"):
        return [errors.invalid(join(path, "selector"), selector, "empty selector is invalid for deployment")]
    try:
        sel = labels.from_label_selector(selector)
    except labels.SelectorError as err:
        return [errors.invalid(join(path, "selector"), selector, str(err))]
    tlabels = ((obj.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not sel.matches(tlabels):
        return [
            errors.invalid(
                join(path, "template.metadata.labels"), tlabels, "`selector` does not match template `labels`"
            )
        ]
    return []


def template_restart_policy(obj: dict[str, JSON], path: str, allowed: tuple[str, ...]) -> list[Cause]:
    """Workload templates may only use the restart policies their controller can honour."""
    policy = (((obj.get("template") or {}).get("spec")) or {}).get("restartPolicy", "Always")
    if "template" in obj and policy not in allowed:
        return [errors.not_supported(join(path, "template.spec.restartPolicy"), policy, allowed)]
    return []
