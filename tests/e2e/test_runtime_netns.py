"""Pod network namespaces made in-process (``runtime.linux.netns``) behave as ``ip netns add/delete`` ones do."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from runtime.linux import netns
from tests.support.cleanup import Cleanup

NETNS_DIR = Path("/run/netns")


def _pinned(path: Path) -> bool:
    """Whether ``path`` is a mount point (the namespace's bind mount) in our mount namespace."""
    return any(line.split()[4] == str(path) for line in Path("/proc/self/mountinfo").read_text().splitlines())


def _ip_json(name: str, *args: str) -> list[dict[str, object]]:
    out = subprocess.run(["ip", "-n", name, "-j", *args], check=True, capture_output=True, text=True).stdout
    result: list[dict[str, object]] = json.loads(out)
    return result


def test_create_pins_a_fresh_namespace_with_loopback_up_and_sysctls_set(prefix: str, cleanup: Cleanup) -> None:
    path = NETNS_DIR / f"{prefix}-pod"
    cleanup.add(lambda: netns.delete(str(path)))
    home = os.stat("/proc/thread-self/ns/net").st_ino
    netns.create(str(path), {"net.ipv4.ip_unprivileged_port_start": "80"})

    assert _pinned(path)
    assert os.stat(path).st_ino != home
    links = _ip_json(path.name, "link", "show")
    assert [link["ifname"] for link in links] == ["lo"]  # nothing of ours leaked in
    assert "UP" in links[0]["flags"]  # type: ignore[operator]
    inside = subprocess.run(["nsenter", f"--net={path}", "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"],
                            check=True, capture_output=True, text=True).stdout
    assert inside.strip() == "80"
    assert os.stat("/proc/thread-self/ns/net").st_ino == home  # the caller's thread never moved
    with pytest.raises(FileExistsError):
        netns.create(str(path))

    netns.delete(str(path))
    assert not path.exists()
    assert not _pinned(path)
    netns.delete(str(path))  # already gone: no error


def test_a_refused_sysctl_leaves_no_namespace_behind(prefix: str, cleanup: Cleanup) -> None:
    path = NETNS_DIR / f"{prefix}-bad"
    cleanup.add(lambda: netns.delete(str(path)))
    with pytest.raises(netns.SysctlError, match="only network-namespaced"):
        netns.create(str(path), {"kernel.panic": "1"})
    with pytest.raises(netns.SysctlError, match="no-such"):
        netns.create(str(path), {"net.ipv4.no-such-knob": "1"})
    assert not path.exists()
    assert not _pinned(path)
