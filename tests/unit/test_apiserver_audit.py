"""Audit: the audit.k8s.io/v1 Policy evaluator, the events it produces (and what they never contain), rotation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from apiserver.audit import policy
from apiserver.audit.log import AuditLog, Event, capped
from apiserver.audit.policy import Decision, PolicyError
from apiserver.auth import User
from apiserver.authz.attributes import Attributes

ALICE = User("alice", "u-1", ("devs", "system:authenticated"))
KUBELET = User("system:node:node1", "", ("system:nodes", "system:authenticated"))

POLICY = policy.parse(
    {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": ["RequestReceived"],
        "rules": [
            {"level": "None", "users": ["system:kube-proxy"], "verbs": ["watch"]},
            {
                "level": "None",
                "userGroups": ["system:nodes"],
                "resources": [{"group": "", "resources": ["nodes/status"]}],
            },
            {"level": "None", "nonResourceURLs": ["/healthz*", "/version"]},
            {"level": "RequestResponse", "resources": [{"group": "apps", "resources": ["deployments/*"]}]},
            {"level": "Request", "resources": [{"group": "", "resources": ["configmaps"], "resourceNames": ["cfg"]}]},
            {"level": "Metadata", "resources": [{"group": "", "resources": ["*/status"]}]},
            {"level": "Request", "namespaces": ["team"], "omitStages": ["ResponseComplete"]},
            {"level": "Metadata", "omitStages": ["RequestReceived"]},
        ],
    }
)


def attrs(verb: str, resource: str = "", *, user: User = ALICE, **kw: Any) -> Attributes:
    if resource:
        return Attributes(user, verb, resource=resource, **kw)
    return Attributes(user, verb, path=kw.pop("path"), resource_request=False)


@pytest.mark.parametrize(
    ("request_attrs", "level"),
    [
        (attrs("watch", "pods", user=User("system:kube-proxy")), "None"),
        (attrs("get", "pods", user=User("system:kube-proxy")), "Metadata"),  # verbs narrow the first rule
        (attrs("update", "nodes", user=KUBELET, subresource="status"), "None"),
        (attrs("update", "nodes", user=ALICE, subresource="status"), "Metadata"),  # userGroups narrow the rule
        (attrs("get", path="/healthz/ready"), "None"),
        (attrs("get", path="/version"), "None"),
        (attrs("get", path="/metrics"), "Metadata"),
        (attrs("patch", "deployments", api_group="apps", subresource="scale"), "RequestResponse"),
        (attrs("patch", "deployments", api_group="apps"), "RequestResponse"),  # "deployments/*": it and all subs
        (attrs("get", "configmaps", name="cfg"), "Request"),
        (attrs("get", "configmaps", name="other", namespace="team"), "Request"),
        (attrs("get", "configmaps", name="other", namespace="prod"), "Metadata"),
        (attrs("update", "pods", subresource="status", namespace="team"), "Metadata"),  # */status is earlier
    ],
)
def test_first_matching_rule_decides(request_attrs: Attributes, level: str) -> None:
    assert POLICY.evaluate(request_attrs).level == level


def test_omit_stages_combine_policy_and_rule() -> None:
    decision = POLICY.evaluate(attrs("get", "pods", namespace="team"))
    assert decision.omit_stages == {"RequestReceived", "ResponseComplete"}
    assert (
        policy.parse({"apiVersion": "audit.k8s.io/v1", "kind": "Policy"}).evaluate(attrs("get", "pods")).level == "None"
    )


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"apiVersion": "audit.k8s.io/v1", "kind": "Other"}, "kind: must be Policy"),
        ({"apiVersion": "v1", "kind": "Policy"}, "apiVersion"),
        ({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "Everything"}]}, r"rules\[0\].level"),
        (
            {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "None", "omitStages": ["Late"]}]},
            "unknown stage",
        ),
        (
            {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "None", "users": "bob"}]},
            "list of strings",
        ),
        (
            {
                "apiVersion": "audit.k8s.io/v1",
                "kind": "Policy",
                "rules": [{"level": "None", "nonResourceURLs": ["/x"], "namespaces": ["a"]}],
            },
            "not both",
        ),
    ],
)
def test_bad_policies_are_refused_with_the_field(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        policy.parse(doc)


SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "data": {"password": "aHVudGVyMg=="}}


def event(decision: Decision, request_attrs: Attributes) -> Event:
    when = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    return Event(
        capped(decision, request_attrs),
        request_attrs,
        "/api/v1/namespaces/ns/secrets",
        ["10.0.0.1"],
        "kubectl/v1.32.0",
        when,
    )


def test_event_fields_at_request_response() -> None:
    a = attrs("create", "configmaps", namespace="ns", name="cfg", api_version="v1")
    e = event(Decision("RequestResponse"), a)
    done = e.record(
        "ResponseComplete",
        datetime(2024, 5, 1, 12, 0, 1, tzinfo=UTC),
        code=201,
        request_object={"a": 1},
        response_object={"b": 2},
    )
    assert done["kind"] == "Event" and done["apiVersion"] == "audit.k8s.io/v1"
    assert (done["level"], done["stage"], done["verb"]) == ("RequestResponse", "ResponseComplete", "create")
    assert done["user"] == {"username": "alice", "uid": "u-1", "groups": ["devs", "system:authenticated"]}
    assert done["objectRef"] == {"resource": "configmaps", "namespace": "ns", "name": "cfg", "apiVersion": "v1"}
    assert done["responseStatus"] == {"metadata": {}, "code": 201}
    assert (done["requestObject"], done["responseObject"]) == ({"a": 1}, {"b": 2})
    assert done["requestReceivedTimestamp"] == "2024-05-01T12:00:00.123456Z"
    assert done["stageTimestamp"] == "2024-05-01T12:00:01.000000Z"
    assert done["sourceIPs"] == ["10.0.0.1"] and done["userAgent"] == "kubectl/v1.32.0"
    metadata_only = event(Decision("Metadata"), a).record(
        "ResponseComplete", datetime.now(UTC), code=201, request_object={"a": 1}
    )
    assert "requestObject" not in metadata_only


@pytest.mark.parametrize(
    "sensitive",
    [
        attrs("create", "secrets", namespace="ns"),
        attrs("create", "serviceaccounts", namespace="ns", name="default", subresource="token"),
        attrs("create", "tokenreviews", api_group="authentication.k8s.io"),
    ],
)
def test_secrets_and_tokens_are_capped_at_metadata(sensitive: Attributes) -> None:
    e = event(Decision("RequestResponse"), sensitive)
    done = e.record("ResponseComplete", datetime.now(UTC), code=201, request_object=SECRET, response_object=SECRET)
    assert done["level"] == "Metadata"
    text = json.dumps(done)
    assert "aHVudGVyMg" not in text and "password" not in text


def test_audit_log_writes_lines_and_rotates_keeping_backups(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    log = AuditLog(str(path), max_size_mb=1, max_backups=2)
    line = {"pad": "x" * (300 * 1024)}
    for i in range(8):
        log.write({**line, "n": i})
    log.close()
    current = [json.loads(x)["n"] for x in path.read_text().splitlines()]
    backups = sorted(tmp_path.glob("audit-*.log"))
    assert len(backups) == 2
    assert all(p.stat().st_size <= 1024 * 1024 for p in [path, *backups])
    kept = [json.loads(x)["n"] for p in backups for x in p.read_text().splitlines()] + current
    assert kept == list(range(8 - len(kept), 8))  # the newest events, in order, none lost within what is kept
