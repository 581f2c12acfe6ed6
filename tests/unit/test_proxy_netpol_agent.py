from proxy.netpol_agent import pods_from


def pod(ip: str, phase: str = "Running", host_network: bool = False) -> dict[str, object]:
    return {"metadata": {"namespace": "x", "name": "a", "labels": {"app": "a"}},
            "spec": {"nodeName": "node1", "hostNetwork": host_network,
                     "containers": [{"ports": [{"name": "http", "containerPort": 80}]}]},
            "status": {"podIP": ip, "phase": phase}}


def test_netpol_agent_takes_running_pod_network_pods_with_named_ports():
    [p] = pods_from([pod("10.244.1.5"), pod("10.244.1.6", host_network=True), pod("10.244.1.7", "Succeeded")])
    assert (p.ip, p.node, dict(p.named_ports)) == ("10.244.1.5", "node1", {"http": (80, "TCP")})
