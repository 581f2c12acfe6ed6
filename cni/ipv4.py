"""IPv4 addresses, interfaces and networks as integers: the little of ``ipaddress`` the plugin needs.

The plugin runs once per pod start and stop, and its interpreter's start-up is most of its cost:
``ipaddress`` (with the ``functools`` and ``collections`` it pulls in) made up about a third of each call.
"""

from __future__ import annotations


def parse_address(text: str) -> int:
    """``a.b.c.d`` as an integer; ValueError for anything else (no leading zeros, as ``ipaddress``)."""
    parts = text.split(".")
    if len(parts) != 4:
        raise ValueError(f"{text!r} is not an IPv4 address")
    value = 0
    for part in parts:
        if not part.isdigit() or not part.isascii() or (len(part) > 1 and part[0] == "0") or int(part) > 255:
            raise ValueError(f"{text!r} is not an IPv4 address")
        value = value << 8 | int(part)
    return value


def format_address(value: int) -> str:
    return f"{value >> 24 & 255}.{value >> 16 & 255}.{value >> 8 & 255}.{value & 255}"


class _Value:
    """Equal, hashed and shown by what ``_key`` and ``str`` say."""

    __slots__ = ()

    def _key(self) -> tuple[int, ...]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{self}')"


class Address(_Value):
    """One IPv4 address; ordered, hashable, and offset by integers."""

    __slots__ = ("value",)

    def __init__(self, address: str | int) -> None:
        self.value = parse_address(address) if isinstance(address, str) else address
        if not 0 <= self.value < 1 << 32:
            raise ValueError(f"{address!r} is not an IPv4 address")

    def __int__(self) -> int:
        return self.value

    def __add__(self, offset: int) -> Address:
        return Address(self.value + offset)

    def __sub__(self, offset: int) -> Address:
        return Address(self.value - offset)

    def _key(self) -> tuple[int, ...]:
        return (self.value,)

    def __lt__(self, other: Address) -> bool:
        return self.value < other.value

    def __le__(self, other: Address) -> bool:
        return self.value <= other.value

    def __str__(self) -> str:
        return format_address(self.value)


def _split_prefix(text: str, default: int = 32) -> tuple[Address, int]:
    address, _, prefix = text.partition("/")
    if not prefix:
        return Address(address), default
    if not prefix.isdigit() or not prefix.isascii() or int(prefix) > 32:
        raise ValueError(f"{text!r} has no valid prefix length")
    return Address(address), int(prefix)


class Network(_Value):
    """A CIDR block ``a.b.c.d/n`` (its host bits must be zero, as ``ipaddress.IPv4Network`` insists)."""

    __slots__ = ("network_address", "prefixlen")

    def __init__(self, cidr: str) -> None:
        address, self.prefixlen = _split_prefix(cidr)
        if address.value & ~self._mask():
            raise ValueError(f"{cidr!r} has host bits set")
        self.network_address = address

    def _mask(self) -> int:
        return ((1 << 32) - 1) ^ ((1 << (32 - self.prefixlen)) - 1)

    @property
    def broadcast_address(self) -> Address:
        return Address(self.network_address.value | ((1 << (32 - self.prefixlen)) - 1))

    def __contains__(self, address: Address) -> bool:
        return address.value & self._mask() == self.network_address.value

    def _key(self) -> tuple[int, ...]:
        return self.network_address.value, self.prefixlen

    def __str__(self) -> str:
        return f"{self.network_address}/{self.prefixlen}"


class Interface(_Value):
    """An address with its prefix length, ``a.b.c.d/n`` (host bits allowed)."""

    __slots__ = ("ip", "prefixlen")

    def __init__(self, text: str) -> None:
        self.ip, self.prefixlen = _split_prefix(text)

    def _key(self) -> tuple[int, ...]:
        return self.ip.value, self.prefixlen

    def __str__(self) -> str:
        return f"{self.ip}/{self.prefixlen}"
