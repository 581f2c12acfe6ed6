"""The netns fixture makes real namespaces and leaves none behind."""

from tests.support.netns import NETNS_DIR, delete_netns, netns_exec


def test_netns_is_real_and_isolated(netns, prefix):
    name = netns("a")
    assert name == f"{prefix}-a"
    links = netns_exec(name, "ip", "-o", "link")
    assert links.returncode == 0
    assert [line.split(":")[1].strip() for line in links.stdout.splitlines()] == ["lo"]


def test_delete_is_idempotent(netns):
    name = netns("b")
    delete_netns(name)
    delete_netns(name)
    assert not (NETNS_DIR / name).exists()
