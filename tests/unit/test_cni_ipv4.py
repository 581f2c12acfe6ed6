import ipaddress

import pytest

from cni.ipv4 import Address, Interface, Network


@pytest.mark.parametrize("text", ["10.244.1.7", "0.0.0.0", "255.255.255.255", "192.168.0.1"])
def test_addresses_round_trip_and_agree_with_ipaddress(text):
    assert str(Address(text)) == text
    assert int(Address(text)) == int(ipaddress.IPv4Address(text))


@pytest.mark.parametrize("text", ["10.244.1", "10.244.1.256", "10.244.01.1", "a.b.c.d", "", "10.244.1.1.1",
                                  "\u0661.2.3.4", "-1.2.3.4"])
def test_malformed_addresses_are_refused(text):
    with pytest.raises(ValueError):
        Address(text)


def test_address_arithmetic_order_and_bounds():
    a = Address("10.244.1.254")
    assert str(a + 1) == "10.244.1.255" and str(a - 254) == "10.244.1.0"
    assert Address("10.0.0.2") < Address("10.0.0.10") <= Address("10.0.0.10")
    assert len({Address("10.0.0.1"), Address("10.0.0.1")}) == 1
    with pytest.raises(ValueError):
        Address("255.255.255.255") + 1


def test_networks_bound_their_hosts_and_refuse_host_bits():
    net = Network("10.244.3.0/24")
    assert str(net.network_address) == "10.244.3.0" and str(net.broadcast_address) == "10.244.3.255"
    assert Address("10.244.3.9") in net and Address("10.244.4.1") not in net
    assert Address("8.8.8.8") in Network("0.0.0.0/0")
    assert str(Network("10.0.0.5")) == "10.0.0.5/32"
    for bad in ("10.244.3.1/24", "10.244.3.0/33", "10.244.3.0/x"):
        with pytest.raises(ValueError):
            Network(bad)


def test_interfaces_keep_host_bits_and_prefix():
    iface = Interface("10.244.3.2/24")
    assert str(iface) == "10.244.3.2/24" and str(iface.ip) == "10.244.3.2" and iface.prefixlen == 24
    assert iface == Interface("10.244.3.2/24") != Interface("10.244.3.2/25")
