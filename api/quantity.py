"""Resource quantities (`100m`, `1Gi`, `1e3`): exact parsing, Kubernetes' canonical form, comparison.

Values are exact rationals, so `1.5Gi == 1536Mi` holds and canonicalization never rounds except
where Kubernetes does (to nano precision, rounding away from zero).
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache, total_ordering
from typing import Final

REGEX_TEXT: Final = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
PARSE_ERROR: Final = f"quantities must match the regular expression '{REGEX_TEXT}'"

_NUMBER = re.compile(r"([+-]?)(\d+\.?\d*|\.\d+)(.*)\Z")
_BINARY: Final = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL: Final = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX: Final = {exp: suffix for suffix, exp in _DECIMAL.items()}
_BINARY_SUFFIX: Final = {exp: suffix for suffix, exp in _BINARY.items()}
_EXPONENT = re.compile(r"[eE]([+-]?\d+)\Z")

BINARY_SI: Final = "BinarySI"
DECIMAL_SI: Final = "DecimalSI"
DECIMAL_EXPONENT: Final = "DecimalExponent"

_NANO: Final = Fraction(1, 10**9)


class QuantityError(ValueError):
    """The text is not a quantity; the message is Kubernetes' own."""

    def __init__(self) -> None:
        super().__init__(PARSE_ERROR)


def _ceil_to_nano(value: Fraction) -> Fraction:
    """Kubernetes keeps at most nano precision and rounds the rest away from zero."""
    scaled = value / _NANO
    if scaled.denominator == 1:
        return value
    magnitude = -(-abs(scaled.numerator) // scaled.denominator)
    return Fraction(magnitude if value > 0 else -magnitude) * _NANO


@total_ordering
class Quantity:
    """An exact quantity plus the suffix family it was written in (which canonical output keeps)."""

    __slots__ = ("format", "value")

    def __init__(self, value: Fraction | int, fmt: str = DECIMAL_SI) -> None:
        self.value = _ceil_to_nano(Fraction(value))
        self.format = fmt

    @classmethod
    def parse(cls, text: str) -> Quantity:
        """Parse a quantity; results are shared through a cache, so treat them as immutable."""
        return _parse_cached(text)

    @classmethod
    def _parse(cls, text: str) -> Quantity:
        m = _NUMBER.match(text)
        if not m or not text:
            raise QuantityError
        sign, digits, suffix = m.groups()
        number = Fraction(digits)
        if suffix in _BINARY:
            value, fmt = number * 2 ** _BINARY[suffix], BINARY_SI
        elif suffix in _DECIMAL:
            value, fmt = number * Fraction(10) ** _DECIMAL[suffix], DECIMAL_SI
        elif e := _EXPONENT.match(suffix):
            value, fmt = number * Fraction(10) ** int(e.group(1)), DECIMAL_EXPONENT
        else:
            raise QuantityError
        return cls(-value if sign == "-" else value, fmt)

    def canonical(self) -> str:
        """The string the apiserver stores and returns (`0.5` → `500m`, `2048Ki` → `2Mi`)."""
        value = self.value
        if value == 0:
            return "0"
        sign = "-" if value < 0 else ""
        magnitude = abs(value)
        fmt = self.format
        if fmt == BINARY_SI and (magnitude < 1024 or magnitude.denominator != 1):
            fmt = DECIMAL_SI
        if fmt == BINARY_SI:
            exp = 0
            number = magnitude.numerator
            while exp < 60 and number % 1024 == 0:
                number //= 1024
                exp += 10
            return f"{sign}{number}{_BINARY_SUFFIX.get(exp, '')}"
        exp = -9
        mantissa = magnitude * 10**9
        while mantissa.denominator == 1 and mantissa.numerator % 1000 == 0 and (fmt == DECIMAL_EXPONENT or exp < 18):
            mantissa /= 1000
            exp += 3
        number = mantissa.numerator
        if fmt == DECIMAL_EXPONENT:
            return f"{sign}{number}" + (f"e{exp}" if exp else "")
        return f"{sign}{number}{_DECIMAL_SUFFIX[exp]}"

    def __str__(self) -> str:
        return self.canonical()

    def __repr__(self) -> str:
        return f"Quantity({self.canonical()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Quantity) and self.value == other.value

    def __lt__(self, other: Quantity) -> bool:
        return self.value < other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.value + other.value, self.format)

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity(self.value - other.value, self.format)

    def milli_value(self) -> int:
        """The value in thousandths, rounded up (how CPU is handed to cgroups)."""
        milli = self.value * 1000
        return -(-milli.numerator // milli.denominator)

    def int_value(self) -> int:
        """The value rounded up to a whole unit (bytes for memory)."""
        return -(-self.value.numerator // self.value.denominator)


@lru_cache(maxsize=8192)
def _parse_cached(text: str) -> Quantity:
    return Quantity._parse(text)


@lru_cache(maxsize=8192)
def canonicalize(text: str) -> str:
    """Canonical form of a quantity string; raises QuantityError for invalid input."""
    return Quantity.parse(text).canonical()


def is_quantity(text: str) -> bool:
    """Whether the text parses as a quantity."""
    try:
        Quantity.parse(text)
    except QuantityError:
        return False
    return True
