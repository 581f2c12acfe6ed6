"""CRI requests built from pods: sandbox config (DNS, namespaces, ports, cgroups), container config, /etc/hosts."""

from __future__ import annotations

from typing import Any

from kubelet.cgroups_plan import CgroupResources
from kubelet.cri_config import (
    CONTAINER_HASH,
    POD_UID,
    ContainerInputs,
    DNSSettings,
    container_config,
    dns_config,
    etc_hosts,
    sandbox_config,
)
from kubelet.volumes.manager import Mount
from protos.cri import api_pb2 as cri

DNS = DNSSettings(("10.96.0.10",), "cluster.local")


def pod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "shop", "uid": "u1", "labels": {"app": "web"},
                         "annotations": {"note": "x"}},
            "spec": {"containers": [{"name": "c", "image": "busybox",
                                     "ports": [{"containerPort": 80, "hostPort": 8080}]}], **spec}}


def test_dns_policies() -> None:
    cfg = dns_config(pod(), DNS)
    assert cfg is not None and list(cfg.servers) == ["10.96.0.10"]
    assert list(cfg.searches) == ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local"]
    assert list(cfg.options) == ["ndots:5"]
    assert dns_config(pod(hostNetwork=True), DNS) is None  # ClusterFirst + hostNetwork behaves as Default
    host_net = dns_config(pod(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet"), DNS)
    assert host_net is not None and list(host_net.servers) == ["10.96.0.10"]
    custom = dns_config(pod(dnsPolicy="None", dnsConfig={"nameservers": ["1.1.1.1"], "searches": ["corp"],
                                                         "options": [{"name": "ndots", "value": "2"},
                                                                     {"name": "edns0"}]}), DNS)
    assert custom is not None and (list(custom.servers), list(custom.searches), list(custom.options)) == (
        ["1.1.1.1"], ["corp"], ["ndots:2", "edns0"])
    merged = dns_config(pod(dnsConfig={"options": [{"name": "ndots", "value": "1"}]}), DNS)
    assert merged is not None and list(merged.options) == ["ndots:1"]


def test_sandbox_config() -> None:
    cfg = sandbox_config(pod(shareProcessNamespace=True), 2, dns=DNS, log_directory="/logs/shop_web_u1",
                         cgroup_parent="kubepods/besteffort/podu1")
    assert (cfg.metadata.name, cfg.metadata.namespace, cfg.metadata.uid, cfg.metadata.attempt) == (
        "web", "shop", "u1", 2)
    assert cfg.hostname == "web" and cfg.log_directory == "/logs/shop_web_u1"
    assert cfg.labels[POD_UID] == "u1" and cfg.labels["app"] == "web" and cfg.annotations["note"] == "x"
    assert [(p.container_port, p.host_port, p.protocol) for p in cfg.port_mappings] == [(80, 8080, cri.TCP)]
    assert cfg.linux.cgroup_parent == "kubepods/besteffort/podu1"
    ns = cfg.linux.security_context.namespace_options
    assert (ns.network, ns.pid, ns.ipc) == (cri.POD, cri.POD, cri.POD)
    assert cfg.linux.resources.cpu_shares == 2
    host = sandbox_config(pod(hostNetwork=True), 0, dns=DNS, log_directory="", cgroup_parent="")
    assert host.hostname == "" and host.linux.security_context.namespace_options.network == cri.NODE


def test_container_config() -> None:
    p = pod(securityContext={"runAsUser": 1000})
    c = {"name": "c", "image": "busybox", "workingDir": "/srv", "tty": True,
         "securityContext": {"readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]},
                             "allowPrivilegeEscalation": False}}
    inputs = ContainerInputs(attempt=3, image_ref="sha256:abc", command=["/bin/sh"], args=["-c", "true"],
                             env=[("A", "1")], mounts=[Mount("/host/vol", "/data", True)],
                             resources=CgroupResources(cpu_shares=512, cpu_quota=50000, cpu_period=100000,
                                                       memory_limit_in_bytes=1 << 27, oom_score_adj=-997),
                             spec_hash="h1", log_path="c/3.log")
    cfg = container_config(p, c, inputs)
    assert (cfg.metadata.name, cfg.metadata.attempt, cfg.image.image, cfg.image.user_specified_image) == (
        "c", 3, "sha256:abc", "busybox")
    assert list(cfg.command) == ["/bin/sh"] and list(cfg.args) == ["-c", "true"] and cfg.working_dir == "/srv"
    assert [(e.key, e.value) for e in cfg.envs] == [("A", "1")]
    assert [(m.host_path, m.container_path, m.readonly) for m in cfg.mounts] == [("/host/vol", "/data", True)]
    assert cfg.annotations[CONTAINER_HASH] == "h1" and cfg.log_path == "c/3.log" and cfg.tty
    res = cfg.linux.resources
    assert (res.cpu_shares, res.cpu_quota, res.memory_limit_in_bytes, res.oom_score_adj) == (
        512, 50000, 1 << 27, -997)
    sc = cfg.linux.security_context
    assert sc.run_as_user.value == 1000 and sc.readonly_rootfs and sc.no_new_privs
    assert list(sc.capabilities.drop_capabilities) == ["ALL"]
    assert sc.namespace_options.pid == cri.CONTAINER


def test_etc_hosts() -> None:
    text = etc_hosts(pod(hostAliases=[{"ip": "10.0.0.9", "hostnames": ["db", "db.local"]}]), "10.244.1.5", DNS)
    assert "127.0.0.1\tlocalhost" in text and "10.244.1.5\tweb\n" in text and "10.0.0.9\tdb\tdb.local" in text
    sub = etc_hosts(pod(hostname="web-0", subdomain="web"), "10.244.1.6", DNS)
    assert "10.244.1.6\tweb-0.web.shop.svc.cluster.local\tweb-0" in sub
