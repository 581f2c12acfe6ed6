"""Protobuf request bodies, as captured from real kubectl 1.32 (`kubectl create …` against a recording server)."""

import pytest

from api import defaulting, protobuf, validation
from api.catalog import REGISTRY, type_name_for

CONFIGMAP = bytes.fromhex(
    "6b3873000a0f0a0276311209436f6e6669674d617012250a130a03636d3112001a0022002a0032003800420012060a016112016212060a"
    "01631201641a002200"
)
DEPLOYMENT = bytes.fromhex(
    "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412bd010a1f0a0377656212001a0022002a003200380042005a0a0a03"
    "6170701203776562128b010802120c0a0a0a0361707012037765621a710a1c0a0012001a0022002a003200380042005a0a0a0361707012"
    "03776562125112330a056e67696e78120a6e67696e783a312e32352a00320a0a001000185022002a0042006a007200800100880100900100"
    "a201001a00320042004a0052005800600068008201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a0022"
    "00"
)
SECRET = bytes.fromhex(
    "6b3873000a0c0a0276311206536563726574121e0a120a02733112001a0022002a0032003800420012060a016b1201761a001a002200"
)
SERVICE = bytes.fromhex(
    "6b3873000a0d0a027631120753657276696365126c0a210a047376633112001a0022002a003200380042005a0b0a036170701204737663"
    "3112430a1b0a0738302d38303830120354435018502207080010903f1a002800120b0a036170701204737663311a002209436c75737465"
    "7249503a00420052005a00600068001a020a001a002200"
)
SELF_SUBJECT_ACCESS_REVIEW = bytes.fromhex(
    "6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a65637441636365737352657669"
    "6577123f0a100a0012001a0022002a0032003800420012210a1f0a0764656661756c7412066372656174651a0022002a04706f647332003a"
    "001a08080012001a0020001a002200"
)
TOKEN_REQUEST = bytes.fromhex(
    "6b3873000a280a1861757468656e7469636174696f6e2e6b38732e696f2f7631120c546f6b656e52657175657374121d0a100a00120"
    "01a0022002a00320038004200120320d8041a040a0012001a002200"
)


def _decode(body):
    return protobuf.decode(REGISTRY, body, type_name_for)


def test_configmap_and_secret():
    assert _decode(CONFIGMAP) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm1"},
        "data": {"a": "b", "c": "d"},
    }
    assert _decode(SECRET) == {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1"}, "data": {"k": "dg=="}}


def test_deployment_decodes_defaults_and_validates():
    dep = _decode(DEPLOYMENT)
    assert dep["metadata"] == {"name": "web", "labels": {"app": "web"}}
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["template"]["spec"]["containers"] == [
        {"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}], "resources": {}}
    ]
    dep["metadata"]["namespace"] = "default"
    defaulting.apply_defaults(REGISTRY, "io.k8s.api.apps.v1.Deployment", dep)
    assert dep["spec"]["strategy"]["type"] == "RollingUpdate"
    res = REGISTRY.require("apps", "v1", "deployments")
    assert validation.validate(REGISTRY, res, dep) == []


def test_service_int_or_string_and_enums():
    svc = _decode(SERVICE)
    assert svc["spec"]["ports"] == [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}]
    assert svc["spec"]["type"] == "ClusterIP"


def test_review_kinds():
    assert _decode(SELF_SUBJECT_ACCESS_REVIEW)["spec"] == {
        "resourceAttributes": {"namespace": "default", "verb": "create", "resource": "pods"}
    }
    token = _decode(TOKEN_REQUEST)
    assert (token["apiVersion"], token["kind"], token["spec"]) == (
        "authentication.k8s.io/v1",
        "TokenRequest",
        {"expirationSeconds": 600},
    )
    # What kubectl sends must pass validation as sent (audiences default on the server).
    for body in (SELF_SUBJECT_ACCESS_REVIEW, TOKEN_REQUEST):
        obj = _decode(body)
        type_name = type_name_for(obj["apiVersion"], obj["kind"])
        assert type_name is not None
        assert validation.validate_object(REGISTRY, type_name, obj) == []


def test_special_messages():
    # Time {seconds, nanos}, Duration {ns}, IntOrString, Quantity: hand-built field values.
    assert protobuf._time(bytes.fromhex("0880ace3ba06"), micro=False) == "2024-12-11T00:00:00Z"
    assert protobuf.go_duration(3_723_500_000_000) == "1h2m3.5s"
    assert protobuf.go_duration(300_000_000) == "300ms"
    assert protobuf.go_duration(0) == "0s"


@pytest.mark.parametrize("body", [b"", b"k8s", b"nope" + CONFIGMAP[4:], CONFIGMAP[:-5]])
def test_malformed_bodies(body):
    with pytest.raises(protobuf.ProtobufError):
        _decode(body)


def test_unknown_kind():
    body = bytearray(CONFIGMAP)
    body[12:21] = b"ConfigMaq"
    with pytest.raises(protobuf.ProtobufError, match="no kind 'ConfigMaq'"):
        _decode(bytes(body))


def _field(number: int, payload: bytes) -> bytes:
    return bytes([number << 3 | 2, len(payload)]) + payload


def test_wrapped_lists_and_quantities():
    # A TokenReview status user with extra={"scopes": ["a", "b"]}, and a ResourceQuota hard={"cpu": "1"}.
    extra_entry = _field(1, b"scopes") + _field(2, _field(1, b"a") + _field(1, b"b"))
    user = _field(1, b"bob") + _field(4, extra_entry)
    body = protobuf.MAGIC + _field(1, _field(1, b"authentication.k8s.io/v1") + _field(2, b"TokenReview"))
    status = _field(3, b"\x08\x01" + _field(2, user))
    decoded = _decode(body + _field(2, status))
    assert decoded["status"] == {"authenticated": True, "user": {"username": "bob", "extra": {"scopes": ["a", "b"]}}}
    quota = _field(1, _field(1, b"cpu") + _field(2, _field(1, b"1")))
    body = protobuf.MAGIC + _field(1, _field(1, b"v1") + _field(2, b"ResourceQuota")) + _field(2, _field(2, quota))
    assert _decode(body)["spec"] == {"hard": {"cpu": "1"}}
