"""The API beyond kubectl: the official Python client, custom resources, subresources, Status codes for
bad input, allocation under concurrency, and a store outage."""

from __future__ import annotations

import asyncio
import gzip
import http.client
import json
import ssl
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from aiohttp import web
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException

from tests.support.apiserver_cluster import KUBECTL, ApiserverCluster
from tests.support.ports import free_port
from tests.support.processes import Processes

SHIRT_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.test.tinykube.io"},
    "spec": {
        "group": "test.tinykube.io",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {
                    "status": {},
                    "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"},
                },
                "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "size": {"type": "integer", "minimum": 1},
                                    "replicas": {"type": "integer"},
                                    "color": {"type": "string", "default": "blue"},
                                },
                            },
                            "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
                        },
                    }
                },
            }
        ],
    },
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiserverCluster]:
    root = tmp_path_factory.mktemp("api")
    procs = Processes(root / "logs")
    try:
        c = ApiserverCluster(procs, free_port, root)
        c.start()
        yield c
    finally:
        procs.stop_all()


def _api_client(cluster: ApiserverCluster, server: int = 0) -> k8s.ApiClient:
    configuration = k8s.Configuration()
    k8s_config.load_kube_config(
        config_file=str(cluster.apiservers[server].kubeconfig), client_configuration=configuration
    )
    return k8s.ApiClient(configuration)


def _pod(name: str, **labels: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


def test_python_client_pods_and_deployments(cluster: ApiserverCluster) -> None:
    with _api_client(cluster) as api:
        core: Any = k8s.CoreV1Api(api)
        apps: Any = k8s.AppsV1Api(api)
        created = core.create_namespaced_pod("default", _pod("py-pod", app="py"))
        # ServiceAccount admission is off in this fixture (no controller-manager creates accounts): see
        # tests/integration/test_apiserver_security_at_rest.py for it.
        assert created.metadata.uid and created.spec.tolerations
        try:
            assert core.read_namespaced_pod("py-pod", "default").metadata.labels == {"app": "py"}
            names = [p.metadata.name for p in core.list_namespaced_pod("default", label_selector="app=py").items]
            assert names == ["py-pod"]
            patched = core.patch_namespaced_pod("py-pod", "default", {"metadata": {"labels": {"extra": "1"}}})
            assert patched.metadata.labels == {"app": "py", "extra": "1"}
        finally:
            core.delete_namespaced_pod("py-pod", "default", grace_period_seconds=0)
        with pytest.raises(ApiException) as missing:
            core.read_namespaced_pod("py-pod", "default")
        assert missing.value.status == 404
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "py-deploy"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "pyd"}},
                "template": {
                    "metadata": {"labels": {"app": "pyd"}},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                },
            },
        }
        apps.create_namespaced_deployment("default", deployment)
        try:
            scaled = apps.patch_namespaced_deployment_scale("py-deploy", "default", {"spec": {"replicas": 4}})
            assert scaled.spec.replicas == 4
            assert apps.read_namespaced_deployment("py-deploy", "default").spec.replicas == 4
        finally:
            apps.delete_namespaced_deployment("py-deploy", "default", propagation_policy="Background")


def test_python_client_watch_streams_events_from_the_other_apiserver(cluster: ApiserverCluster) -> None:
    seen: list[tuple[str, str]] = []
    with _api_client(cluster, server=1) as api:
        core: Any = k8s.CoreV1Api(api)
        start_rv = core.list_namespaced_config_map("default").metadata.resource_version

        def writer() -> None:
            time.sleep(0.5)
            with _api_client(cluster, server=0) as other:
                oc: Any = k8s.CoreV1Api(other)
                oc.create_namespaced_config_map("default", {"metadata": {"name": "py-watched"}, "data": {"a": "1"}})
                oc.patch_namespaced_config_map("py-watched", "default", {"data": {"a": "2"}})
                oc.delete_namespaced_config_map("py-watched", "default")

        thread = threading.Thread(target=writer)
        thread.start()
        w = k8s_watch.Watch()
        for event in w.stream(
            core.list_namespaced_config_map,
            "default",
            resource_version=start_rv,
            timeout_seconds=5,
            allow_watch_bookmarks=True,
        ):
            if event["type"] != "BOOKMARK" and event["object"].metadata.name == "py-watched":
                seen.append((event["type"], event["object"].data["a"]))
            if len(seen) == 3:
                w.stop()
        thread.join()
    assert seen == [("ADDED", "1"), ("MODIFIED", "2"), ("DELETED", "2")]


def test_custom_resources_with_kubectl_and_the_python_client(cluster: ApiserverCluster, tmp_path: Path) -> None:
    crd_file = tmp_path / "crd.yaml"
    crd_file.write_text(yaml.safe_dump(SHIRT_CRD))
    cluster.kubectl("apply", "-f", str(crd_file))
    try:
        cluster.kubectl("wait", "--for=condition=established", "crd/widgets.test.tinykube.io", "--timeout=10s")
        # Served at once by the other apiserver too (discovery reloads CRDs from the store).
        assert "widgets" in cluster.kubectl("api-resources", "--api-group=test.tinykube.io", server=1).stdout
        widget = {
            "apiVersion": "test.tinykube.io/v1",
            "kind": "Widget",
            "metadata": {"name": "w1"},
            "spec": {"size": 3, "replicas": 1},
        }
        cluster.kubectl("apply", "-f", "-", stdin=json.dumps(widget), server=1)
        table = cluster.kubectl("get", "wd").stdout
        assert table.split("\n")[0].split() == ["NAME", "SIZE"] and "w1" in table
        stored = cluster.kubectl_json("get", "widget", "w1")
        assert stored["spec"]["color"] == "blue"  # schema default
        bad = cluster.kubectl(
            "apply",
            "-f",
            "-",
            stdin=json.dumps({**widget, "metadata": {"name": "w2"}, "spec": {"size": 0}}),
            check=False,
        )
        assert bad.returncode == 1 and "spec.size" in bad.stderr
        unknown = cluster.kubectl(
            "apply", "-f", "-", stdin=json.dumps({**widget, "spec": {"size": 2, "nope": 1}}), check=False
        )
        assert unknown.returncode == 1 and 'unknown field "spec.nope"' in unknown.stderr
        cluster.kubectl("scale", "widget", "w1", "--replicas=5")
        assert cluster.kubectl_json("get", "widget", "w1")["spec"]["replicas"] == 5
        with _api_client(cluster) as api:
            custom: Any = k8s.CustomObjectsApi(api)
            custom.patch_namespaced_custom_object_status(
                "test.tinykube.io", "v1", "default", "widgets", "w1", {"status": {"replicas": 5}}
            )
            got = custom.get_namespaced_custom_object("test.tinykube.io", "v1", "default", "widgets", "w1")
            assert got["status"] == {"replicas": 5} and got["spec"]["size"] == 3
            listed = custom.list_namespaced_custom_object("test.tinykube.io", "v1", "default", "widgets")
            assert [i["metadata"]["name"] for i in listed["items"]] == ["w1"]
            events = [
                e["type"]
                for e in k8s_watch.Watch().stream(
                    custom.list_namespaced_custom_object,
                    "test.tinykube.io",
                    "v1",
                    "default",
                    "widgets",
                    timeout_seconds=1,
                )
            ]
            assert events == ["ADDED"]
            custom.delete_namespaced_custom_object("test.tinykube.io", "v1", "default", "widgets", "w1")
    finally:
        cluster.kubectl("delete", "-f", str(crd_file), "--wait")


def test_binding_once_eviction_honours_pdbs_and_status(cluster: ApiserverCluster) -> None:
    body = json.dumps(_pod("bindme", app="pdb")).encode()
    code, _ = cluster.request("POST", "/api/v1/namespaces/default/pods", body)
    assert code == 201
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "guard"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "pdb"}}},
    }
    code, _ = cluster.request(
        "POST", "/apis/policy/v1/namespaces/default/poddisruptionbudgets", json.dumps(pdb).encode()
    )
    assert code == 201
    try:
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": "bindme"},
            "target": {"apiVersion": "v1", "kind": "Node", "name": "node1"},
        }
        path = "/api/v1/namespaces/default/pods/bindme/binding"
        assert cluster.request("POST", path, json.dumps(binding).encode())[0] == 201
        code, status = cluster.request("POST", path, json.dumps(binding).encode(), server=1)
        assert (code, status["reason"]) == (409, "Conflict")
        code, pod = cluster.request("GET", "/api/v1/namespaces/default/pods/bindme")
        assert pod["spec"]["nodeName"] == "node1"
        pod["status"] = {"phase": "Running"}
        code, _ = cluster.request("PUT", "/api/v1/namespaces/default/pods/bindme/status", json.dumps(pod).encode())
        assert code == 200
        eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "bindme"}}
        code, status = cluster.request(
            "POST", "/api/v1/namespaces/default/pods/bindme/eviction", json.dumps(eviction).encode()
        )
        assert (code, status["reason"]) == (429, "TooManyRequests")
        code, current = cluster.request("GET", "/apis/policy/v1/namespaces/default/poddisruptionbudgets/guard")
        current["status"] = {
            "disruptionsAllowed": 1,
            "currentHealthy": 1,
            "desiredHealthy": 1,
            "expectedPods": 1,
            "observedGeneration": 1,
        }
        code, _ = cluster.request(
            "PUT", "/apis/policy/v1/namespaces/default/poddisruptionbudgets/guard/status", json.dumps(current).encode()
        )
        assert code == 200
        code, _ = cluster.request(
            "POST", "/api/v1/namespaces/default/pods/bindme/eviction", json.dumps(eviction).encode()
        )
        assert code == 201
        # A bound pod is deleted gracefully: it stays, marked, until its kubelet confirms.
        code, pod = cluster.request("GET", "/api/v1/namespaces/default/pods/bindme")
        assert pod["metadata"]["deletionGracePeriodSeconds"] == 30
    finally:
        cluster.request("DELETE", "/api/v1/namespaces/default/pods/bindme?gracePeriodSeconds=0")
        cluster.request("DELETE", "/apis/policy/v1/namespaces/default/poddisruptionbudgets/guard")
    assert cluster.request("GET", "/api/v1/namespaces/default/pods/bindme")[0] == 404


def test_bad_input_gets_the_right_status(cluster: ApiserverCluster) -> None:
    cms = "/api/v1/namespaces/default/configmaps"
    code, st = cluster.request("POST", cms, b"{not json")
    assert (code, st["kind"], st["reason"]) == (400, "Status", "BadRequest")
    assert cluster.request("GET", "/api/v1/namespaces/default/nothings")[0] == 404
    assert cluster.request("GET", "/apis/nope.example.com/v1/things")[0] == 404
    code, st = cluster.request("GET", f"{cms}/absent")
    assert (code, st["reason"], st["details"]) == (404, "NotFound", {"name": "absent", "kind": "configmaps"})
    code, st = cluster.request("POST", cms, json.dumps({"metadata": {"name": "Bad_Name"}}).encode())
    assert (code, st["reason"]) == (422, "Invalid")
    assert st["details"]["causes"][0]["field"] == "metadata.name"
    code, st = cluster.request("POST", cms, b"x: y", headers={"Content-Type": "application/xml"})
    assert (code, st["reason"]) == (415, "UnsupportedMediaType")
    big = json.dumps({"metadata": {"name": "big"}, "data": {"a": "x" * (2 * 1024 * 1024)}}).encode()
    code, st = cluster.request("POST", cms, big)
    assert (code, st["reason"]) == (413, "RequestEntityTooLarge")
    code, st = cluster.request(
        "POST", cms + "?fieldValidation=Strict", json.dumps({"metadata": {"name": "strict"}, "bogus": 1}).encode()
    )
    assert (code, st["reason"]) == (400, "BadRequest") and 'unknown field "bogus"' in str(st["message"])
    assert cluster.request("POST", cms, json.dumps({"metadata": {"name": "dup"}}).encode())[0] == 201
    try:
        code, st = cluster.request("POST", cms, json.dumps({"metadata": {"name": "dup"}}).encode(), server=1)
        assert (code, st["reason"]) == (409, "AlreadyExists")
        for content_type, bad_patch in (
            ("application/merge-patch+json", b'{"metadata":"x"}'),
            ("application/json-patch+json", b'[{"op":"replace","path":"/metadata","value":1}]'),
            ("application/json-patch+json", b'[{"op":"bogus"}]'),
        ):
            code, st = cluster.request("PATCH", f"{cms}/dup", bad_patch, headers={"Content-Type": content_type})
            assert (code, st["reason"]) == (422, "Invalid"), st
        stale = {"metadata": {"name": "dup", "resourceVersion": "1"}, "data": {"a": "b"}}
        code, st = cluster.request("PUT", f"{cms}/dup", json.dumps(stale).encode())
        assert (code, st["reason"]) == (409, "Conflict")
    finally:
        cluster.request("DELETE", f"{cms}/dup")
    code, st = cluster.request("DELETE", "/api/v1/namespaces/default")
    assert (code, st["reason"]) == (403, "Forbidden")
    code, st = cluster.request("GET", "/api/v1/namespaces", admin=False)
    assert (code, st["reason"]) == (401, "Unauthorized")
    code, version = cluster.request("GET", "/version/", admin=False)
    assert (code, version["major"], version["minor"]) == (200, "1", "32")
    code, st = cluster.request(
        "POST", "/api/v1/namespaces/missing/configmaps", json.dumps({"metadata": {"name": "x"}}).encode()
    )
    assert (code, st["reason"]) == (404, "NotFound") and "namespaces" in str(st["message"])


def test_large_lists_are_gzipped_only_for_clients_that_accept_it(cluster: ApiserverCluster) -> None:
    cms = "/api/v1/namespaces/default/configmaps"
    names = [f"gz-{i}" for i in range(3)]
    for name in names:  # 3 x 100 kB: above the 128 KiB from which kube-apiserver compresses
        cm = {"metadata": {"name": name, "labels": {"gz-test": "1"}}, "data": {"a": "x" * 100_000}}
        assert cluster.request("POST", cms, json.dumps(cm).encode())[0] == 201
    try:
        url = cluster.apiservers[0].url + cms + "?labelSelector=gz-test%3D1"
        req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(req, context=cluster.ssl_context(), timeout=30) as resp:
            assert resp.headers["Content-Encoding"] == "gzip"
            raw = resp.read()
        assert len(raw) < 100_000
        assert [i["metadata"]["name"] for i in json.loads(gzip.decompress(raw))["items"]] == names
        code, plain = cluster.request("GET", cms + "?labelSelector=gz-test%3D1")
        assert code == 200 and [i["metadata"]["name"] for i in plain["items"]] == names
    finally:
        for name in names:
            cluster.request("DELETE", f"{cms}/{name}")


def test_concurrent_service_creates_through_both_apiservers_get_distinct_ips_and_ports(
    cluster: ApiserverCluster,
) -> None:
    names = [f"alloc-{i}" for i in range(24)]

    def create(i: int) -> tuple[int, dict[str, Any]]:
        svc = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": names[i]},
            "spec": {"type": "NodePort", "selector": {"app": "x"}, "ports": [{"port": 80}]},
        }
        return cluster.request("POST", "/api/v1/namespaces/default/services", json.dumps(svc).encode(), server=i % 2)

    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(create, range(len(names))))
        assert [code for code, _ in results] == [201] * len(names)
        ips = [r["spec"]["clusterIP"] for _, r in results]
        ports = [r["spec"]["ports"][0]["nodePort"] for _, r in results]
        assert len(set(ips)) == len(names) and len(set(ports)) == len(names)
        taken = {"metadata": {"name": "taken"}, "spec": {"clusterIP": ips[0], "ports": [{"port": 80}]}}
        code, st = cluster.request("POST", "/api/v1/namespaces/default/services", json.dumps(taken).encode())
        assert (code, st["reason"]) == (422, "Invalid")
    finally:
        for name in names:
            cluster.request("DELETE", f"/api/v1/namespaces/default/services/{name}")
    # Deleting released the address: it can be claimed again.
    code, _ = cluster.request("POST", "/api/v1/namespaces/default/services", json.dumps(taken).encode())
    assert code == 201
    cluster.request("DELETE", "/api/v1/namespaces/default/services/taken")


def test_store_outage_gives_503_or_504_and_recovers(cluster: ApiserverCluster) -> None:
    base = "/api/v1/namespaces/default/configmaps"
    assert cluster.request("POST", base, json.dumps({"metadata": {"name": "outage"}}).encode())[0] == 201
    deadline = time.monotonic() + 30
    while cluster.request("GET", f"{base}/outage?resourceVersion=0")[0] != 200:  # the cache has it
        assert time.monotonic() < deadline
        time.sleep(0.1)
    members = cluster.store.members
    for member in members[1:]:
        cluster.store.procs[member.name].kill()
        cluster.store.procs[member.name].wait()
    try:
        started = time.monotonic()
        code, st = cluster.request("GET", base)
        assert code in (503, 504) and st["kind"] == "Status"
        assert time.monotonic() - started < 30
        # resourceVersion=0 accepts any version: the watch cache answers, without the store.
        code, cached = cluster.request("GET", f"{base}/outage?resourceVersion=0")
        assert code == 200 and cached["metadata"]["name"] == "outage"
        assert cluster.request("GET", f"{base}/absent?resourceVersion=0")[0] == 404
        assert cluster.request("GET", f"{base}/outage?resourceVersion=x")[0] == 400
    finally:
        for member in members[1:]:
            cluster.store.start(member)
        cluster.store.wait_healthy(members)
    deadline = time.monotonic() + 30
    while cluster.request("GET", base)[0] != 200:
        assert time.monotonic() < deadline, "the apiserver did not recover"
        time.sleep(0.5)
    cluster.request("DELETE", f"{base}/outage")


async def _stub_kubelet(cluster: ApiserverCluster, port: int) -> web.AppRunner:
    """What a kubelet serves for logs and exec, enough to see the apiserver proxy both ways."""

    async def logs(request: web.Request) -> web.StreamResponse:
        lines = [f"{request.match_info['pod']}/{request.match_info['container']} line {i}\n" for i in range(3)]
        tail = int(request.query.get("tailLines", "0") or 0)
        return web.Response(text="".join(lines[-tail:] if tail else lines))

    async def exec_(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(protocols=["v5.channel.k8s.io", "v4.channel.k8s.io"])
        await ws.prepare(request)
        command = request.query.getall("command", [])
        if command[:1] == ["fail"]:
            result = {
                "metadata": {},
                "status": "Failure",
                "reason": "NonZeroExitCode",
                "message": "command terminated with non-zero exit code: 3",
                "details": {"causes": [{"reason": "ExitCode", "message": "3"}]},
            }
        else:
            await ws.send_bytes(b"\x01" + (" ".join(command[1:]) + "\n").encode())
            result = {"metadata": {}, "status": "Success"}
        await ws.send_bytes(b"\x03" + json.dumps(result).encode())
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/containerLogs/{ns}/{pod}/{container}", logs)
    app.router.add_get("/exec/{ns}/{pod}/{container}", exec_)
    runner = web.AppRunner(app)
    await runner.setup()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cluster.pki / "apiserver.crt", cluster.pki / "apiserver.key")
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=tls).start()
    return runner


async def _kubectl(cluster: ApiserverCluster, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        KUBECTL,
        "--kubeconfig",
        str(cluster.apiservers[1].kubeconfig),
        *args,
        env={"HOME": str(cluster.home), "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_logs_and_exec_are_proxied_to_the_pods_kubelet(cluster: ApiserverCluster) -> None:
    port = free_port()
    runner = await _stub_kubelet(cluster, port)
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "stubnode"}}
    node_status = {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
    }
    try:
        code, created = await asyncio.to_thread(cluster.request, "POST", "/api/v1/nodes", json.dumps(node).encode())
        assert code == 201
        created["status"] = node_status
        code, _ = await asyncio.to_thread(
            cluster.request, "PUT", "/api/v1/nodes/stubnode/status", json.dumps(created).encode()
        )
        assert code == 200
        pod = {**_pod("streamer"), "spec": {"nodeName": "stubnode", "containers": [{"name": "c", "image": "b"}]}}
        code, created = await asyncio.to_thread(
            cluster.request, "POST", "/api/v1/namespaces/default/pods", json.dumps(pod).encode()
        )
        assert code == 201
        created["status"] = {"phase": "Running"}
        await asyncio.to_thread(
            cluster.request, "PUT", "/api/v1/namespaces/default/pods/streamer/status", json.dumps(created).encode()
        )
        rc, out, err = await _kubectl(cluster, "logs", "streamer", "--tail=1")
        assert (rc, out) == (0, "streamer/c line 2\n"), err
        rc, out, err = await _kubectl(cluster, "exec", "streamer", "--", "echo", "hello", "world")
        assert (rc, out) == (0, "hello world\n"), err
        rc, out, err = await _kubectl(cluster, "exec", "streamer", "--", "fail")
        assert rc == 3 and "command terminated with exit code 3" in err
        code, st = await asyncio.to_thread(
            cluster.request, "GET", "/api/v1/namespaces/default/pods/streamer/log?container=nope"
        )
        assert (code, st["reason"]) == (400, "BadRequest")
    finally:
        await asyncio.to_thread(
            cluster.request, "DELETE", "/api/v1/namespaces/default/pods/streamer?gracePeriodSeconds=0"
        )
        await asyncio.to_thread(cluster.request, "DELETE", "/api/v1/nodes/stubnode")
        await runner.cleanup()


def test_deleting_a_crd_deletes_its_objects(cluster: ApiserverCluster) -> None:
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    widgets = "/apis/test.tinykube.io/v1/namespaces/default/widgets"
    widget = {"apiVersion": "test.tinykube.io/v1", "kind": "Widget", "metadata": {"name": "doomed"}, "spec": {}}
    assert cluster.request("POST", crds, json.dumps(SHIRT_CRD).encode())[0] == 201
    try:
        assert cluster.request("POST", widgets, json.dumps(widget).encode(), server=1)[0] == 201
        assert cluster.request("DELETE", f"{crds}/widgets.test.tinykube.io")[0] == 200
        assert cluster.request("GET", widgets)[0] == 404
        assert cluster.request("POST", crds, json.dumps(SHIRT_CRD).encode())[0] == 201
        code, listed = cluster.request("GET", widgets, server=1)
        assert (code, listed["items"]) == (200, [])
    finally:
        cluster.request("DELETE", f"{crds}/widgets.test.tinykube.io")


def test_dry_run_field_validation_warnings_and_delete_collection(cluster: ApiserverCluster) -> None:
    k = cluster.kubectl
    assert "(server dry run)" in k("create", "configmap", "dry", "--dry-run=server").stdout
    assert k("get", "configmap", "dry", check=False).returncode == 1
    warned = k(
        "create",
        "--validate=warn",
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "warned"}, "extra": 1}),
    )
    try:
        assert 'unknown field "extra"' in warned.stderr
        for i in range(3):
            k("create", "configmap", f"bulk-{i}", "--from-literal=a=b")
            k("label", "configmap", f"bulk-{i}", "bulk=yes")
        with _api_client(cluster) as api:
            core: Any = k8s.CoreV1Api(api)
            core.delete_collection_namespaced_config_map("default", label_selector="bulk=yes")
        assert k("get", "configmap", "-l", "bulk=yes", "-o", "name").stdout == ""
    finally:
        k("delete", "configmap", "warned", "--ignore-not-found")
        k("delete", "configmap", "-l", "bulk=yes", "--ignore-not-found")


def test_a_write_acknowledged_through_one_apiserver_is_read_at_once_through_the_other(
    cluster: ApiserverCluster,
) -> None:
    # A GET without resourceVersion is linearizable: it sees every write acknowledged before it began, whichever
    # apiserver took the write (the other one's watch cache may not have it yet). resourceVersion=N answers a
    # version not older than N; 0 any version. Kept-alive connections, so the read follows the ack closely.
    base = "/api/v1/namespaces/default/configmaps"
    conns = [
        http.client.HTTPSConnection(urlsplit(a.url).netloc, context=cluster.ssl_context()) for a in cluster.apiservers
    ]

    def call(server: int, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/merge-patch+json" if method == "PATCH" else "application/json"}
        conns[server].request(method, path, json.dumps(body).encode() if body is not None else None, headers)
        resp = conns[server].getresponse()
        return resp.status, json.loads(resp.read())

    try:
        code, created = call(0, "POST", base, {"metadata": {"name": "linear"}})
        assert code == 201
        assert call(1, "GET", f"{base}/linear") == (200, created)
        for i in range(50):
            code, written = call(0, "PATCH", f"{base}/linear", {"data": {"v": str(i)}})
            assert code == 200
            assert call(1, "GET", f"{base}/linear") == (200, written)
            rv = written["metadata"]["resourceVersion"]
            assert call(1, "GET", f"{base}/linear?resourceVersion={rv}") == (200, written)
            code, seen = call(1, "GET", f"{base}/linear?resourceVersion=0")
            assert code == 200 and int(seen["metadata"]["resourceVersion"]) <= int(rv)
        assert call(0, "DELETE", f"{base}/linear")[0] == 200
        assert call(1, "GET", f"{base}/linear")[0] == 404
    finally:
        for conn in conns:
            conn.close()


def test_a_watch_below_the_retained_history_gets_410_expired(cluster: ApiserverCluster) -> None:
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    assert cluster.request("POST", crds, json.dumps(SHIRT_CRD).encode())[0] == 201
    try:
        listed: Any = cluster.store.json("get", "/registry/", "--prefix", "--keys-only")
        cluster.store.ok("compact", str(listed["header"]["revision"]))
        # The widgets cache starts with this watch, at revision 1: compacted, so it starts at the present.
        code, st = cluster.request(
            "GET", "/apis/test.tinykube.io/v1/namespaces/default/widgets?watch=true&resourceVersion=1&timeoutSeconds=1"
        )
        assert code == 200 and st["type"] == "ERROR"
        assert (st["object"]["code"], st["object"]["reason"]) == (410, "Expired")
        assert str(st["object"]["message"]).startswith("too old resource version: 1 (")
    finally:
        cluster.request("DELETE", f"{crds}/widgets.test.tinykube.io")


def test_a_watch_from_a_version_the_store_has_not_reached_gets_504(cluster: ApiserverCluster) -> None:
    listed: Any = cluster.store.json("get", "/registry/", "--prefix", "--keys-only")
    future = int(listed["header"]["revision"]) + 1_000_000
    query = f"watch=true&resourceVersion={future}&timeoutSeconds=1"
    code, st = cluster.request("GET", f"/api/v1/namespaces/default/configmaps?{query}")
    assert (code, st["reason"]) == (504, "Timeout")
    assert str(st["message"]).startswith(f"Too large resource version: {future}, current: ")
    assert st["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"
