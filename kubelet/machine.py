"""Measuring the node: memory, CPUs, disk, identities and versions, read from /proc, /etc and statvfs."""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path

from kubelet.cpuset import parse_cpus
from kubelet.nodestatus import Machine, parse_meminfo

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def os_image() -> str:
    """PRETTY_NAME from /etc/os-release (nodeInfo.osImage)."""
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return "Linux"


def measure(root_dir: Path, runtime_version: str, kubelet_version: str) -> Machine:
    """What the Node's capacity and nodeInfo report (disk is the filesystem holding ``root_dir``)."""
    root_dir.mkdir(parents=True, exist_ok=True)
    fs = os.statvfs(root_dir)
    return Machine(cpus=os.cpu_count() or 1,
                   memory_bytes=parse_meminfo(_read("/proc/meminfo")).get("MemTotal", 0),
                   disk_bytes=fs.f_blocks * fs.f_frsize,
                   machine_id=_read("/etc/machine-id"),
                   boot_id=_read("/proc/sys/kernel/random/boot_id"),
                   kernel_version=platform.release(),
                   os_image=os_image(),
                   architecture=_ARCH.get(platform.machine(), platform.machine()),
                   runtime_version=runtime_version,
                   kubelet_version=kubelet_version)


def online_cpus() -> frozenset[int]:
    """The CPUs the kernel has online (what the CPU manager divides), else 0..cpu_count-1."""
    return parse_cpus(_read("/sys/devices/system/cpu/online")) or frozenset(range(os.cpu_count() or 1))


def default_node_ip() -> str:
    """The address the default route would use (no packet is sent), else loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"
