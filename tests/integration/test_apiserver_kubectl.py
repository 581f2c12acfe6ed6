"""Real kubectl 1.32 against two apiservers over a 3-member store, on loopback with TLS."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.apiserver_cluster import KUBECTL, ApiserverCluster
from tests.support.ports import free_port
from tests.support.processes import Processes


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiserverCluster]:
    """One cluster for the module (starting it takes seconds); every test removes what it created."""
    root = tmp_path_factory.mktemp("apiserver")
    procs = Processes(root / "logs")
    try:
        c = ApiserverCluster(procs, free_port, root)
        c.start()
        yield c
    finally:
        procs.stop_all()


def test_version_api_resources_and_explain(cluster: ApiserverCluster) -> None:
    assert "Server Version: v1.32.0" in cluster.kubectl("version").stdout
    resources = cluster.kubectl("api-resources").stdout
    assert "deployments" in resources and "apps/v1" in resources and "customresourcedefinitions" in resources
    explained = cluster.kubectl("explain", "deployment.spec.replicas").stdout
    assert "FIELD: replicas <integer>" in explained


def test_bootstrap_objects(cluster: ApiserverCluster) -> None:
    names = cluster.kubectl("get", "namespaces", "-o", "name").stdout.split()
    assert {"namespace/default", "namespace/kube-system", "namespace/kube-public", "namespace/kube-node-lease"} <= set(
        names
    )
    svc = cluster.kubectl_json("get", "service", "kubernetes")
    assert svc["spec"]["clusterIP"] == "10.96.0.1"
    wanted = {server.port for server in cluster.apiservers}
    deadline = time.monotonic() + 15
    while cluster.endpoint_ports() != wanted:
        assert time.monotonic() < deadline, cluster.endpoint_ports()
        time.sleep(0.3)
    classes = cluster.kubectl("get", "priorityclasses", "-o", "name").stdout.split()
    assert {
        "priorityclass.scheduling.k8s.io/system-cluster-critical",
        "priorityclass.scheduling.k8s.io/system-node-critical",
    } <= set(classes)


def test_kubernetes_endpoints_follow_apiservers_coming_and_going(cluster: ApiserverCluster) -> None:
    extra = cluster.add_apiserver("apiserver-extra")
    try:
        deadline = time.monotonic() + 15
        while extra.port not in cluster.endpoint_ports():
            assert time.monotonic() < deadline, cluster.endpoint_ports()
            time.sleep(0.3)
    finally:
        extra.proc.terminate()
        extra.proc.wait(10)
        cluster.apiservers.remove(extra)
    # A clean stop revokes its lease: the survivors drop the address at their next reconcile.
    deadline = time.monotonic() + 15
    while extra.port in cluster.endpoint_ports():
        assert time.monotonic() < deadline, cluster.endpoint_ports()
        time.sleep(0.3)
    slice_ = cluster.kubectl_json("get", "endpointslice", "kubernetes")
    assert slice_["ports"][0]["port"] in {server.port for server in cluster.apiservers}


def test_typed_creates_send_protobuf_and_get_prints_server_columns(cluster: ApiserverCluster) -> None:
    k = cluster.kubectl
    k("create", "namespace", "typed")
    try:
        k("create", "deployment", "web", "--image=nginx", "--replicas=2", "-n", "typed")
        k("create", "configmap", "conf", "--from-literal=a=b", "-n", "typed")
        k("create", "secret", "generic", "sec", "--from-literal=x=y", "-n", "typed")
        k("create", "service", "clusterip", "svc", "--tcp=80:8080", "-n", "typed")
        k("create", "job", "once", "--image=busybox", "-n", "typed", "--", "echo", "hi")
        wide = k("get", "deploy", "-n", "typed", "-o", "wide").stdout
        assert wide.split("\n")[0].split() == [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR",
        ]
        assert "web" in wide and "app=web" in wide
        assert "DATA" in k("get", "configmap", "conf", "-n", "typed").stdout
        secret = cluster.kubectl_json("get", "secret", "sec", "-n", "typed")
        assert secret["data"] == {"x": "eQ=="}
        svc = cluster.kubectl_json("get", "service", "svc", "-n", "typed")
        assert svc["spec"]["clusterIP"].startswith("10.")
        job = cluster.kubectl_json("get", "job", "once", "-n", "typed")
        assert "batch.kubernetes.io/controller-uid" in job["spec"]["selector"]["matchLabels"]
        everything = k("get", "all", "-n", "typed").stdout
        assert "deployment.apps/web" in everything and "service/svc" in everything
    finally:
        k("delete", "deployment,configmap,secret,service,job", "--all", "-n", "typed", "--wait=false")
        k("delete", "namespace", "typed", "--wait=false")
    ns = cluster.kubectl_json("get", "namespace", "typed")
    assert ns["status"]["phase"] == "Terminating"
    # No namespace controller runs here: finalize as it would, and the namespace is gone.
    ns["spec"] = {"finalizers": []}
    code, _ = cluster.request("PUT", "/api/v1/namespaces/typed/finalize", json.dumps(ns).encode())
    assert code == 200
    assert k("get", "namespace", "typed", check=False).returncode == 1


def test_get_output_forms_and_selectors(cluster: ApiserverCluster) -> None:
    k = cluster.kubectl
    k("create", "configmap", "sel-a", "--from-literal=k=v")
    k("create", "configmap", "sel-b", "--from-literal=k=v")
    try:
        k("label", "configmap", "sel-a", "tier=front")
        assert "sel-a" in k("get", "cm", "-l", "tier=front", "-o", "name").stdout
        assert "sel-b" not in k("get", "cm", "-l", "tier=front", "-o", "name").stdout
        assert k("get", "cm", "-l", "tier in (front,back)", "-o", "name").stdout.strip() == "configmap/sel-a"
        assert (
            k("get", "cm", "--field-selector", "metadata.name=sel-b", "-o", "name").stdout.strip() == "configmap/sel-b"
        )
        bad = k("get", "cm", "--field-selector", "spec.nope=x", check=False)
        assert bad.returncode == 1 and "field label not supported" in bad.stderr
        assert "NAMESPACE" in k("get", "cm", "-A").stdout.split("\n")[0]
        assert "tier=front" in k("get", "cm", "sel-a", "--show-labels").stdout
        assert yaml.safe_load(k("get", "cm", "sel-a", "-o", "yaml").stdout)["data"] == {"k": "v"}
        assert k("get", "cm", "sel-a", "-o", "jsonpath={.metadata.labels.tier}").stdout == "front"
        columns = k("get", "cm", "sel-a", "-o", "custom-columns=NAME:.metadata.name,TIER:.metadata.labels.tier").stdout
        assert columns.split() == ["NAME", "TIER", "sel-a", "front"]
        assert "sel-a" in k("get", "cm", "--sort-by=.metadata.name", "-o", "wide").stdout
        chunked = k("get", "cm", "--chunk-size=1", "-o", "name").stdout.split()
        assert {"configmap/sel-a", "configmap/sel-b"} <= set(chunked)
    finally:
        k("delete", "configmap", "sel-a", "sel-b")


def test_apply_replace_patch_label_annotate_scale_describe_delete(cluster: ApiserverCluster, tmp_path: Path) -> None:
    k = cluster.kubectl
    manifest = tmp_path / "deploy.yaml"
    doc: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "life", "labels": {"app": "life"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "life"}},
            "template": {
                "metadata": {"labels": {"app": "life"}},
                "spec": {"containers": [{"name": "c", "image": "busybox:1"}]},
            },
        },
    }
    manifest.write_text(yaml.safe_dump(doc))
    assert "deployment.apps/life created" in k("apply", "-f", str(manifest)).stdout
    try:
        assert "deployment.apps/life unchanged" in k("apply", "-f", str(manifest)).stdout
        doc["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:2"
        manifest.write_text(yaml.safe_dump(doc))
        assert "deployment.apps/life configured" in k("apply", "-f", str(manifest)).stdout
        live = cluster.kubectl_json("get", "deploy", "life")
        assert live["metadata"]["generation"] == 2
        assert live["spec"]["strategy"]["type"] == "RollingUpdate"
        assert "serverside-applied" in k("apply", "--server-side", "-f", str(manifest)).stdout
        assert (
            "deployment.apps/life patched"
            in k("patch", "deploy", "life", "--type=merge", "-p", '{"spec":{"minReadySeconds":3}}').stdout
        )
        assert (
            "patched (no change)"
            in k("patch", "deploy", "life", "--type=merge", "-p", '{"spec":{"minReadySeconds":3}}').stdout
        )
        k("patch", "deploy", "life", "--type=json", "-p", '[{"op":"replace","path":"/spec/minReadySeconds","value":4}]')
        k(
            "patch",
            "deploy",
            "life",
            "-p",
            '{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox:3"}]}}}}',
        )
        live = cluster.kubectl_json("get", "deploy", "life")
        names = [c["name"] for c in live["spec"]["template"]["spec"]["containers"]]
        assert sorted(names) == ["c", "side"]  # strategic merge by container name
        assert live["spec"]["minReadySeconds"] == 4
        k("label", "deploy", "life", "team=a")
        k("annotate", "deploy", "life", "note=hello")
        assert "deployment.apps/life scaled" in k("scale", "deploy", "life", "--replicas=3").stdout
        assert cluster.kubectl_json("get", "deploy", "life")["spec"]["replicas"] == 3
        k("scale", "deploy", "life", "--replicas=2", "--current-replicas=3")
        described = k("describe", "deploy", "life").stdout
        assert "team=a" in described and "note: hello" in described and "RollingUpdate" in described
        replaced = cluster.kubectl_json("get", "deploy", "life")
        replaced["metadata"]["labels"]["replaced"] = "yes"
        assert "replaced" in k("replace", "-f", "-", stdin=json.dumps(replaced)).stdout
        stale = k("replace", "-f", "-", stdin=json.dumps(replaced), check=False)
        assert stale.returncode == 1 and "the object has been modified" in stale.stderr
    finally:
        assert 'deployment.apps "life" deleted' in k("delete", "-f", str(manifest), "--wait").stdout
    assert k("get", "deploy", "life", check=False).returncode == 1


def test_watch_on_one_apiserver_sees_writes_through_the_other(cluster: ApiserverCluster) -> None:
    env_home = cluster.home
    proc = subprocess.Popen(
        [KUBECTL, "get", "configmaps", "-w", "--kubeconfig", str(cluster.apiservers[1].kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"HOME": str(env_home), "PATH": "/usr/bin:/bin"},
    )
    try:
        time.sleep(1.5)
        cluster.kubectl("create", "configmap", "watched", server=0)
        cluster.kubectl("label", "configmap", "watched", "seen=yes", server=0)
        time.sleep(1.5)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
        cluster.kubectl("delete", "configmap", "watched")
    lines = [line.split()[0] for line in out.splitlines()[1:] if line.strip()]
    assert lines.count("watched") == 2, out


def test_create_token_whoami_and_can_i(cluster: ApiserverCluster) -> None:
    k = cluster.kubectl
    k("create", "serviceaccount", "robot")
    try:
        token = k("create", "token", "robot", "--duration=10m").stdout.strip()
        assert token.count(".") == 2
        config = yaml.safe_load(cluster.apiservers[0].kubeconfig.read_text())
        config["users"][0]["user"] = {"token": token}
        robot_config = cluster.root / "robot.kubeconfig"
        robot_config.write_text(yaml.safe_dump(config))
        whoami = k("auth", "whoami", "--kubeconfig", str(robot_config)).stdout
        assert "system:serviceaccount:default:robot" in whoami
        assert k("auth", "can-i", "create", "pods").stdout.strip() == "yes"
        config["users"][0]["user"] = {"token": "not-a-token"}
        robot_config.write_text(yaml.safe_dump(config))
        denied = k("get", "pods", "--kubeconfig", str(robot_config), check=False)
        assert denied.returncode == 1 and "Unauthorized" in denied.stderr
    finally:
        k("delete", "serviceaccount", "robot")


def test_edit_wait_run_expose_autoscale_and_cascading_deletes(cluster: ApiserverCluster, tmp_path: Path) -> None:
    k = cluster.kubectl
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nsed -i \'s/^  a: .*/  a: "2"/\' "$1"\n')
    editor.chmod(0o755)
    k("create", "configmap", "edited", "--from-literal=a=1")
    k("create", "deployment", "exposed", "--image=busybox")
    k("run", "runner", "--image=busybox")
    try:
        env_editor = {"EDITOR": str(editor)}
        result = subprocess.run(
            [KUBECTL, "edit", "configmap", "edited", "--kubeconfig", str(cluster.apiservers[0].kubeconfig)],
            capture_output=True,
            text=True,
            env={"HOME": str(cluster.home), "PATH": "/usr/bin:/bin", **env_editor},
            timeout=60,
        )
        assert "configmap/edited edited" in result.stdout, result.stderr
        k("wait", "--for=jsonpath={.data.a}=2", "configmap/edited", "--timeout=10s", server=1)
        k("expose", "deployment", "exposed", "--port=80", "--target-port=8080", "--type=NodePort")
        svc = cluster.kubectl_json("get", "service", "exposed")
        assert 30000 <= svc["spec"]["ports"][0]["nodePort"] <= 32767
        k("autoscale", "deployment", "exposed", "--min=1", "--max=3", "--cpu-percent=50")
        assert "Deployment/exposed" in k("get", "hpa", "exposed").stdout
        hpa_v1 = cluster.kubectl_json("get", "horizontalpodautoscalers.v1.autoscaling", "exposed")
        assert hpa_v1["spec"]["targetCPUUtilizationPercentage"] == 50
        # Orphan and foreground deletes leave the object with its finalizer until the garbage collector acts.
        k("delete", "configmap", "edited", "--cascade=orphan", "--wait=false")
        marked = cluster.kubectl_json("get", "configmap", "edited")
        assert marked["metadata"]["finalizers"] == ["orphan"] and marked["metadata"]["deletionTimestamp"]
        k("patch", "configmap", "edited", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
        assert k("get", "configmap", "edited", check=False).returncode == 1
    finally:
        k("delete", "configmap", "edited", "--ignore-not-found")
        k("delete", "hpa,service,deployment", "exposed", "--ignore-not-found")
        k("delete", "pod", "runner", "--ignore-not-found")
