"""Process capabilities: Docker's default set, CRI add/drop, bounding-set drop and capset(2).

Applied in the container's init after the rootfs is ready and before execve; the bounding set
is dropped first, so nothing the container execs (even setuid binaries) can regain a capability.
"""

from __future__ import annotations

import ctypes
import os

from runtime.linux import syscalls

CAPS = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE",
)
CAP_NUMBER = {name: i for i, name in enumerate(CAPS)}

DEFAULT_CAPS = (
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP", "SETPCAP",
    "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
)

_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _Header(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _Data(ctypes.Structure):
    _fields_ = (("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32))


def normalize(name: str) -> str:
    """CRI sends ``NET_ADMIN``, ``CAP_NET_ADMIN`` or ``ALL``; we keep the bare upper-case name."""
    upper = name.strip().upper()
    return upper[4:] if upper.startswith("CAP_") else upper


def last_cap() -> int:
    """The highest capability number this kernel knows."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(CAPS) - 1


def resolve(add: list[str], drop: list[str], privileged: bool = False) -> list[str]:
    """The capability set a container gets: Docker's defaults, then additions, then drops (``ALL`` allowed)."""
    known = list(CAPS[: last_cap() + 1])
    if privileged:
        return known
    adds = {normalize(c) for c in add}
    drops = {normalize(c) for c in drop}
    for cap in (adds | drops) - {"ALL"}:
        if cap not in CAP_NUMBER:
            raise ValueError(f"unknown capability {cap!r}")
    chosen = set(known) if "ALL" in adds else set(DEFAULT_CAPS) | adds
    chosen = set() if "ALL" in drops else chosen - drops
    return [c for c in known if c in chosen]


def mask(caps: list[str]) -> int:
    """Capability names as a bit mask."""
    bits = 0
    for cap in caps:
        bits |= 1 << CAP_NUMBER[cap]
    return bits


def drop_bounding(keep: list[str]) -> None:
    """Remove every capability not in ``keep`` from the bounding set (needs CAP_SETPCAP, i.e. before capset)."""
    wanted = set(keep)
    for number in range(last_cap() + 1):
        if CAPS[number] not in wanted:
            syscalls.prctl(syscalls.PR_CAPBSET_DROP, number)


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """capset(2) for the calling thread (version 3: 64-bit sets)."""
    header = _Header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    for i in range(2):
        data[i].effective = (effective >> (32 * i)) & 0xFFFFFFFF
        data[i].permitted = (permitted >> (32 * i)) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> (32 * i)) & 0xFFFFFFFF
    syscalls.syscall(syscalls.SYS_CAPSET, ctypes.byref(header), ctypes.byref(data), what="capset")


def raise_ambient(caps: list[str]) -> None:
    """Add capabilities to the ambient set (they survive execve for non-root users)."""
    for cap in caps:
        syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_RAISE, CAP_NUMBER[cap])


def apply(caps: list[str], uid: int, gid: int, groups: list[int], ambient: list[str] | None = None) -> None:
    """Drop the bounding set, switch to the container's user, then set the process's capability sets.

    The bounding set must go first (it needs CAP_SETPCAP). A non-root user keeps only the ambient
    capabilities asked for, as under Docker; root keeps the whole chosen set.
    """
    drop_bounding(caps)
    if uid != 0:
        syscalls.prctl(syscalls.PR_SET_KEEPCAPS, 1)
    os.setgroups(groups)
    os.setgid(gid)
    os.setuid(uid)
    bits = mask(caps)
    # Inheritable stays empty (CVE-2022-29162): exec'd file capabilities must not gain from it.
    if uid == 0:
        capset(bits, bits, 0)
        return
    amb = [c for c in ambient or [] if c in caps]
    capset(mask(amb), mask(amb), mask(amb))
    raise_ambient(amb)
