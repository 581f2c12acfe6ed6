import pytest

from tinykube.topology import Topology, TopologyError, free_subnet, validate_name


def test_addresses_follow_the_architecture():
    topo = Topology.build("tinykube", subnet=3)
    assert [n.name for n in topo.nodes] == ["node1", "node2", "node3"]
    assert [n.netns for n in topo.nodes] == ["tinykube-node1", "tinykube-node2", "tinykube-node3"]
    assert [n.ip for n in topo.nodes] == ["172.28.3.11", "172.28.3.12", "172.28.3.13"]
    assert topo.gateway_ip == "172.28.3.1"
    assert topo.host_ip == "172.28.3.254"
    assert topo.apiserver_url == "https://172.28.3.1:6443"
    assert topo.registry == "172.28.3.1:5000"
    assert topo.nodes[1].pod_cidr == "10.244.2.0/24"
    assert topo.infra_netns == "tinykube-infra"


def test_control_plane_is_the_first_nodes():
    topo = Topology.build("c", subnet=1, node_count=5, control_plane_count=3)
    assert [n.name for n in topo.control_plane] == ["node1", "node2", "node3"]


@pytest.mark.parametrize(("nodes", "cp"), [(3, 2), (3, 4), (2, 0)])
def test_control_plane_must_be_an_odd_quorum(nodes, cp):
    with pytest.raises(TopologyError):
        Topology.build("c", subnet=1, node_count=nodes, control_plane_count=cp)


@pytest.mark.parametrize("name", ["", "Upper", "9lives", "x" * 13, "trailing-", "under_score"])
def test_names_that_cannot_make_interface_names_are_refused(name):
    with pytest.raises(TopologyError, match="invalid cluster name"):
        validate_name(name)


def test_round_trip_through_dict():
    topo = Topology.build("rt", subnet=9, node_count=4, control_plane_count=1)
    assert Topology.from_dict(topo.to_dict()) == topo


def test_unknown_node_names_the_nodes():
    with pytest.raises(TopologyError, match="nodes: node1, node2, node3"):
        Topology.build("c", subnet=1).node("node9")


def test_free_subnet_takes_the_lowest_gap():
    assert free_subnet(set()) == 1
    assert free_subnet({1, 2, 4}) == 3
    with pytest.raises(TopologyError):
        free_subnet(set(range(1, 255)))


def test_a_worker_takes_the_next_index_and_its_addresses():
    topo = Topology.build("c", subnet=7).with_worker("node4")
    node = topo.node("node4")
    assert (node.index, node.netns, node.ip, node.pod_cidr, node.control_plane) == (
        4, "c-node4", "172.28.7.14", "10.244.4.0/24", False)
    assert Topology.from_dict(topo.to_dict()) == topo


@pytest.mark.parametrize(("name", "error"), [("node2", "already has a node"), ("Node_5", "invalid node name"),
                                             ("n" * 11, "invalid node name")])
def test_an_added_worker_needs_a_new_valid_name(name, error):
    with pytest.raises(TopologyError, match=error):
        Topology.build("c", subnet=1).with_worker(name)


def test_only_workers_can_be_removed():
    topo = Topology.build("c", subnet=1).with_worker("node4").with_worker("node5")
    assert [n.name for n in topo.without_worker("node4").nodes] == ["node1", "node2", "node3", "node5"]
    assert topo.without_worker("node4").with_worker("node6").node("node6").index == 6
    with pytest.raises(TopologyError, match="control-plane node"):
        topo.without_worker("node1")
    with pytest.raises(TopologyError, match="has no node 'node9'"):
        topo.without_worker("node9")
