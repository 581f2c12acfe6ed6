"""Container environment, ``$(VAR)`` expansion and argv composition, with Kubernetes' error wording."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import pytest

from kubelet.env import ContainerConfigError, effective_argv, expand, expand_command, make_environment

POD: dict[str, Any] = {
    "metadata": {"name": "web", "namespace": "prod", "uid": "u-1", "labels": {"app": "web"},
                 "annotations": {"team": "a"}},
    "spec": {"nodeName": "node1", "serviceAccountName": "default", "containers": []},
    "status": {"hostIP": "172.28.0.11", "podIP": "10.244.1.5", "podIPs": [{"ip": "10.244.1.5"}]},
}

CONFIG_MAPS = {("prod", "settings"): {"data": {"MODE": "fast", "LEVEL": "3", "bad key": "x"}}}
SECRETS = {("prod", "creds"): {"data": {"PASSWORD": base64.b64encode(b"s3cret").decode()}}}


def cm(ns: str, name: str) -> Mapping[str, Any] | None:
    return CONFIG_MAPS.get((ns, name))


def secret(ns: str, name: str) -> Mapping[str, Any] | None:
    return SECRETS.get((ns, name))


def env_of(container: dict[str, Any], **kw: Any) -> dict[str, str]:
    return make_environment(POD, container, config_maps=cm, secrets=secret, **kw).as_dict()


@pytest.mark.parametrize(("text", "expected"), [
    ("$(A)", "alpha"),
    ("x-$(A)-$(B)", "x-alpha-beta"),
    ("$(MISSING)", "$(MISSING)"),
    ("$$(A)", "$(A)"),
    ("$$", "$"),
    ("$(A", "$(A"),
    ("cost $5", "cost $5"),
    ("trailing $", "trailing $"),
    ("$()", "$()"),
])
def test_expand_matches_kubernetes(text: str, expected: str) -> None:
    assert expand(text, {"A": "alpha", "B": "beta"}) == expected


def test_env_order_sources_and_references() -> None:
    c = {"name": "c", "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"},
                                  {"secretRef": {"name": "creds"}}],
         "env": [{"name": "URL", "value": "http://$(CFG_MODE):$(PORT)"},
                 {"name": "PORT", "value": "80"},
                 {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "LEVEL"}}},
                 {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "PASSWORD"}}},
                 {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                 {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                 {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                 {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                 {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]}
    result = make_environment(POD, c, config_maps=cm, secrets=secret, service_env={"KUBERNETES_PORT": "443"})
    env = result.as_dict()
    assert env["URL"] == "http://fast:$(PORT)"  # PORT is defined later, so it stays verbatim
    assert env["CFG_MODE"] == "fast" and env["PASSWORD"] == "s3cret" and env["PW"] == "s3cret"
    assert (env["POD"], env["NS"], env["APP"], env["IP"], env["NODE"]) == (
        "web", "prod", "web", "10.244.1.5", "node1")
    assert env["LEVEL"] == "3" and env["KUBERNETES_PORT"] == "443"
    assert result.invalid_names == ["CFG_bad key"]
    assert [n for n, _ in result.env][:2] == ["KUBERNETES_PORT", "CFG_MODE"]


@pytest.mark.parametrize(("container", "message"), [
    ({"envFrom": [{"configMapRef": {"name": "nope"}}]}, 'configmap "nope" not found'),
    ({"envFrom": [{"secretRef": {"name": "nope"}}]}, 'secret "nope" not found'),
    ({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "NOPE"}}}]},
     "couldn't find key NOPE in ConfigMap prod/settings"),
    ({"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "NOPE"}}}]},
     "couldn't find key NOPE in Secret prod/creds"),
    ({"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "K"}}}]},
     'secret "gone" not found'),
])
def test_missing_sources_are_config_errors(container: dict[str, Any], message: str) -> None:
    with pytest.raises(ContainerConfigError) as err:
        env_of({"name": "c", **container})
    assert str(err.value) == message


def test_optional_sources_are_skipped() -> None:
    c = {"name": "c", "envFrom": [{"configMapRef": {"name": "nope", "optional": True}}],
         "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "NO", "optional": True}}},
                 {"name": "Y", "value": "y"}]}
    assert env_of(c) == {"Y": "y"}


def test_resource_field_ref_rounds_up_and_falls_back_to_allocatable() -> None:
    c = {"name": "c", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
         "env": [{"name": "CPU_REQ", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu"}}},
                 {"name": "CPU_REQ_M", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu",
                                                                          "divisor": "1m"}}},
                 {"name": "MEM_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory",
                                                                       "divisor": "1Mi"}}},
                 {"name": "CPU_LIM", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}]}
    env = env_of(c, node_allocatable={"cpu": "2", "memory": "8Gi"})
    assert env == {"CPU_REQ": "1", "CPU_REQ_M": "250", "MEM_MI": "128", "CPU_LIM": "2"}


def test_command_expansion_and_image_defaults() -> None:
    c = {"command": ["/bin/sh", "-c"], "args": ["echo $(GREETING) $(UNSET) $$(GREETING)"]}
    command, args = expand_command(c, {"GREETING": "hi"})
    assert command == ["/bin/sh", "-c"] and args == ["echo hi $(UNSET) $(GREETING)"]
    ep, cmd = ["/entry"], ["--default"]
    assert effective_argv([], [], ep, cmd) == ["/entry", "--default"]
    assert effective_argv([], ["--x"], ep, cmd) == ["/entry", "--x"]
    assert effective_argv(["/bin/true"], [], ep, cmd) == ["/bin/true"]
    assert effective_argv(["/bin/echo"], ["a"], ep, cmd) == ["/bin/echo", "a"]
