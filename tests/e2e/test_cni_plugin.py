"""tinykube-cni run as a runtime runs it: in a node namespace, for pod namespaces, then chained with portmap;
alone, through the node's plugin server, and through its client with no server to forward to."""

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cni.plugin_install import install_plugin
from tests.support.kubelet_node import plugin_server_argv
from tests.support.netns import netns_exec
from tests.support.processes import Processes

PLUGIN = str(Path(sys.executable).parent / "tinykube-cni")
REFERENCE_BIN = "/usr/lib/cni"


def call(node: str, command: str, pod_netns: str, container_id: str, config: dict[str, object], plugin: str = PLUGIN
         ) -> subprocess.CompletedProcess[str]:
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": container_id, "CNI_NETNS": pod_netns, "CNI_IFNAME": "eth0",
           "CNI_PATH": REFERENCE_BIN, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    return subprocess.run(["nsenter", f"--net=/run/netns/{node}", "env", *(f"{k}={v}" for k, v in env.items()),
                           plugin], input=json.dumps(config), capture_output=True, text=True)


@pytest.fixture
def setup(netns, tmp_path):
    node = netns("node")
    pods = [netns(f"pod{i}") for i in range(2)]
    config = {"cniVersion": "1.0.0", "name": "tknet", "type": "tinykube-cni", "bridge": "cni0", "mtu": 1450,
              "isGateway": True, "hairpinMode": True,
              "ipam": {"subnet": "10.244.5.0/24", "dataDir": str(tmp_path / "ipam")}}
    return node, pods, config


@pytest.fixture(params=["python", "served", "client-alone"])
def plugin(request, setup, tmp_path) -> Iterator[str]:
    """The plugin as it is installed: the Python executable, the C client with the node's plugin server
    listening, or the client whose server is not running (it runs the Python plugin itself)."""
    if request.param == "python":
        yield PLUGIN
        return
    socket = tmp_path / "p.sock"
    install_plugin(tmp_path / "bin", str(socket))
    client = tmp_path / "bin" / "tinykube-cni"
    assert client.read_bytes()[:4] == b"\x7fELF"
    if request.param == "client-alone":
        yield str(client)
        return
    (tmp_path / "bin" / "tinykube-cni-python").unlink()  # so only the server can have answered
    processes = Processes(tmp_path / "logs")
    server = processes.start("server", plugin_server_argv(setup[0], socket))
    try:
        deadline = time.monotonic() + 30
        while not socket.exists():
            assert server.poll() is None and time.monotonic() < deadline, processes.log("server")
            time.sleep(0.05)
        yield str(client)
    finally:
        processes.stop_all()
    assert not socket.exists()  # removed by the server on its way out


def ping(netns: str, target: str) -> bool:
    return netns_exec(netns, "/bin/busybox", "ping", "-c", "1", "-W", "2", target).returncode == 0


def test_add_connects_pods_through_the_bridge_and_del_undoes_it(setup, plugin, tmp_path):
    node, pods, config = setup
    results = []
    for i, pod in enumerate(pods):
        out = call(node, "ADD", f"/run/netns/{pod}", f"ctr{i}", config, plugin)
        assert out.returncode == 0, out.stdout + out.stderr
        results.append(json.loads(out.stdout))
    assert [r["ips"][0]["address"] for r in results] == ["10.244.5.2/24", "10.244.5.3/24"]
    assert results[0]["interfaces"][2]["sandbox"] == f"/run/netns/{pods[0]}"
    assert ping(pods[0], "10.244.5.3")
    assert ping(pods[0], "10.244.5.1")
    link = netns_exec(pods[0], "ip", "-o", "link", "show", "eth0").stdout
    assert "mtu 1450" in link
    assert "default via 10.244.5.1" in netns_exec(pods[0], "ip", "route").stdout
    hairpin = netns_exec(node, "bridge", "-d", "link", "show", "dev", results[0]["interfaces"][1]["name"]).stdout
    assert "hairpin on" in hairpin

    check = call(node, "CHECK", f"/run/netns/{pods[0]}", "ctr0", {**config, "prevResult": results[0]}, plugin)
    assert check.returncode == 0, check.stdout

    for _ in range(2):  # DEL is idempotent
        gone = call(node, "DEL", f"/run/netns/{pods[0]}", "ctr0", config, plugin)
        assert gone.returncode == 0, gone.stdout
    assert "eth0" not in netns_exec(pods[0], "ip", "-o", "link").stdout
    assert not (tmp_path / "ipam" / "tknet" / "10.244.5.2").exists()
    assert call(node, "DEL", "", "never-added", config, plugin).returncode == 0

    failed = call(node, "CHECK", f"/run/netns/{pods[0]}", "ctr0", {**config, "prevResult": results[0]}, plugin)
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["code"] == 5


def test_add_to_a_missing_netns_fails_cleanly_and_frees_its_address(setup, plugin, tmp_path):
    node, _, config = setup
    out = call(node, "ADD", "/run/netns/does-not-exist-tk", "ctrX", config, plugin)
    assert out.returncode == 1
    assert json.loads(out.stdout)["code"] == 3
    assert not any(p.name.startswith("10.") for p in (tmp_path / "ipam" / "tknet").iterdir())


def test_chains_with_the_reference_portmap_plugin(setup):
    node, pods, config = setup
    add = call(node, "ADD", f"/run/netns/{pods[0]}", "ctrP", config)
    assert add.returncode == 0, add.stdout
    portmap = {"cniVersion": "1.0.0", "name": "tknet", "type": "portmap", "capabilities": {"portMappings": True},
               "runtimeConfig": {"portMappings": [{"hostPort": 18080, "containerPort": 80, "protocol": "tcp"}]},
               "prevResult": json.loads(add.stdout)}
    chained = call(node, "ADD", f"/run/netns/{pods[0]}", "ctrP", portmap, plugin=f"{REFERENCE_BIN}/portmap")
    assert chained.returncode == 0, chained.stdout + chained.stderr
    assert json.loads(chained.stdout)["ips"][0]["address"] == "10.244.5.2/24"
    rules = netns_exec(node, "iptables-save", "-t", "nat").stdout
    assert "18080" in rules
    unmapped = call(node, "DEL", f"/run/netns/{pods[0]}", "ctrP", portmap, plugin=f"{REFERENCE_BIN}/portmap")
    assert unmapped.returncode == 0
    assert "18080" not in netns_exec(node, "iptables-save", "-t", "nat").stdout
    assert call(node, "DEL", f"/run/netns/{pods[0]}", "ctrP", config).returncode == 0
