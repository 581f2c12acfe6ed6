"""`tinykube up -d` / `status` / `down` as a user runs them, checked from the host afterwards."""

import base64
import json
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.support.tinykube_up import tk, up


def _https_status(url: str, ca: Path, cert: Path | None = None) -> int:
    """The status of a GET over TLS verified against ``ca``, optionally with the client certificate ``cert``."""
    context = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        context.load_cert_chain(f"{cert}.crt", f"{cert}.key")
    try:
        with urllib.request.urlopen(url, context=context, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


@pytest.fixture
def cluster(prefix, tmp_path, cleanup):
    return up(prefix, tmp_path / "state", cleanup)


@pytest.mark.slow
def test_up_status_store_and_down_leave_nothing(cluster):
    name, state = cluster.name, cluster.state
    status = cluster.status()
    assert [n["ready"] for n in status["nodes"]] == [True, True, True]
    running = {(c["node"], c["name"]) for c in status["components"] if c["state"] == "running"}
    assert {(f"node{i}", c) for i in (1, 2, 3) for c in ("store", "apiserver")} <= running
    assert {("infra", "registry"), ("infra", "haproxy")} <= running
    assert status["leaders"]["store"] in {"node1", "node2", "node3"}

    kc = cluster.kubectl
    assert "namespace/kube-system" in kc("get", "namespaces", "-o", "name")
    killed = cluster.tk("chaos", "kill", "apiserver", "--node", "node1")
    assert "killed apiserver on node1" in killed.stdout
    kc("create", "configmap", "after-kill", "--from-literal=a=b")  # haproxy sends it to a live apiserver

    # A workload across the nodes, reached by Service name from a pod: scheduler, controllers, kubelets,
    # runtime, overlay, proxy and DNS all had to work for this pod to succeed.
    kc("create", "deployment", "web", "--image=busybox", "--replicas=3", "--", "httpd", "-f", "-p", "8080")
    kc("expose", "deployment", "web", "--port=80", "--target-port=8080")
    kc("wait", "--for=condition=available", "deployment/web", "--timeout=90s")
    nodes = set(kc("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].spec.nodeName}").split())
    assert len(nodes) >= 2, nodes
    kc("run", "probe", "--image=busybox", "--restart=Never", "--",
       "sh", "-c", "timeout 5 wget -S -O /dev/null http://web.default.svc.cluster.local/ 2>&1 | grep -q 'HTTP/1.1'")
    kc("wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/probe", "--timeout=60s")
    # logs and exec go apiserver → kubelet (with the apiserver's kubelet-client certificate) → runtime.
    web = kc("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}")
    assert kc("exec", web, "--", "sh", "-c", "echo exec-ok").strip() == "exec-ok"
    failed = subprocess.run(cluster.kubectl_argv("exec", web, "--", "sh", "-c", "exit 3"), capture_output=True,
                            text=True)
    assert failed.returncode == 3, failed.stderr
    kc("logs", "probe")
    # Add-ons: the default StorageClass, and kube-dns where Kubernetes puts it (answered by every node's DNS).
    assert kc("get", "storageclass", "-o", "name").split() == ["storageclass.storage.k8s.io/local-path"]
    cluster_ip = kc("get", "service", "web", "-o", "jsonpath={.spec.clusterIP}")
    assert cluster_ip in kc("exec", web, "--", "nslookup", "web.default.svc.cluster.local", "10.96.0.10")

    # The store speaks only mutual TLS, with its own CA: etcdctl needs the health-check client certificate.
    etcd = state / "pki" / "etcd"
    tls = [f"--cacert={etcd / 'ca.crt'}", f"--cert={etcd / 'healthcheck-client.crt'}",
           f"--key={etcd / 'healthcheck-client.key'}"]
    endpoints = ",".join(f"https://{n['ip']}:2379" for n in status["nodes"])
    env = {"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"}
    put = subprocess.run(["etcdctl", f"--endpoints={endpoints}", *tls, "put", "/tk/hello", "world"], env=env,
                         capture_output=True, text=True)
    assert put.returncode == 0, put.stderr
    got = subprocess.run(["etcdctl", f"--endpoints=https://{status['nodes'][2]['ip']}:2379", *tls, "get",
                          "/tk/hello", "--print-value-only"], env=env, capture_output=True, text=True)
    assert got.stdout.strip() == "world"
    # A cluster certificate (the admin's) is from another CA than the store's: refused.
    admin = [f"--cacert={etcd / 'ca.crt'}", f"--cert={state / 'pki' / 'admin.crt'}",
             f"--key={state / 'pki' / 'admin.key'}", "--dial-timeout=2s", "--command-timeout=3s"]
    refused = subprocess.run(["etcdctl", f"--endpoints={endpoints}", *admin, "get", "/tk/hello"], env=env,
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode != 0 and "world" not in refused.stdout

    # Nodes 2 and 3 joined with a bootstrap token: their client certificates came through approved CSRs.
    csrs = json.loads(kc("get", "csr", "-o", "json"))["items"]
    joined = {c["spec"]["username"].split(":")[1] for c in csrs
              if c["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet"
              and c["status"].get("certificate")}
    assert joined == {"bootstrap"} and len(csrs) >= 2, csrs
    # The kubelet's API wants a caller the apiserver vouches for; health ports of the control plane are
    # open, their metrics are not.
    ca = state / "pki" / "ca.crt"
    node1 = status["nodes"][0]["ip"]
    assert _https_status(f"https://{node1}:10250/pods", ca) == 401
    assert _https_status(f"https://{node1}:10250/healthz", ca, cert=state / "pki" / "admin") == 200
    proxy = yaml.safe_load((state / "pki" / "kube-proxy.kubeconfig").read_text())["users"][0]["user"]
    (state / "proxy.crt").write_bytes(base64.b64decode(proxy["client-certificate-data"]))
    (state / "proxy.key").write_bytes(base64.b64decode(proxy["client-key-data"]))
    assert _https_status(f"https://{node1}:10250/pods", ca, cert=state / "proxy") == 403  # RBAC: not its business
    for port in (10259, 10257):
        assert _https_status(f"https://{node1}:{port}/healthz", ca) == 200
        assert _https_status(f"https://{node1}:{port}/metrics", ca) == 401
        assert _https_status(f"https://{node1}:{port}/metrics", ca, cert=state / "pki" / "admin") == 200

    again = cluster.tk("up", "-d")
    assert "already up" in again.stderr

    down = cluster.tk("down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert not state.exists()
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert name not in netns
    assert f"{name}-h" not in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    leftover = subprocess.run(["pgrep", "-af", str(state)], capture_output=True, text=True).stdout
    assert leftover == ""
    assert not list(Path("/sys/fs/cgroup").glob(f"*/{name}-node*")), "cgroups left behind"
    assert f"{name}-node1-" not in netns, "pod network namespaces left behind"


def test_up_needs_a_valid_name(tmp_path):
    out = tk("up", "--name", "Bad_Name", "--state-dir", str(tmp_path / "s"), "-d")
    assert out.returncode == 1
    assert "invalid cluster name" in out.stderr
    assert "Traceback" not in out.stderr
