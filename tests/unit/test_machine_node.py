from tinykube.machine_node import JoinPlan, machine_steps, machine_topology


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
