"""Label selectors: the string grammar (`a=b,c in (x,y),!d`), LabelSelector objects, and matching."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from api import names
from api.schema import JSON

IN: Final = "in"
NOT_IN: Final = "notin"
EQUALS: Final = "="
DOUBLE_EQUALS: Final = "=="
NOT_EQUALS: Final = "!="
EXISTS: Final = "exists"
DOES_NOT_EXIST: Final = "!"
GT: Final = "gt"
LT: Final = "lt"


class SelectorError(ValueError):
    """A selector that cannot be parsed or names invalid keys/values (the apiserver answers 400)."""


@dataclass(frozen=True, slots=True)
class Requirement:
    """One clause of a selector; all clauses must hold."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether the labels satisfy the requirement."""
        present = self.key in labels
        if self.operator in (IN, EQUALS, DOUBLE_EQUALS):
            return present and labels[self.key] in self.values
        if self.operator in (NOT_IN, NOT_EQUALS):
            return not present or labels[self.key] not in self.values
        if self.operator == EXISTS:
            return present
        if self.operator == DOES_NOT_EXIST:
            return not present
        if not present:
            return False
        try:
            have, bound = int(labels[self.key]), int(self.values[0])
        except ValueError:
            return False
        return have > bound if self.operator == GT else have < bound

    def __str__(self) -> str:
        if self.operator == EXISTS:
            return self.key
        if self.operator == DOES_NOT_EXIST:
            return "!" + self.key
        if self.operator in (IN, NOT_IN):
            return f"{self.key} {self.operator} ({','.join(self.values)})"
        symbol = {GT: ">", LT: "<"}.get(self.operator, self.operator)
        return f"{self.key}{symbol}{self.values[0]}"


@dataclass(frozen=True, slots=True)
class Selector:
    """A conjunction of requirements. `nothing` is the selector of a nil LabelSelector: it matches no object."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether the labels satisfy every requirement (never, for the selector of a nil LabelSelector)."""
        if self.nothing:
            return False
        have = labels or {}
        return all(r.matches(have) for r in self.requirements)

    @property
    def empty(self) -> bool:
        """Whether the selector has no requirements (selects everything)."""
        return not self.requirements and not self.nothing

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


EVERYTHING: Final = Selector()
NOTHING: Final = Selector(nothing=True)

_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|>|<|[^\s!=(),<>]+)")


def _tokens(text: str) -> list[str]:
    out = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m:
            raise SelectorError(f"unable to parse requirement: unexpected character at {pos} in {text!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


def _check_key(key: str) -> None:
    errs = names.qualified_name(key)
    if errs:
        raise SelectorError(f"unable to parse requirement: key: Invalid value: {key!r}: {'; '.join(errs)}")


def _check_value(value: str) -> None:
    errs = names.label_value(value)
    if errs:
        raise SelectorError(f"unable to parse requirement: values[0]: Invalid value: {value!r}: {'; '.join(errs)}")


def parse(text: str) -> Selector:
    """Parse the string form sent in `labelSelector=`; an empty string selects everything."""
    toks = _tokens(text)
    reqs: list[Requirement] = []
    i = 0

    def take() -> str:
        nonlocal i
        if i >= len(toks):
            raise SelectorError(f"unable to parse requirement: unexpected end of selector {text!r}")
        i += 1
        return toks[i - 1]

    while i < len(toks):
        tok = take()
        if tok == "!":
            key = take()
            _check_key(key)
            reqs.append(Requirement(key, DOES_NOT_EXIST))
        else:
            key = tok
            _check_key(key)
            if i >= len(toks) or toks[i] == ",":
                reqs.append(Requirement(key, EXISTS))
            else:
                op = take()
                if op in (IN, NOT_IN):
                    if take() != "(":
                        raise SelectorError(f"unable to parse requirement: found {toks[i - 1]!r}, expected: '('")
                    values: list[str] = []
                    while True:
                        tok = take()
                        if tok == ")":
                            break
                        if tok == ",":
                            continue
                        _check_value(tok)
                        values.append(tok)
                    if not values:
                        raise SelectorError(
                            "unable to parse requirement: for 'in', 'notin' operators, values set can't be empty"
                        )
                    reqs.append(Requirement(key, op, tuple(sorted(set(values)))))
                elif op in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS, ">", "<"):
                    value = "" if i >= len(toks) or toks[i] == "," else take()
                    if op in (">", "<"):
                        if not value.lstrip("-").isdigit():
                            raise SelectorError(
                                f"unable to parse requirement: for 'Gt', 'Lt' operators, the value "
                                f"must be an integer: {value!r}"
                            )
                        reqs.append(Requirement(key, GT if op == ">" else LT, (value,)))
                    else:
                        _check_value(value)
                        reqs.append(Requirement(key, EQUALS if op == DOUBLE_EQUALS else op, (value,)))
                else:
                    raise SelectorError(
                        f"unable to parse requirement: found {op!r}, expected: in, notin, =, ==, !=, gt, lt"
                    )
        if i < len(toks):
            if toks[i] != ",":
                raise SelectorError(f"found {toks[i]!r}, expected: ',' or 'end of string'")
            i += 1
            if i >= len(toks):
                raise SelectorError(f"unable to parse requirement: unexpected end of selector {text!r}")
    return Selector(tuple(reqs))


_OPERATORS: Final = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def from_label_selector(selector: JSON) -> Selector:
    """A `LabelSelector` object (matchLabels/matchExpressions) as a Selector; None selects nothing."""
    if selector is None:
        return NOTHING
    reqs = [Requirement(k, EQUALS, (v,)) for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op = _OPERATORS.get(expr.get("operator", ""))
        if op is None:
            raise SelectorError(f"{expr.get('operator')!r} is not a valid label selector operator")
        values = tuple(expr.get("values") or ())
        if op in (IN, NOT_IN) and not values:
            raise SelectorError("for 'in', 'notin' operators, values set can't be empty")
        if op in (EXISTS, DOES_NOT_EXIST) and values:
            raise SelectorError("values set must be empty for exists and does not exist")
        reqs.append(Requirement(expr["key"], op, values))
    return Selector(tuple(reqs))


def matches(selector: JSON, labels: Mapping[str, str] | None) -> bool:
    """Whether a LabelSelector object selects an object with these labels."""
    return from_label_selector(selector).matches(labels)


def format_label_selector(selector: JSON) -> str:
    """The string form kubectl prints (`app=web,tier in (a,b)`); `<none>` for an empty selector."""
    text = str(from_label_selector(selector))
    return text or "<none>"
