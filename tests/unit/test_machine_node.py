import pytest

from tinykube.machine_cmd import extra_args_by_component, parser
from tinykube.machine_node import JoinPlan, machine_steps, machine_topology, with_extra_args
from tinykube.supervisor import Component


def _topology():
    return machine_topology("tk", ["192.168.56.11", "192.168.56.12", "192.168.56.13"], 3)


def test_machines_reach_their_own_load_balancer_and_registry_on_loopback():
    topo = _topology()
    assert [(n.name, n.ip, n.control_plane) for n in topo.nodes] == [
        ("node1", "192.168.56.11", True), ("node2", "192.168.56.12", True), ("node3", "192.168.56.13", True)]
    assert topo.apiserver_url == "https://127.0.0.1:6443"
    assert topo.registry == "127.0.0.1:5000"
    assert topo.nodes[1].pod_cidr == "10.244.2.0/24"


def test_first_node_serves_the_certificates_after_making_them_others_fetch_them_first():
    topo = _topology()
    first, second = topo.nodes[0], topo.nodes[1]
    init = [s.name for s in machine_steps(JoinPlan(first, first, "t" * 16))]
    join = [s.name for s in machine_steps(JoinPlan(second, first, "t" * 16))]
    assert "network" not in init and "network" not in join
    assert init[init.index("certificates") + 1] == "join bundle"
    assert join[join.index("certificates") - 1] == "join bundle"
    assert init[-1] == join[-1] == "nodes ready"


def test_extra_args_end_the_command_lines_of_their_components_only():
    args = parser("join").parse_args([
        "--node-ips=192.168.56.11", "--extra-arg", "store:--heartbeat-interval=500",
        "--extra-arg=kubelet:--node-lease-duration-seconds=120", "--extra-arg", "store:--election-timeout=5000"])
    extra = extra_args_by_component(args.extra_args)
    store = with_extra_args(Component("node1", "store", ("tinykube", "store", "--name=node1")), extra)
    proxy = with_extra_args(Component("node1", "proxy", ("tinykube", "proxy")), extra)
    assert store.argv == ("tinykube", "store", "--name=node1", "--heartbeat-interval=500", "--election-timeout=5000")
    assert proxy.argv == ("tinykube", "proxy")


@pytest.mark.parametrize("bad", ["etcd:--heartbeat-interval=500", "store--x", "store:heartbeat-interval=5"])
def test_an_extra_arg_for_no_component_or_without_a_flag_is_refused(bad, capsys):
    with pytest.raises(SystemExit):
        parser("init").parse_args(["--node-ips=192.168.56.11", "--extra-arg", bad])
    assert "COMPONENT:--FLAG" in capsys.readouterr().err
