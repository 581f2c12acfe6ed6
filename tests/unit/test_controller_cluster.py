"""Namespace deletion, ServiceAccount/root CA upkeep, and the garbage collector."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from apiserver.authn.serviceaccount_tokens import ServiceAccountKeys, read_claims
from client.rest import ResourceRef
from controller_manager import garbagecollector as gc
from controller_manager import namespace, serviceaccount
from controller_manager.actions import Create, Delete, RequeueAfter, RequireAbsent, Update
from controller_manager.legacy_tokens import TokenSigner
from controller_manager.view import CONFIG_MAPS, DEPLOYMENTS, NAMESPACES, PODS, REPLICA_SETS, SECRETS, SERVICE_ACCOUNTS
from tests.unit.controller_fixtures import Conflict, FakeCluster
from tinykube.pki import new_signing_key, public_pem

KINDS = {("apps/v1", "Deployment"): DEPLOYMENTS, ("apps/v1", "ReplicaSet"): REPLICA_SETS, ("v1", "Pod"): PODS}


def owner_ref(obj: dict[str, Any], block: bool = True) -> dict[str, Any]:
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": block}


def chain(c: FakeCluster) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    d = c.add(DEPLOYMENTS, {"metadata": {"name": "web", "namespace": "ns"}, "spec": {}})
    rs = c.add(REPLICA_SETS, {"metadata": {"name": "web-1", "namespace": "ns", "ownerReferences": [owner_ref(d)]},
                              "spec": {}})
    pods = [c.add(PODS, {"metadata": {"name": f"web-1-{i}", "namespace": "ns", "ownerReferences": [owner_ref(rs)]},
                         "spec": {}}) for i in range(2)]
    return d, rs, pods


def collect(c: FakeCluster, rounds: int = 8) -> None:
    """Run the collector over every object until nothing changes."""
    for _ in range(rounds):
        for res in (DEPLOYMENTS, REPLICA_SETS, PODS):
            for obj in c.all(res):
                c.apply(gc.reconcile(c, KINDS, res, obj["metadata"].get("namespace"), obj["metadata"]["name"]))


def test_background_deletion_collects_the_whole_chain():
    c = FakeCluster()
    chain(c)
    c.delete(DEPLOYMENTS, "ns", "web")
    collect(c)
    assert not c.all(REPLICA_SETS) and not c.all(PODS)


def test_foreground_deletion_waits_for_blocking_dependents():
    c = FakeCluster()
    chain(c)
    c.delete(DEPLOYMENTS, "ns", "web", propagation="Foreground")
    d = c.get(DEPLOYMENTS, "ns", "web")
    assert d["metadata"]["finalizers"] == ["foregroundDeletion"]
    # one pass over the deployment: the ReplicaSet (which has pods) is deleted in the foreground too
    c.apply(gc.reconcile(c, KINDS, DEPLOYMENTS, "ns", "web"))
    rs = c.get(REPLICA_SETS, "ns", "web-1")
    assert rs["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert c.get(DEPLOYMENTS, "ns", "web") is not None
    collect(c)
    assert not c.all(PODS) and not c.all(REPLICA_SETS) and not c.all(DEPLOYMENTS)


def test_orphan_deletion_releases_dependents():
    c = FakeCluster()
    chain(c)
    c.delete(DEPLOYMENTS, "ns", "web", propagation="Orphan")
    collect(c)
    assert not c.all(DEPLOYMENTS)
    (rs,) = c.all(REPLICA_SETS)
    assert not rs["metadata"].get("ownerReferences")
    assert len(c.all(PODS)) == 2


def test_dangling_reference_is_pruned_when_another_owner_lives():
    c = FakeCluster()
    _, rs, pods = chain(c)
    other = c.add(REPLICA_SETS, {"metadata": {"name": "other", "namespace": "ns"}, "spec": {}})
    pod = dict(pods[0])
    pod["metadata"] = {**pod["metadata"], "ownerReferences": [
        owner_ref(rs), {**owner_ref(other), "controller": False}]}
    c.put(PODS, pod)
    c.remove(REPLICA_SETS, "ns", "web-1")
    actions = gc.reconcile(c, KINDS, PODS, "ns", pods[0]["metadata"]["name"])
    assert isinstance(actions[0], RequireAbsent)
    c.apply(actions)
    refs = c.get(PODS, "ns", pods[0]["metadata"]["name"])["metadata"]["ownerReferences"]
    assert [r["name"] for r in refs] == ["other"]


def test_owner_missing_from_cache_is_confirmed_before_deleting():
    c = FakeCluster()
    _, _, pods = chain(c)
    actions = gc.reconcile(c, {("v1", "Pod"): PODS, ("apps/v1", "ReplicaSet"): ResourceRef(
        "apps", "v1", "replicasets", True, "ReplicaSet")}, PODS, "ns", pods[0]["metadata"]["name"])
    assert actions == []  # owner present: nothing to do
    hidden = FakeCluster()
    hidden.objects = {k: v for k, v in c.objects.items() if k[0] != REPLICA_SETS}
    actions = gc.reconcile(hidden, KINDS, PODS, "ns", pods[0]["metadata"]["name"])
    assert [type(a) for a in actions] == [RequireAbsent, Delete]
    with pytest.raises(Conflict):
        c.apply(actions)  # the live read finds the owner: the delete never runs
    assert c.get(PODS, "ns", pods[0]["metadata"]["name"]) is not None


def test_unknown_owner_kind_is_never_guessed():
    c = FakeCluster()
    c.add(PODS, {"metadata": {"name": "p", "namespace": "ns", "ownerReferences": [
        {"apiVersion": "example.com/v1", "kind": "Widget", "name": "w", "uid": "u1"}]}, "spec": {}})
    assert gc.reconcile(c, KINDS, PODS, "ns", "p") == []


# --- namespaces -----------------------------------------------------------------------------------

def test_namespace_deletion_deletes_content_then_finalizes():
    c = FakeCluster()
    c.add(NAMESPACES, {"metadata": {"name": "ns"}, "spec": {"finalizers": ["kubernetes"]},
                       "status": {"phase": "Active"}})
    c.add(PODS, {"metadata": {"name": "p", "namespace": "ns", "finalizers": ["example.com/hold"]}, "spec": {}})
    c.add(SERVICE_ACCOUNTS, {"metadata": {"name": "default", "namespace": "ns"}})
    c.delete(NAMESPACES, None, "ns")
    resources = [PODS, SERVICE_ACCOUNTS, DEPLOYMENTS]
    actions = namespace.reconcile(c, "ns", resources, c.clock.now)
    assert sum(isinstance(a, Delete) for a in actions) == 2
    assert any(isinstance(a, RequeueAfter) for a in actions)
    c.apply(actions)
    ns = c.get(NAMESPACES, None, "ns")
    assert ns["status"]["phase"] == "Terminating"
    c.apply(namespace.reconcile(c, "ns", resources, c.clock.now))
    conds = {cd["type"]: cd for cd in c.get(NAMESPACES, None, "ns")["status"]["conditions"]}
    assert conds["NamespaceContentRemaining"]["message"] == \
        "Some resources are remaining: pods has 1 resource instances"
    assert conds["NamespaceFinalizersRemaining"]["message"] == \
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
    c.remove(PODS, "ns", "p")  # its finalizer's owner let go
    actions = namespace.reconcile(c, "ns", resources, c.clock.now)
    assert isinstance(actions[-1], Update) and actions[-1].subresource == "finalize"
    c.apply(actions)
    assert c.get(NAMESPACES, None, "ns") is None


def test_active_namespace_is_not_touched():
    c = FakeCluster()
    c.add(NAMESPACES, {"metadata": {"name": "ns"}, "spec": {"finalizers": ["kubernetes"]}})
    c.add(PODS, {"metadata": {"name": "p", "namespace": "ns"}, "spec": {}})
    assert namespace.reconcile(c, "ns", [PODS], c.clock.now) == []


# --- service accounts ----------------------------------------------------------------------------------

def test_default_service_account_and_root_ca_per_active_namespace():
    c = FakeCluster()
    c.add(NAMESPACES, {"metadata": {"name": "ns"}, "status": {"phase": "Active"}})
    actions = serviceaccount.reconcile_service_accounts(c, "ns") + serviceaccount.reconcile_root_ca(c, "ns", "PEM1")
    assert [type(a) for a in actions] == [Create, Create]
    c.apply(actions)
    assert c.get(SERVICE_ACCOUNTS, "ns", "default") is not None
    assert c.get(CONFIG_MAPS, "ns", "kube-root-ca.crt")["data"] == {"ca.crt": "PEM1"}
    assert serviceaccount.reconcile_service_accounts(c, "ns") == []
    assert serviceaccount.reconcile_root_ca(c, "ns", "PEM1") == []
    (update,) = serviceaccount.reconcile_root_ca(c, "ns", "PEM2")
    assert isinstance(update, Update) and update.body["data"] == {"ca.crt": "PEM2"}
    terminating = c.get(NAMESPACES, None, "ns")
    terminating["status"]["phase"] = "Terminating"
    c.put(NAMESPACES, terminating)
    c.remove(SERVICE_ACCOUNTS, "ns", "default")
    assert serviceaccount.reconcile_service_accounts(c, "ns") == []


def test_token_secrets_of_vanished_service_accounts_are_deleted():
    c = FakeCluster()
    sa = c.add(SERVICE_ACCOUNTS, {"metadata": {"name": "builder", "namespace": "ns"}})
    for name, uid in (("live", sa["metadata"]["uid"]), ("stale", "old-uid")):
        c.add(SECRETS, {"metadata": {"name": name, "namespace": "ns", "annotations": {
            serviceaccount.SA_NAME_ANNOTATION: "builder", serviceaccount.SA_UID_ANNOTATION: uid}},
            "type": serviceaccount.TOKEN_SECRET_TYPE})
    c.add(SECRETS, {"metadata": {"name": "plain", "namespace": "ns"}, "type": "Opaque"})
    assert serviceaccount.reconcile_token_secret(c, "ns", "live") == []
    assert serviceaccount.reconcile_token_secret(c, "ns", "plain") == []
    assert [type(a) for a in serviceaccount.reconcile_token_secret(c, "ns", "stale")] == [Delete]
    c.remove(SERVICE_ACCOUNTS, "ns", "builder")
    assert [type(a) for a in serviceaccount.reconcile_token_secret(c, "ns", "live")] == [Delete]


def _token_secret(c: FakeCluster, name: str, account: str, **extra: Any) -> dict[str, Any]:
    return c.add(SECRETS, {"metadata": {"name": name, "namespace": "ns", "annotations": {
        serviceaccount.SA_NAME_ANNOTATION: account}}, "type": serviceaccount.TOKEN_SECRET_TYPE, **extra})


def test_token_secret_gets_a_token_the_apiserver_accepts(tmp_path: Path):
    key = new_signing_key()
    signer = TokenSigner(key)
    c = FakeCluster()
    sa = c.add(SERVICE_ACCOUNTS, {"metadata": {"name": "builder", "namespace": "ns"}})
    _token_secret(c, "builder-token", "builder")
    (update,) = serviceaccount.reconcile_token_secret(c, "ns", "builder-token", signer.sign, "PEM")
    assert isinstance(update, Update)
    data = {k: base64.b64decode(v).decode() for k, v in update.body["data"].items()}
    assert data["namespace"] == "ns" and data["ca.crt"] == "PEM"
    assert update.body["metadata"]["annotations"][serviceaccount.SA_UID_ANNOTATION] == sa["metadata"]["uid"]
    # The apiserver's own verifier (signature and claims) accepts what the controller signed.
    (tmp_path / "sa.pub").write_bytes(public_pem(key))
    keys = ServiceAccountKeys(None, [tmp_path / "sa.pub"])
    claims = read_claims(keys.verified_claims(data["token"]), frozenset())
    assert (claims.namespace, claims.account.name, claims.account.uid, claims.legacy_secret) == \
        ("ns", "builder", sa["metadata"]["uid"], "builder-token")
    assert claims.expires is None
    c.apply([update])
    assert serviceaccount.reconcile_token_secret(c, "ns", "builder-token", signer.sign, "PEM") == []


def test_token_secret_keeps_its_token_and_refreshes_a_changed_ca():
    c = FakeCluster()
    c.add(SERVICE_ACCOUNTS, {"metadata": {"name": "builder", "namespace": "ns"}})
    _token_secret(c, "t", "builder", data={"token": base64.b64encode(b"kept").decode()})
    signer = TokenSigner(new_signing_key())
    (update,) = serviceaccount.reconcile_token_secret(c, "ns", "t", signer.sign, "NEW-CA")
    assert isinstance(update, Update)
    assert base64.b64decode(update.body["data"]["token"]) == b"kept"
    assert base64.b64decode(update.body["data"]["ca.crt"]) == b"NEW-CA"


def test_token_secret_without_signer_or_account():
    c = FakeCluster()
    c.add(SERVICE_ACCOUNTS, {"metadata": {"name": "builder", "namespace": "ns"}})
    _token_secret(c, "t", "builder")
    _token_secret(c, "orphan", "nobody")
    assert serviceaccount.reconcile_token_secret(c, "ns", "t", None, "PEM") == []
    signer = TokenSigner(new_signing_key())
    assert [type(a) for a in serviceaccount.reconcile_token_secret(c, "ns", "orphan", signer.sign, "PEM")] == [Delete]


def test_token_signer_refuses_non_rsa_keys():
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(ValueError, match="RSA"):
        TokenSigner.from_pem(pem)
