from concurrent.futures import ProcessPoolExecutor

import pytest

from cni.ipam import HostLocal
from cni.ipv4 import Address
from cni.spec import CniError


def test_leases_skip_gateway_and_are_stable_per_container(tmp_path):
    ipam = HostLocal("net", "10.244.1.0/24", data_dir=str(tmp_path))
    first = ipam.allocate("c1", "eth0")
    assert str(first.address) == "10.244.1.2/24"
    assert str(first.gateway) == "10.244.1.1"
    assert ipam.allocate("c1", "eth0") == first  # a retried ADD gets the same address
    assert ipam.allocate("c2", "eth0").address.ip == Address("10.244.1.3")
    assert ipam.leased("c1", "eth0") == first.address.ip


def test_release_is_idempotent_and_addresses_are_reused_round_robin(tmp_path):
    ipam = HostLocal("net", "10.244.1.0/29", data_dir=str(tmp_path))  # hosts .1-.6, gateway .1
    got = [ipam.allocate(f"c{i}", "eth0").address.ip for i in range(5)]
    assert [str(ip) for ip in got] == [f"10.244.1.{i}" for i in range(2, 7)]
    with pytest.raises(CniError, match="no IP addresses available"):
        ipam.allocate("c9", "eth0")
    ipam.release("c0", "eth0")
    ipam.release("c0", "eth0")
    assert str(ipam.allocate("c9", "eth0").address.ip) == "10.244.1.2"


def _grab(args: tuple[str, int]) -> str:
    data_dir, i = args
    return str(HostLocal("net", "10.244.7.0/24", data_dir=data_dir).allocate(f"pod{i}", "eth0").address.ip)


def test_concurrent_allocations_in_separate_processes_never_collide(tmp_path):
    with ProcessPoolExecutor(max_workers=8) as pool:
        ips = list(pool.map(_grab, [(str(tmp_path), i) for i in range(60)]))
    assert len(set(ips)) == 60


def test_range_must_lie_in_the_subnet(tmp_path):
    with pytest.raises(CniError, match="inside"):
        HostLocal("net", "10.244.1.0/24", data_dir=str(tmp_path), range_start="10.9.9.9")
