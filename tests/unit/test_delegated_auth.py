"""Delegated authentication/authorization pieces that need no apiserver: how callers and actions are named,
how long answers are kept, and the CSR approval rules of the API strategy."""

from __future__ import annotations

from api import strategy
from client.delegated_auth import Action, Caller, TTLCache, certificate_caller
from kubelet.server_auth import kubelet_action


def test_kubelet_paths_map_to_node_subresources():
    assert kubelet_action("GET", "/stats/summary", "n1") == Action("get", resource="nodes", subresource="stats",
                                                                    name="n1")
    assert kubelet_action("GET", "/metrics/resource", "n1").subresource == "metrics"
    assert kubelet_action("GET", "/logs/", "n1").subresource == "log"
    assert kubelet_action("GET", "/spec/", "n1").subresource == "spec"
    assert kubelet_action("GET", "/containerLogs/default/p/c", "n1").subresource == "proxy"
    assert kubelet_action("POST", "/exec/default/p/c", "n1").verb == "create"
    assert kubelet_action("GET", "/statsz", "n1").subresource == "proxy"  # a prefix match needs a path boundary


def test_review_specs():
    resource = Action("get", resource="nodes", subresource="log", name="n1")
    assert resource.review_spec() == {"resourceAttributes": {"verb": "get", "resource": "nodes",
                                                             "subresource": "log", "name": "n1"}}
    assert Action("get", path="/metrics").review_spec() == {"nonResourceAttributes": {"path": "/metrics",
                                                                                      "verb": "get"}}
    assert Caller("u", "id", ("g",)).user_info() == {"user": "u", "groups": ["g"], "uid": "id"}


def test_certificate_caller_reads_cn_and_organizations():
    peer = {"subject": ((("organizationName", "system:nodes"),), (("commonName", "system:node:n1"),))}
    assert certificate_caller(peer) == Caller("system:node:n1", "", ("system:nodes", "system:authenticated"))
    assert certificate_caller(None) is None
    assert certificate_caller({"subject": ((("organizationName", "x"),),)}) is None


def test_ttl_cache_expires_entries():
    now = [0.0]
    cache = TTLCache(lambda: now[0], limit=2)
    cache.put("a", True, 10)
    assert cache.get("a") is True
    now[0] = 10.0
    assert cache.get("a") is None
    cache.put("b", 1, 5)
    cache.put("c", 2, 5)
    cache.put("d", 3, 5)  # over the limit with nothing expired: the cache starts afresh
    assert cache.get("d") == 3 and cache.get("b") is None


def _csr(conditions: list[dict[str, str]], certificate: str = "") -> dict[str, object]:
    status: dict[str, object] = {"conditions": conditions}
    if certificate:
        status["certificate"] = certificate
    return {"metadata": {"name": "c"}, "spec": {"signerName": "example.com/x", "request": "cg=="}, "status": status}


def test_approval_updates_change_only_conditions():
    old = _csr([], certificate="Y2VydA==")
    new = _csr([{"type": "Approved", "status": "True"}])
    new["spec"] = {"signerName": "example.com/other", "request": "cg=="}
    out = strategy.prepare_for_approval_update(new, old)
    assert out["spec"] == old["spec"]
    assert out["status"] == {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "Y2VydA=="}


def test_status_updates_cannot_approve_or_unapprove():
    old = _csr([{"type": "Approved", "status": "True"}])
    new = _csr([{"type": "Denied", "status": "True"}, {"type": "Failed", "status": "True"}], certificate="eA==")
    out = strategy.csr_status_keeps_approval(new, old)
    assert [c["type"] for c in out["status"]["conditions"]] == ["Approved", "Failed"]


def test_the_requester_is_recorded_from_the_caller():
    csr = {"spec": {"username": "forged", "groups": ["system:masters"], "extra": {"k": ["v"]}}}
    strategy.set_csr_requester(csr, "alice", "", ("devs", "system:authenticated"))
    assert csr["spec"] == {"username": "alice", "groups": ["devs", "system:authenticated"]}
