"""Pod networking through the reference CNI plugins (bridge + host-local + portmap).

The daemon runs inside a test "node" namespace (as on a tinykube node), so the bridge, its
addresses and the portmap rules all live there; the root namespace is never touched.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cni.plugin_install import install_plugin
from protos.cri import api_pb2 as cri
from runtime.linux.cgroups import CgroupV1
from tests.e2e.runtime_support import (
    cri_stub,
    daemon_argv,
    force_cleanup,
    import_default_images,
    leaks,
    remove_all_pods,
    wait_for,
)
from tests.support.netns import delete_netns


def _subnet(prefix: str) -> str:
    return f"10.{200 + int(prefix[2:4], 16) % 50}.{int(prefix[4:6], 16)}"


def _main_plugin(kind: str, prefix: str, net: str, tmp_path: Path) -> dict[str, object]:
    """The reference bridge + host-local, or tinykube's own plugin (cni/), configured alike."""
    if kind == "reference":
        return {"type": "bridge", "bridge": f"{prefix}-br", "isGateway": True, "ipMasq": False, "hairpinMode": True,
                "ipam": {"type": "host-local", "ranges": [[{"subnet": f"{net}.0/24"}]],
                         "dataDir": str(tmp_path / "ipam")}}
    return {"type": "tinykube-cni", "bridge": f"{prefix}-br", "isGateway": True, "hairpinMode": True,
            "ipam": {"subnet": f"{net}.0/24", "gateway": f"{net}.1", "dataDir": str(tmp_path / "ipam")}}


@pytest.fixture
def node(request, tmp_path, prefix, processes, netns):
    """A node netns, a CNI config for it, and the runtime daemon started inside it."""
    kind = getattr(request, "param", "reference")
    node_ns = netns("node")
    subprocess.run(["ip", "-n", node_ns, "link", "set", "lo", "up"], check=True)
    conf_dir = tmp_path / "cni"
    conf_dir.mkdir()
    bin_dir = tmp_path / "cni-bin"
    install_plugin(bin_dir)  # tinykube's plugin, named by its type as the spec finds plugins, as flanneld installs it
    net = _subnet(prefix)
    (conf_dir / "10-test.conflist").write_text(json.dumps({
        "cniVersion": "1.0.0", "name": f"{prefix}-net", "plugins": [
            _main_plugin(kind, prefix, net, tmp_path),
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ]}))
    import_default_images(tmp_path / "root")
    argv = daemon_argv(tmp_path, prefix, conf_dir, netns=node_ns)
    argv += ["--cni-bin-dir", f"{bin_dir}:/usr/lib/cni"]
    state = {"proc": processes.start("runtime", argv)}

    def stub():
        return cri_stub(tmp_path)[1]

    def restart():
        state["proc"].kill()
        state["proc"].wait()
        state["proc"] = processes.start("runtime", argv)

    try:
        stub()
        yield {"ns": node_ns, "gateway": f"{net}.1", "stub": stub, "restart": restart}
    finally:
        try:
            remove_all_pods(stub())
            processes.stop_all()
            CgroupV1().remove(prefix, timeout=5)
            delete_netns(node_ns)  # the bridge and portmap rules go with it
        finally:
            left = leaks(prefix, tmp_path)
            force_cleanup(prefix, tmp_path)
        assert not left, f"leaked: {left}"


def _in_node(node, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nsenter", f"--net=/run/netns/{node['ns']}", *argv], capture_output=True, text=True,
                          timeout=30)


def _fetch(node, url: str) -> str:
    return _in_node(node, "timeout", "5", "/bin/busybox", "wget", "-qO-", url).stdout


def _ipam_ips(tmp_path, prefix) -> list[str]:
    d = tmp_path / "ipam" / f"{prefix}-net"
    return sorted(p.name for p in d.iterdir() if p.name[0].isdigit()) if d.is_dir() else []


@pytest.mark.parametrize("node", ["reference", "tinykube"], indirect=True)
def test_httpd_in_a_pod_is_reachable_by_pod_ip_and_host_port(node, tmp_path, prefix):
    stub = node["stub"]()
    config = cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name="web", namespace="default", uid="uid-web"), hostname="web",
        log_directory=str(tmp_path / "logs"),
        dns_config=cri.DNSConfig(servers=["10.96.0.10"], searches=["default.svc.cluster.local"], options=["ndots:5"]),
        port_mappings=[cri.PortMapping(protocol=cri.TCP, container_port=8080, host_port=18080)])
    pod = stub.RunPodSandbox(cri.RunPodSandboxRequest(config=config), timeout=60).pod_sandbox_id
    status = stub.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=pod), timeout=30).status
    ip = status.network.ip
    assert ip.startswith(_subnet(prefix) + ".")
    assert _ipam_ips(tmp_path, prefix) == [ip]
    ctr = cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name="httpd"), image=cri.ImageSpec(image="busybox"), log_path="httpd.log",
        command=["/bin/sh", "-c", "echo hello-from-pod > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"])
    cid = stub.CreateContainer(cri.CreateContainerRequest(pod_sandbox_id=pod, config=ctr, sandbox_config=config),
                               timeout=30).container_id
    stub.StartContainer(cri.StartContainerRequest(container_id=cid), timeout=30)

    wait_for(lambda: "hello-from-pod" in _fetch(node, f"http://{ip}:8080/"), 30, "httpd on the pod IP")
    assert "hello-from-pod" in _fetch(node, f"http://{node['gateway']}:18080/")

    inside = stub.ExecSync(cri.ExecSyncRequest(container_id=cid, cmd=["cat", "/etc/resolv.conf", "/etc/hostname",
                                                                       "/etc/hosts"], timeout=10), timeout=30)
    text = inside.stdout.decode()
    assert "nameserver 10.96.0.10" in text and "search default.svc.cluster.local" in text
    assert "options ndots:5" in text and f"{ip}\tweb" in text
    addr = stub.ExecSync(cri.ExecSyncRequest(container_id=cid, cmd=["ip", "-4", "addr", "show", "eth0"],
                                             timeout=10), timeout=30).stdout.decode()
    assert f"inet {ip}/24" in addr

    stub.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=pod), timeout=60)
    assert _ipam_ips(tmp_path, prefix) == []  # CNI DEL released the address
    assert f"{prefix}-" not in _in_node(node, "iptables-save").stdout.replace(f"{prefix}-br", "")
    stub.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)


def test_cni_del_runs_on_removal_after_a_crash(node, tmp_path, prefix):
    stub = node["stub"]()
    config = cri.PodSandboxConfig(metadata=cri.PodSandboxMetadata(name="crashy", namespace="default", uid="u-c"))
    pod = stub.RunPodSandbox(cri.RunPodSandboxRequest(config=config), timeout=60).pod_sandbox_id
    assert len(_ipam_ips(tmp_path, prefix)) == 1
    info = json.loads(stub.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=pod, verbose=True),
                                            timeout=30).info["info"])
    node["restart"]()  # the daemon dies with SIGKILL ...
    subprocess.run(["kill", "-9", str(info["pid"])], check=True)  # ... and so does the pod's holder
    stub = node["stub"]()
    wait_for(lambda: stub.ListPodSandbox(cri.ListPodSandboxRequest(), timeout=30).items[0].state
             == cri.SANDBOX_NOTREADY, 10, "the sandbox to be reported not ready")
    stub.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=pod), timeout=60)
    assert _ipam_ips(tmp_path, prefix) == []
    pod_netns = [n for n in _in_node(node, "ip", "netns", "list").stdout.split()
                 if n.startswith(prefix) and n != node["ns"]]
    assert pod_netns == []
