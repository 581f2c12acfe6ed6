"""LimitRanger: a namespace's LimitRanges default containers' requests and limits, then bound containers,
pods and claims by min, max and limit/request ratio (Kubernetes' messages, one 403 listing every violation)."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from api.quantity import BINARY_SI, DECIMAL_SI, Quantity, QuantityError
from api.schema import JSON
from apiserver.admission.lookup import LIMIT_RANGES, Lookup
from apiserver.admission.request import CREATE, Request

ANNOTATION = "kubernetes.io/limit-ranger"
CONTAINER_LISTS = ("initContainers", "containers")
Amounts = dict[str, Quantity]


def _amounts(values: JSON) -> Amounts:
    out: Amounts = {}
    for name, text in (values or {}).items():
        try:
            out[name] = Quantity.parse(str(text))
        except QuantityError:
            continue  # validation reports it with its field path
    return out


def _items(ranges: Iterable[dict[str, JSON]], kind: str) -> list[dict[str, JSON]]:
    return [i for lr in ranges for i in (lr.get("spec") or {}).get("limits") or [] if i.get("type") == kind]


def container_defaults(item: dict[str, JSON]) -> tuple[dict[str, JSON], dict[str, JSON]]:
    """The (requests, limits) a Container item fills in, after LimitRange defaulting: a missing default limit
    is the max, a missing default request the default limit, else the min."""
    limits = {**(item.get("max") or {}), **(item.get("default") or {})}
    requests = {**(item.get("min") or {}), **limits, **(item.get("defaultRequest") or {})}
    return requests, limits


def _fmt_ratio(value: Fraction) -> str:
    return f"{float(value):f}"


def check(kind: str, item: dict[str, JSON], requests: Amounts, limits: Amounts) -> list[str]:
    """Violations of one LimitRange item by one container, pod or claim (`kind` as the messages name it)."""
    errors: list[str] = []
    # One message per bound and resource, the first that applies (as Kubernetes' min/max constraints).
    for name, text in (item.get("min") or {}).items():
        bound = Quantity.parse(str(text))
        if name not in requests:
            errors.append(f"minimum {name} usage per {kind} is {bound}.  No request is specified")
        elif requests[name] < bound:
            errors.append(f"minimum {name} usage per {kind} is {bound}, but request is {requests[name]}")
        elif name in limits and limits[name] < bound:
            errors.append(f"minimum {name} usage per {kind} is {bound}, but limit is {limits[name]}")
    for name, text in (item.get("max") or {}).items():
        bound = Quantity.parse(str(text))
        if name not in limits:
            errors.append(f"maximum {name} usage per {kind} is {bound}.  No limit is specified")
        elif limits[name] > bound:
            errors.append(f"maximum {name} usage per {kind} is {bound}, but limit is {limits[name]}")
        elif name in requests and requests[name] > bound:
            errors.append(f"maximum {name} usage per {kind} is {bound}, but request is {requests[name]}")
    for name, text in (item.get("maxLimitRequestRatio") or {}).items():
        bound = Quantity.parse(str(text))
        prefix = f"{name} max limit to request ratio per {kind} is {bound}"
        if name not in requests or requests[name].value == 0:
            errors.append(f"{prefix}, but no request is specified or request is 0")
        elif name not in limits:
            errors.append(f"{prefix}, but no limit is specified")
        else:
            ratio = limits[name].value / requests[name].value
            if ratio > bound.value:
                errors.append(f"{prefix}, but provided ratio is {_fmt_ratio(ratio)}")
    return errors


def pod_totals(spec: dict[str, JSON], field: str) -> Amounts:
    """A pod's effective requests or limits: the sum over containers, or the largest init container if more."""
    total: dict[str, Fraction] = {}
    for c in spec.get("containers") or []:
        for name, q in _amounts((c.get("resources") or {}).get(field)).items():
            total[name] = total.get(name, Fraction(0)) + q.value
    for c in spec.get("initContainers") or []:
        for name, q in _amounts((c.get("resources") or {}).get(field)).items():
            total[name] = max(total.get(name, Fraction(0)), q.value)
    return {name: quantity(v, name) for name, v in total.items()}


def quantity(value: Fraction, resource: str) -> Quantity:
    """`value` in the notation Kubernetes prints for `resource` (binary for memory and storage)."""
    return Quantity(value, BINARY_SI if "memory" in resource or "storage" in resource else DECIMAL_SI)


def aggregate(errors: list[str]) -> str:
    """Kubernetes' aggregate error text: one message as it is, several in brackets."""
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


class LimitRanger:
    """Defaults and bounds from the namespace's LimitRanges."""

    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup

    async def _ranges(self, req: Request) -> list[dict[str, JSON]]:
        return await self.lookup.select(LIMIT_RANGES, req.namespace)

    async def mutate(self, req: Request) -> None:
        """Fill in a new pod's missing container requests and limits, noting what was set in an annotation."""
        if req.operation != CREATE or not req.is_kind("", "Pod") or req.obj is None:
            return
        items = _items(await self._ranges(req), "Container")
        if not items:
            return
        defaults_req: dict[str, JSON] = {}
        defaults_lim: dict[str, JSON] = {}
        for item in items:
            requests, limits = container_defaults(item)
            defaults_req.update(requests)
            defaults_lim.update(limits)
        spec = req.obj.setdefault("spec", {})
        notes: list[str] = []
        for field in CONTAINER_LISTS:
            for c in spec.get(field) or []:
                resources = c.setdefault("resources", {})
                limits_now = resources.setdefault("limits", {})
                requests_now = resources.setdefault("requests", {})
                for name, value in limits_now.items():
                    requests_now.setdefault(name, value)  # pod defaulting: a lone limit is also the request
                set_req = [n for n in defaults_req if n not in requests_now]
                set_lim = [n for n in defaults_lim if n not in limits_now]
                for n in set_req:
                    requests_now[n] = defaults_req[n]
                for n in set_lim:
                    limits_now[n] = defaults_lim[n]
                for key in ("limits", "requests"):
                    if not resources[key]:
                        del resources[key]
                if set_req:
                    notes.append(f"{', '.join(sorted(set_req))} request for {_label(field)} {c.get('name')}")
                if set_lim:
                    notes.append(f"{', '.join(sorted(set_lim))} limit for {_label(field)} {c.get('name')}")
        if notes:
            annotations = req.obj.setdefault("metadata", {}).setdefault("annotations", {})
            annotations[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)

    async def validate(self, req: Request) -> None:
        """Refuse a new pod or claim outside the namespace's bounds."""
        if req.operation != CREATE or req.obj is None or req.subresource:
            return
        if req.is_kind("", "Pod"):
            errors = await self._pod_errors(req, req.obj)
        elif req.is_kind("", "PersistentVolumeClaim"):
            resources = (req.obj.get("spec") or {}).get("resources") or {}
            requests, limits = _amounts(resources.get("requests")), _amounts(resources.get("limits"))
            errors = [
                e
                for item in _items(await self._ranges(req), "PersistentVolumeClaim")
                for e in check("PersistentVolumeClaim", item, requests, limits)
            ]
        else:
            return
        if errors:
            raise req.forbidden(aggregate(errors))

    async def _pod_errors(self, req: Request, pod: dict[str, JSON]) -> list[str]:
        ranges = await self._ranges(req)
        spec = pod.get("spec") or {}
        errors: list[str] = []
        for item in _items(ranges, "Container"):
            for field in CONTAINER_LISTS:
                for c in spec.get(field) or []:
                    resources = c.get("resources") or {}
                    errors += check(
                        "Container", item, _amounts(resources.get("requests")), _amounts(resources.get("limits"))
                    )
        for item in _items(ranges, "Pod"):
            errors += check("Pod", item, pod_totals(spec, "requests"), pod_totals(spec, "limits"))
        return errors


def _label(field: str) -> str:
    return "init container" if field == "initContainers" else "container"
