"""host-local IPAM: addresses from one subnet, leases as files on disk, never handed out twice.

The on-disk layout is the reference host-local plugin's (one file per leased IP holding the
container id and interface, ``last_reserved_ip.0`` for round-robin), so the two can be swapped.
Every allocation holds an exclusive lock on the network's directory, so concurrent ADDs for many
pods never race.
"""

from __future__ import annotations

import fcntl
import os

from cni.ipv4 import Address, Interface, Network
from cni.spec import INVALID_CONFIG, IO_FAILURE, CniError

TYPE_CHECKING = False  # typing's (and dataclasses', pathlib's) imports cost every plugin call
if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import TracebackType

DEFAULT_DATA_DIR = "/var/lib/cni/networks"
LAST_RESERVED = "last_reserved_ip.0"


class Lease:
    """An address leased to one container's interface, with the subnet's gateway."""

    __slots__ = ("address", "gateway")

    def __init__(self, address: Interface, gateway: Address) -> None:
        self.address, self.gateway = address, gateway

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Lease) and (self.address, self.gateway) == (other.address, other.gateway)

    def __hash__(self) -> int:
        return hash((self.address, self.gateway))

    def __repr__(self) -> str:
        return f"Lease({self.address}, gateway {self.gateway})"


class _DirLock:
    """An exclusive lock on an IPAM directory (created if missing), held while the block runs."""

    __slots__ = ("dir", "fd")

    def __init__(self, directory: str) -> None:
        self.dir, self.fd = directory, -1

    def __enter__(self) -> None:
        try:
            os.makedirs(self.dir, exist_ok=True)
            self.fd = os.open(os.path.join(self.dir, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise CniError(IO_FAILURE, f"IPAM store {self.dir}: {exc.strerror}") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(self.fd)
            raise

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        os.close(self.fd)


class HostLocal:
    """Leases from ``subnet`` (skipping the network, gateway and broadcast addresses)."""

    def __init__(self, network: str, subnet: str, *, data_dir: str = DEFAULT_DATA_DIR, gateway: str | None = None,
                 range_start: str | None = None, range_end: str | None = None) -> None:
        try:
            self.subnet = Network(subnet)
            self.gateway = Address(gateway) if gateway else self.subnet.network_address + 1
            first_host = self.subnet.network_address + 1
            self.start = Address(range_start) if range_start else first_host
            self.end = Address(range_end) if range_end else self.subnet.broadcast_address - 1
        except ValueError as exc:
            raise CniError(INVALID_CONFIG, f"invalid IPAM range: {exc}") from None
        if self.gateway not in self.subnet or self.start not in self.subnet or self.end not in self.subnet:
            raise CniError(INVALID_CONFIG, f"gateway and range must lie inside {self.subnet}")
        self.dir = os.path.join(data_dir, network)

    def _locked(self) -> _DirLock:
        return _DirLock(self.dir)

    def _owner(self, container_id: str, ifname: str) -> str:
        return f"{container_id}\n{ifname}"

    def _leases(self) -> dict[str, str]:
        """Leased address (as its file is named) -> holder. Names are compared as text: parsing every
        lease's address on each ADD made allocation cost grow with the node's pod count."""
        out: dict[str, str] = {}
        with os.scandir(self.dir) as entries:
            for entry in entries:
                if entry.name.count(".") == 3 and entry.name.replace(".", "").isdigit():
                    with open(entry.path) as f:
                        out[entry.name] = f.read().strip()
        return out

    def _lease(self, address: str) -> Lease:
        return Lease(Interface(f"{address}/{self.subnet.prefixlen}"), self.gateway)

    def _candidates(self) -> Iterator[Address]:
        """Round-robin from just after the last reservation, wrapping once around the range."""
        try:
            with open(os.path.join(self.dir, LAST_RESERVED)) as f:
                last = Address(f.read().strip())
        except (OSError, ValueError):
            last = self.end
        size = int(self.end) - int(self.start) + 1
        offset = (int(last) - int(self.start) + 1) % size if self.start <= last <= self.end else 0
        for i in range(size):
            ip = Address(int(self.start) + (offset + i) % size)
            if ip != self.gateway:
                yield ip

    def allocate(self, container_id: str, ifname: str) -> Lease:
        """The container's lease: its existing one (an ADD retried), or the next free address."""
        owner = self._owner(container_id, ifname)
        with self._locked():
            leases = self._leases()
            for address, holder in leases.items():
                if holder == owner:
                    return self._lease(address)
            for ip in self._candidates():
                if str(ip) in leases:
                    continue
                try:
                    fd = os.open(os.path.join(self.dir, str(ip)), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                except FileExistsError:
                    continue
                with os.fdopen(fd, "w") as f:
                    f.write(owner)
                with open(os.path.join(self.dir, LAST_RESERVED), "w") as f:
                    f.write(str(ip))
                return self._lease(str(ip))
        raise CniError(IO_FAILURE, f"no IP addresses available in range {self.start}-{self.end} of {self.subnet}")

    def release(self, container_id: str, ifname: str) -> None:
        """Drop the container's lease; releasing what is not leased is not an error (DEL is idempotent)."""
        if not os.path.exists(self.dir):
            return
        owner = self._owner(container_id, ifname)
        with self._locked():
            for address, holder in self._leases().items():
                if holder == owner:
                    try:
                        os.unlink(os.path.join(self.dir, address))
                    except FileNotFoundError:
                        continue  # released meanwhile (DEL is idempotent)

    def leased(self, container_id: str, ifname: str) -> Address | None:
        if not os.path.exists(self.dir):
            return None
        owner = self._owner(container_id, ifname)
        with self._locked():
            return next((Address(a) for a, holder in self._leases().items() if holder == owner), None)
