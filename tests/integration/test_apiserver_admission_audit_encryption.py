"""Admission, encryption at rest and audit on a real store and apiserver, driven by real kubectl and etcdctl.

The store is read directly (etcdctl, as an operator would) to prove what is and is not written: Secrets only
as `k8s:enc:aesgcm:v1:<key>:` values, nothing for objects admission refused.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.apiserver_cluster import ApiserverCluster
from tests.support.ports import free_port
from tests.support.processes import Processes

pytestmark = pytest.mark.slow

NODE1_TOKEN = "node1-" + uuid.uuid4().hex
ADMIN_NS = "default"


def encryption_config(path: Path, *keys: tuple[str, bytes]) -> Path:
    """An EncryptionConfiguration for secrets: aesgcm with `keys` (the first writes), then identity."""
    doc = {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [
            {
                "resources": ["secrets"],
                "providers": [
                    {"aesgcm": {"keys": [{"name": n, "secret": base64.b64encode(k).decode()} for n, k in keys]}},
                    {"identity": {}},
                ],
            }
        ],
    }
    path.write_text(yaml.safe_dump(doc))
    return path


def stored_secrets(cluster: ApiserverCluster, prefix: str = "/registry/secrets/") -> dict[str, bytes]:
    """Raw store values of every Secret, read with etcdctl."""
    out = cluster.store.json("get", "--prefix", prefix)
    assert isinstance(out, dict)
    return {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv["value"]) for kv in out.get("kvs") or []}


def start(tmp_path_factory: pytest.TempPathFactory, name: str) -> tuple[ApiserverCluster, Processes]:
    root = tmp_path_factory.mktemp(name)
    procs = Processes(root / "logs")
    c = ApiserverCluster(procs, free_port, root, apiservers=0)
    c.start()
    return c, procs


def stop_apiservers(c: ApiserverCluster) -> None:
    for server in c.apiservers:
        server.proc.terminate()
        server.proc.wait(10)
    c.apiservers.clear()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiserverCluster]:
    """One apiserver with encryption, a RequestResponse audit policy, every default admission plugin plus
    NodeRestriction, and a static token for the kubelet identity system:node:node1."""
    c, procs = start(tmp_path_factory, "secure")
    try:
        tokens = c.root / "tokens.csv"
        tokens.write_text(f'{NODE1_TOKEN},system:node:node1,uid-node1,"system:nodes"\n')
        policy = c.root / "audit-policy.yaml"
        policy.write_text(
            yaml.safe_dump({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "RequestResponse"}]})
        )
        c.add_apiserver(
            "secure",
            "--encryption-provider-config",
            str(encryption_config(c.root / "enc.yaml", ("key1", os.urandom(32)))),
            "--audit-log-path",
            str(c.root / "audit" / "audit.log"),
            "--audit-policy-file",
            str(policy),
            "--disable-admission-plugins=",
            "--enable-admission-plugins=NodeRestriction",
            "--token-auth-file",
            str(tokens),
        )
        yield c
    finally:
        procs.stop_all()


def apply(cluster: ApiserverCluster, *docs: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", stdin="\n---\n".join(json.dumps(d) for d in docs))


def namespace(cluster: ApiserverCluster, *, account: bool = True) -> str:
    """A fresh namespace, with the `default` ServiceAccount the controller-manager would create in it."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    if account:
        cluster.kubectl("create", "serviceaccount", "default", "-n", name)
    return name


def pod(name: str, ns: str, **spec: Any) -> dict[str, Any]:
    containers = spec.pop("containers", [{"name": "app", "image": "busybox"}])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"containers": containers, **spec},
    }


def post(cluster: ApiserverCluster, path: str, obj: dict[str, Any], **kw: Any) -> tuple[int, dict[str, Any]]:
    return cluster.request("POST", path, json.dumps(obj).encode(), **kw)


# ---- encryption at rest ----


def test_secrets_are_stored_encrypted_and_read_back(cluster: ApiserverCluster) -> None:
    name = f"enc-{uuid.uuid4().hex[:8]}"
    value = f"hunter2-{uuid.uuid4().hex}"
    cluster.kubectl("create", "secret", "generic", name, f"--from-literal=password={value}", "-n", ADMIN_NS)
    raw = stored_secrets(cluster)[f"/registry/secrets/{ADMIN_NS}/{name}"]
    assert raw.startswith(b"k8s:enc:aesgcm:v1:key1:")
    assert value.encode() not in raw and base64.b64encode(value.encode()) not in raw and name.encode() not in raw
    got = cluster.kubectl_json("get", "secret", name, "-n", ADMIN_NS)
    assert base64.b64decode(got["data"]["password"]).decode() == value
    # Other resources are not covered by the configuration: stored as JSON.
    cluster.kubectl("create", "configmap", name, "--from-literal=k=v", "-n", ADMIN_NS)
    plain = cluster.store.ok("get", f"/registry/configmaps/{ADMIN_NS}/{name}", "--print-value-only")
    assert json.loads(plain)["data"] == {"k": "v"}


def test_key_rotation_rewrite_leaves_only_the_new_key(tmp_path_factory: pytest.TempPathFactory) -> None:
    c, procs = start(tmp_path_factory, "rotation")
    try:
        key1, key2 = os.urandom(32), os.urandom(32)
        c.add_apiserver("plain")  # Secrets written before encryption was configured
        c.kubectl("create", "secret", "generic", "legacy", "--from-literal=v=before-encryption", "-n", "kube-system")
        stop_apiservers(c)
        c.add_apiserver(
            "old-key", "--encryption-provider-config", str(encryption_config(c.root / "e1.yaml", ("key1", key1)))
        )
        values = {f"s{i}": f"secret-value-{i}-{uuid.uuid4().hex}" for i in range(5)}
        for name, value in values.items():
            c.kubectl("create", "secret", "generic", name, f"--from-literal=v={value}", "-n", ADMIN_NS)
        before = stored_secrets(c)
        assert before["/registry/secrets/kube-system/legacy"].startswith(b'{"')
        assert all(before[f"/registry/secrets/{ADMIN_NS}/{n}"].startswith(b"k8s:enc:aesgcm:v1:key1:") for n in values)
        # Rotation step 1 (Kubernetes' procedure): the new key first, the old one still readable.
        stop_apiservers(c)
        rotated = encryption_config(c.root / "e2.yaml", ("key2", key2), ("key1", key1))
        c.add_apiserver("new-key", "--encryption-provider-config", str(rotated))
        # Step 2: rewrite every Secret with the current key, exactly as the Kubernetes docs say.
        listed = c.kubectl("get", "secrets", "-A", "-o", "json").stdout
        c.kubectl("replace", "-f", "-", stdin=listed)
        after = stored_secrets(c)
        assert after.keys() == before.keys()
        assert {v[: len(b"k8s:enc:aesgcm:v1:key2:")] for v in after.values()} == {b"k8s:enc:aesgcm:v1:key2:"}
        for name, value in values.items():
            got = c.kubectl_json("get", "secret", name, "-n", ADMIN_NS)
            assert base64.b64decode(got["data"]["v"]).decode() == value
        legacy = c.kubectl_json("get", "secret", "legacy", "-n", "kube-system")
        assert base64.b64decode(legacy["data"]["v"]) == b"before-encryption"
        # Step 3: the old key can go; everything still reads.
        stop_apiservers(c)
        c.add_apiserver(
            "only-new", "--encryption-provider-config", str(encryption_config(c.root / "e3.yaml", ("key2", key2)))
        )
        assert len(c.kubectl_json("get", "secrets", "-A")["items"]) == len(after)
        # A wrong key fails cleanly: a Status 500 naming the key, not a crash.
        c.add_apiserver(
            "wrong", "--encryption-provider-config", str(encryption_config(c.root / "e4.yaml", ("key2", key1)))
        )
        code, body = c.request("GET", f"/api/v1/namespaces/{ADMIN_NS}/secrets/s0", server=1)
        assert code == 500 and body["kind"] == "Status"
        assert body["message"] == (
            f'Internal error occurred: unable to transform key "/registry/secrets/{ADMIN_NS}/s0": '
            "cipher: message authentication failed"
        )
    finally:
        procs.stop_all()


# ---- admission ----


def test_quota_exceeded_is_403_and_nothing_is_stored(cluster: ApiserverCluster) -> None:
    ns = namespace(cluster)
    apply(
        cluster,
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "q", "namespace": ns},
            "spec": {"hard": {"pods": "3"}},
        },
    )
    # What the quota controller writes first; admission keeps `used` current from then on.
    quota = cluster.kubectl_json("get", "resourcequota", "q", "-n", ns)
    quota["status"] = {"hard": {"pods": "3"}, "used": {"pods": "0"}}
    code, _ = cluster.request("PUT", f"/api/v1/namespaces/{ns}/resourcequotas/q/status", json.dumps(quota).encode())
    assert code == 200
    # Eight concurrent creates against a quota of three: exactly three get in, whatever the interleaving.
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: post(cluster, f"/api/v1/namespaces/{ns}/pods", pod(f"p{i}", ns))[0], range(8)))
    assert sorted(codes) == [201] * 3 + [403] * 5
    stored = cluster.store.ok("get", "--prefix", f"/registry/pods/{ns}/", "--keys-only").split()
    assert len(stored) == 3
    assert cluster.kubectl_json("get", "resourcequota", "q", "-n", ns)["status"]["used"] == {"pods": "3"}
    code, body = post(cluster, f"/api/v1/namespaces/{ns}/pods", pod("late", ns))
    assert (code, body["reason"]) == (403, "Forbidden")
    assert body["message"] == (
        'pods "late" is forbidden: exceeded quota: q, requested: pods=1, used: pods=3, limited: pods=3'
    )
    assert cluster.store.ok("get", f"/registry/pods/{ns}/late") == ""
    refused = cluster.kubectl("run", "viakubectl", "--image=busybox", "-n", ns, check=False)
    assert refused.returncode != 0 and "exceeded quota: q" in refused.stderr


def test_limit_range_defaults_and_bounds(cluster: ApiserverCluster) -> None:
    ns = namespace(cluster)
    limits = {
        "type": "Container",
        "default": {"cpu": "500m", "memory": "128Mi"},
        "defaultRequest": {"cpu": "100m"},
        "max": {"cpu": "1"},
    }
    apply(
        cluster,
        {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": {"name": "lr", "namespace": ns},
            "spec": {"limits": [limits]},
        },
    )
    cluster.kubectl("run", "defaulted", "--image=busybox", "-n", ns)
    got = cluster.kubectl_json("get", "pod", "defaulted", "-n", ns)
    assert got["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "500m", "memory": "128Mi"},
        "requests": {"cpu": "100m", "memory": "128Mi"},
    }
    assert got["status"]["qosClass"] == "Burstable"
    assert got["metadata"]["annotations"]["kubernetes.io/limit-ranger"].startswith(
        "LimitRanger plugin set: cpu, memory request"
    )
    big = pod("big", ns, containers=[{"name": "app", "image": "busybox", "resources": {"limits": {"cpu": "2"}}}])
    code, body = post(cluster, f"/api/v1/namespaces/{ns}/pods", big)
    assert code == 403
    assert body["message"] == 'pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2'
    assert cluster.store.ok("get", f"/registry/pods/{ns}/big") == ""


def test_service_account_admission(cluster: ApiserverCluster) -> None:
    ns = namespace(cluster, account=False)
    code, body = post(cluster, f"/api/v1/namespaces/{ns}/pods", pod("early", ns))
    assert code == 403
    assert body["message"] == (
        f'pods "early" is forbidden: error looking up service account {ns}/default: serviceaccount "default" not found'
    )
    cluster.kubectl("create", "serviceaccount", "default", "-n", ns)
    apply(
        cluster,
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "quiet", "namespace": ns},
            "automountServiceAccountToken": False,
        },
    )
    cluster.kubectl("run", "mounted", "--image=busybox", "-n", ns)
    spec = cluster.kubectl_json("get", "pod", "mounted", "-n", ns)["spec"]
    assert spec["serviceAccountName"] == "default"
    (volume,) = spec["volumes"]
    assert volume["name"].startswith("kube-api-access-")
    assert [s for src in volume["projected"]["sources"] for s in src] == [
        "serviceAccountToken",
        "configMap",
        "downwardAPI",
    ]
    assert spec["containers"][0]["volumeMounts"] == [
        {"name": volume["name"], "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
    ]
    assert {t["key"]: t["tolerationSeconds"] for t in spec["tolerations"]} == {
        "node.kubernetes.io/not-ready": 300,
        "node.kubernetes.io/unreachable": 300,
    }
    cluster.kubectl(
        "run",
        "unmounted",
        "--image=busybox",
        "-n",
        ns,
        "--overrides",
        json.dumps({"spec": {"serviceAccountName": "quiet"}}),
    )
    assert "volumes" not in cluster.kubectl_json("get", "pod", "unmounted", "-n", ns)["spec"]


def test_node_restriction_limits_a_kubelet_to_its_own_objects(cluster: ApiserverCluster) -> None:
    node = {"Authorization": f"Bearer {NODE1_TOKEN}"}
    for name in ("node1", "node2"):
        post(cluster, "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    code, body = cluster.request(
        "PATCH",
        "/api/v1/nodes/node2",
        b'{"metadata":{"labels":{"a":"b"}}}',
        headers={**node, "Content-Type": "application/merge-patch+json"},
        admin=False,
    )
    assert (code, body["message"]) == (
        403,
        'nodes "node2" is forbidden: node "node1" is not allowed to modify node "node2"',
    )
    code, _ = cluster.request(
        "PATCH",
        "/api/v1/nodes/node1",
        b'{"metadata":{"labels":{"kubernetes.io/hostname":"node1"}}}',
        headers={**node, "Content-Type": "application/merge-patch+json"},
        admin=False,
    )
    assert code == 200
    code, body = cluster.request(
        "PATCH",
        "/api/v1/nodes/node1",
        b'{"metadata":{"labels":{"node-restriction.kubernetes.io/pool":"x"}}}',
        headers={**node, "Content-Type": "application/merge-patch+json"},
        admin=False,
    )
    assert code == 403 and "not allowed to modify labels: node-restriction.kubernetes.io/pool" in body["message"]
    ns = namespace(cluster)  # with its ServiceAccount: ServiceAccount admission runs first
    code, body = post(
        cluster,
        f"/api/v1/namespaces/{ns}/pods",
        pod("sneaky", ns, nodeName="node1"),
        headers=node,
        admin=False,
    )
    assert code == 403 and 'node "node1" can only create mirror pods' in body["message"]


def test_immortal_namespaces_cannot_be_deleted(cluster: ApiserverCluster) -> None:
    code, body = cluster.request("DELETE", "/api/v1/namespaces/kube-public")
    assert (code, body["message"]) == (403, 'namespaces "kube-public" is forbidden: this namespace may not be deleted')


# ---- audit ----


def audit_events(cluster: ApiserverCluster) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (cluster.root / "audit" / "audit.log").read_text().splitlines()]


def test_audit_records_requests_and_never_secret_values(cluster: ApiserverCluster) -> None:
    name = f"audited-{uuid.uuid4().hex[:8]}"
    value = f"do-not-log-{uuid.uuid4().hex}"
    cluster.kubectl("create", "secret", "generic", name, f"--from-literal=password={value}", "-n", ADMIN_NS)
    cluster.kubectl("get", "secret", name, "-n", ADMIN_NS, "-o", "yaml")
    cluster.kubectl("create", "configmap", name, "--from-literal=visible=yes", "-n", ADMIN_NS)
    events = audit_events(cluster)
    mine = [e for e in events if (e.get("objectRef") or {}).get("name") == name or name in e["requestURI"]]
    secret_create = [e for e in mine if e["verb"] == "create" and e["objectRef"]["resource"] == "secrets"]
    assert [e["stage"] for e in secret_create] == ["RequestReceived", "ResponseComplete"]
    done = secret_create[1]
    assert done["level"] == "Metadata" and done["apiVersion"] == "audit.k8s.io/v1" and done["kind"] == "Event"
    assert done["auditID"] == secret_create[0]["auditID"]
    assert done["responseStatus"]["code"] == 201 and done["user"]["username"]
    assert done["objectRef"] == {"resource": "secrets", "namespace": ADMIN_NS, "name": name, "apiVersion": "v1"}
    assert done["sourceIPs"] == ["127.0.0.1"] and done["userAgent"].startswith("kubectl")
    assert "requestObject" not in done and "responseObject" not in done
    # Configmaps get what the policy asks for: the bodies.
    cm = next(
        e
        for e in mine
        if e["verb"] == "create" and e["objectRef"]["resource"] == "configmaps" and e["stage"] == "ResponseComplete"
    )
    assert cm["level"] == "RequestResponse"
    assert cm["requestObject"]["data"] == {"visible": "yes"} and cm["responseObject"]["metadata"]["uid"]
    text = (cluster.root / "audit" / "audit.log").read_text()
    logs = cluster.processes.log("secure")
    for leak in (value, base64.b64encode(value.encode()).decode(), NODE1_TOKEN):
        assert leak not in text and leak not in logs
