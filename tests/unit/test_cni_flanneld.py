import json
import subprocess
import sys
from pathlib import Path

from cni.flanneld import ANNOTATION, conflist, peers, pod_gateway, write_conflist
from cni.ipam import HostLocal
from cni.plugin_install import install_plugin
from cni.spec import SUPPORTED_VERSIONS
from cni.vxlan import Peer


def node(name, cidr=None, ip=None, mac=None):
    annotations = {}
    if ip:
        annotations[ANNOTATION + "public-ip"] = ip
    if mac:
        annotations[ANNOTATION + "backend-data"] = json.dumps({"VNI": 1, "VtepMAC": mac})
    return {"metadata": {"name": name, "annotations": annotations}, "spec": {"podCIDR": cidr} if cidr else {}}


def test_peers_are_the_other_published_nodes():
    nodes = [node("node1", "10.244.1.0/24", "172.28.1.11", "aa:00:00:00:00:01"),
             node("node2", "10.244.2.0/24", "172.28.1.12", "aa:00:00:00:00:02"),
             node("node3", "10.244.3.0/24"),  # no overlay endpoint published yet
             node("node4", None, "172.28.1.14")]  # no subnet yet
    assert peers(nodes, "node1") == [Peer("10.244.2.0/24", "aa:00:00:00:00:02", "172.28.1.12")]


def test_host_gw_peers_need_no_mac():
    assert peers([node("node2", "10.244.2.0/24", "172.28.1.12")], "node1") == [
        Peer("10.244.2.0/24", "", "172.28.1.12")]


def test_conflist_chains_our_plugin_with_portmap(tmp_path):
    doc = conflist("10.244.2.0/24", 1450, tmp_path / "ipam")
    write_conflist(tmp_path / "net.d", doc)
    written = json.loads((tmp_path / "net.d" / "10-tinykube.conflist").read_text())
    assert [p["type"] for p in written["plugins"]] == ["tinykube-cni", "portmap"]
    assert written["plugins"][0]["mtu"] == 1450 and written["plugins"][0]["ipam"]["subnet"] == "10.244.2.0/24"


def test_plugin_launcher_is_installed_idempotently_and_answers_version(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "tinykube-cni").symlink_to(Path(sys.executable).parent / "tinykube-cni")  # older installs
    install_plugin(tmp_path / "bin")
    launcher = tmp_path / "bin" / "tinykube-cni"
    first = launcher.stat()
    install_plugin(tmp_path / "bin")
    assert not launcher.is_symlink() and launcher.stat().st_ino == first.st_ino  # unchanged: not rewritten
    assert launcher.read_text().startswith(f"#!{sys.executable} -IS\n")
    out = subprocess.run([str(launcher)], input=b"{}", env={"CNI_COMMAND": "VERSION"}, capture_output=True,
                         check=True, timeout=30)
    assert json.loads(out.stdout)["supportedVersions"] == list(SUPPORTED_VERSIONS)


def test_the_bridge_made_at_start_carries_the_gateway_the_plugin_hands_to_pods(tmp_path):
    cidr = "10.244.3.0/24"
    assert pod_gateway(cidr).ip == HostLocal("tinykube", cidr, data_dir=str(tmp_path)).gateway
    assert str(pod_gateway(cidr)) == "10.244.3.1/24"

