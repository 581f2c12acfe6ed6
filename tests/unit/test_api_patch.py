"""JSON Patch, JSON Merge Patch and strategic merge patch, with cases from the Kubernetes docs."""

import copy
import json

import pytest
import yaml

from api.catalog import REGISTRY
from api.patch import PatchError, json_patch, merge_patch, strategic
from api.patch import apply as ssa
from tests.support.paths import K8S_EXAMPLES

DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"
POD = "io.k8s.api.core.v1.Pod"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _deployment(containers, **spec):
    return {"spec": {"template": {"spec": {"containers": containers, **spec}}}}


# --- RFC 6902 ---


def test_json_patch_operations():
    doc = {"a": {"b": [1, 2]}, "c": "x"}
    out = json_patch.apply(
        doc,
        [
            {"op": "add", "path": "/a/b/1", "value": 9},
            {"op": "add", "path": "/a/b/-", "value": 3},
            {"op": "replace", "path": "/c", "value": "y"},
            {"op": "copy", "from": "/c", "path": "/d"},
            {"op": "move", "from": "/d", "path": "/e"},
            {"op": "remove", "path": "/a/b/0"},
            {"op": "test", "path": "/e", "value": "y"},
            {"op": "add", "path": "/f~1g", "value": True},
        ],
    )
    assert out == {"a": {"b": [9, 2, 3]}, "c": "y", "e": "y", "f/g": True}
    assert doc == {"a": {"b": [1, 2]}, "c": "x"}


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "test", "path": "/c", "value": "nope"}],
        [{"op": "remove", "path": "/missing"}],
        [{"op": "replace", "path": "/missing", "value": 1}],
        [{"op": "add", "path": "/a/b/7", "value": 1}],
        [{"op": "frobnicate", "path": "/c"}],
    ],
)
def test_json_patch_failures(ops):
    with pytest.raises(PatchError):
        json_patch.apply({"a": {"b": []}, "c": "x"}, ops)


# --- RFC 7386 ---


def test_merge_patch_rfc_examples():
    target = {
        "title": "Goodbye!",
        "author": {"givenName": "John", "familyName": "Doe"},
        "tags": ["example", "sample"],
        "content": "This will be unchanged",
    }
    patch = {"title": "Hello!", "phoneNumber": "+01-123-456-7890", "author": {"familyName": None}, "tags": ["example"]}
    assert merge_patch.apply(target, patch) == {
        "title": "Hello!",
        "author": {"givenName": "John"},
        "tags": ["example"],
        "content": "This will be unchanged",
        "phoneNumber": "+01-123-456-7890",
    }
    assert merge_patch.apply({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert merge_patch.apply({"a": "b"}, ["c"]) == ["c"]


def test_merge_patch_create_round_trips():
    a = {"metadata": {"labels": {"x": "1", "y": "2"}}, "spec": {"replicas": 1}}
    b = {"metadata": {"labels": {"x": "1", "z": "3"}}, "spec": {"replicas": 2}}
    patch = merge_patch.create(a, b)
    assert patch == {"metadata": {"labels": {"y": None, "z": "3"}}, "spec": {"replicas": 2}}
    assert merge_patch.apply(a, patch) == b


# --- strategic merge patch (kubectl patch task page and SMP design doc) ---


def test_containers_merge_by_name_but_merge_patch_replaces():
    live = _deployment([{"name": "patch-demo-ctr", "image": "nginx"}])
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "patch-demo-ctr-2", "image": "redis"}]}}}}
    merged = strategic.apply(REGISTRY, DEPLOYMENT, live, patch)
    assert [c["name"] for c in merged["spec"]["template"]["spec"]["containers"]] == [
        "patch-demo-ctr",
        "patch-demo-ctr-2",
    ]
    replaced = merge_patch.apply(live, patch)
    assert [c["name"] for c in replaced["spec"]["template"]["spec"]["containers"]] == ["patch-demo-ctr-2"]


def test_tolerations_have_no_strategy_and_are_replaced():
    live = _deployment(
        [{"name": "c", "image": "i"}], tolerations=[{"effect": "NoSchedule", "key": "dedicated", "value": "test-team"}]
    )
    patch = {
        "spec": {"template": {"spec": {"tolerations": [{"effect": "NoSchedule", "key": "disktype", "value": "ssd"}]}}}
    }
    merged = strategic.apply(REGISTRY, DEPLOYMENT, live, patch)
    assert merged["spec"]["template"]["spec"]["tolerations"] == [
        {"effect": "NoSchedule", "key": "disktype", "value": "ssd"}
    ]


def test_retain_keys_clears_the_rest_of_a_union():
    live = {
        "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "30%", "maxUnavailable": "25%"}}}
    }
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert strategic.apply(REGISTRY, DEPLOYMENT, live, patch)["spec"]["strategy"] == {"type": "Recreate"}


def test_nested_merge_keys_and_null_deletes():
    live = _deployment(
        [
            {
                "name": "c",
                "image": "i:1",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
            }
        ]
    )
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "image": "i:2",
                            "env": [{"name": "B", "value": "3"}],
                            "ports": [{"containerPort": 443}],
                            "resources": None,
                        }
                    ]
                }
            }
        }
    }
    c = strategic.apply(REGISTRY, DEPLOYMENT, live, patch)["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "i:2"
    assert c["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]
    assert [p["containerPort"] for p in c["ports"]] == [80, 443]


def test_patch_directives_replace_and_delete():
    live = _deployment([{"name": "nginx", "image": "nginx-1.0"}, {"name": "log-tailer", "image": "t"}])
    deleted = strategic.apply(
        REGISTRY,
        DEPLOYMENT,
        live,
        {"spec": {"template": {"spec": {"containers": [{"$patch": "delete", "name": "log-tailer"}]}}}},
    )
    assert [c["name"] for c in deleted["spec"]["template"]["spec"]["containers"]] == ["nginx"]
    replaced = strategic.apply(
        REGISTRY,
        DEPLOYMENT,
        live,
        {"spec": {"template": {"spec": {"containers": [{"name": "other", "image": "o"}, {"$patch": "replace"}]}}}},
    )
    assert replaced["spec"]["template"]["spec"]["containers"] == [{"name": "other", "image": "o"}]
    live["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}
    no_ru = strategic.apply(REGISTRY, DEPLOYMENT, live, {"spec": {"strategy": {"rollingUpdate": {"$patch": "delete"}}}})
    assert no_ru["spec"]["strategy"] == {"type": "RollingUpdate"}
    map_replace = strategic.apply(
        REGISTRY,
        POD,
        {"metadata": {"labels": {"a": "1", "b": "2"}}},
        {"metadata": {"labels": {"$patch": "replace", "c": "3"}}},
    )
    assert map_replace["metadata"]["labels"] == {"c": "3"}


def test_primitive_sets_and_element_order():
    live = {"metadata": {"finalizers": ["a", "b", "c"]}}
    out = strategic.apply(REGISTRY, POD, live, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "c"]}})
    assert out["metadata"]["finalizers"] == ["a"]
    out = strategic.apply(REGISTRY, POD, live, {"metadata": {"finalizers": ["d", "a"]}})
    assert out["metadata"]["finalizers"] == ["a", "b", "c", "d"]
    out = strategic.apply(REGISTRY, POD, live, {"metadata": {"$setElementOrder/finalizers": ["b", "c", "a"]}})
    assert out["metadata"]["finalizers"] == ["b", "c", "a"]
    pod = {"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}}
    out = strategic.apply(
        REGISTRY,
        POD,
        pod,
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}],
                "containers": [{"name": "c", "image": "x"}],
            }
        },
    )
    # "b" is not in the order list: it keeps its live position before "c" (Kubernetes' interleaving).
    assert [c["name"] for c in out["spec"]["containers"]] == ["b", "c", "a"]
    out = strategic.apply(
        REGISTRY,
        POD,
        pod,
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "c"}, {"name": "b"}],
                "containers": [{"name": "c", "image": "x"}],
            }
        },
    )
    assert [c["name"] for c in out["spec"]["containers"]] == ["a", "c", "b"]


def test_kubectl_apply_second_run_patch_applies():
    """The SMP kubectl-wire.md shows for a second `kubectl apply`."""
    live = _deployment([{"name": "nginx", "image": "nginx:1.25", "env": [{"name": "A", "value": "1"}]}])
    patch = {
        "spec": {
            "replicas": 3,
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "nginx"}],
                    "containers": [
                        {
                            "$setElementOrder/env": [{"name": "A"}],
                            "env": [{"name": "A", "value": "2"}],
                            "image": "nginx:1.26",
                            "name": "nginx",
                        }
                    ],
                }
            },
        }
    }
    out = strategic.apply(REGISTRY, DEPLOYMENT, live, patch)
    assert out["spec"]["replicas"] == 3
    assert out["spec"]["template"]["spec"]["containers"] == [
        {"name": "nginx", "image": "nginx:1.26", "env": [{"name": "A", "value": "2"}]}
    ]


def test_merge_key_missing_is_an_error():
    with pytest.raises(PatchError):
        strategic.apply(REGISTRY, POD, {}, {"spec": {"containers": [{"image": "x"}]}})


# --- computing patches ---


def test_two_way_patch_round_trips():
    original = _deployment(
        [{"name": "a", "image": "1", "env": [{"name": "X", "value": "1"}]}, {"name": "b", "image": "2"}]
    )
    modified = _deployment([{"name": "a", "image": "9", "env": [{"name": "Y", "value": "2"}]}])
    modified["metadata"] = {"finalizers": ["f"]}
    patch = strategic.create_two_way(REGISTRY, DEPLOYMENT, original, modified)
    assert strategic.apply(REGISTRY, DEPLOYMENT, original, patch) == modified
    assert {"name": "b", "$patch": "delete"} in patch["spec"]["template"]["spec"]["containers"]


def test_three_way_keeps_fields_set_by_others():
    last_applied = _deployment([{"name": "a", "image": "1"}])
    last_applied["metadata"] = {"labels": {"app": "x", "old": "y"}}
    new_config = _deployment([{"name": "a", "image": "2"}])
    new_config["metadata"] = {"labels": {"app": "x"}}
    live = _deployment([{"name": "a", "image": "1", "imagePullPolicy": "IfNotPresent"}], restartPolicy="Always")
    live["metadata"] = {"labels": {"app": "x", "old": "y", "team": "z"}}
    patch = strategic.create_three_way(REGISTRY, DEPLOYMENT, last_applied, new_config, live)
    out = strategic.apply(REGISTRY, DEPLOYMENT, live, patch)
    assert out["metadata"]["labels"] == {"app": "x", "team": "z"}
    assert out["spec"]["template"]["spec"]["containers"] == [
        {"name": "a", "image": "2", "imagePullPolicy": "IfNotPresent"}
    ]
    assert out["spec"]["template"]["spec"]["restartPolicy"] == "Always"
    assert strategic.create_three_way(REGISTRY, DEPLOYMENT, new_config, new_config, out) == {}


# --- server-side apply merge ---


def test_server_side_apply_merges_by_list_map_keys():
    live = _deployment(
        [{"name": "a", "image": "1", "ports": [{"containerPort": 80, "protocol": "TCP"}], "imagePullPolicy": "Always"}],
        tolerations=[{"key": "x", "operator": "Exists"}],
    )
    live["metadata"] = {"labels": {"team": "z"}, "finalizers": ["f1"]}
    applied = _deployment(
        [{"name": "a", "image": "2", "ports": [{"containerPort": 80}]}, {"name": "b", "image": "3"}],
        tolerations=[{"key": "y", "operator": "Exists"}],
    )
    applied["metadata"] = {"labels": {"app": "web"}, "finalizers": ["f2"]}
    out = ssa.apply_builtin(REGISTRY, DEPLOYMENT, live, applied)
    containers = out["spec"]["template"]["spec"]["containers"]
    assert containers[0] == {
        "name": "a",
        "image": "2",
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
        "imagePullPolicy": "Always",
    }
    assert containers[1] == {"name": "b", "image": "3"}
    assert out["spec"]["template"]["spec"]["tolerations"] == [{"key": "y", "operator": "Exists"}]  # atomic
    assert out["metadata"] == {"labels": {"team": "z", "app": "web"}, "finalizers": ["f1", "f2"]}
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "1"


def test_server_side_apply_creates_and_respects_atomic_structs():
    created = ssa.apply_builtin(REGISTRY, DEPLOYMENT, None, {"spec": {"replicas": 2}})
    assert created == {"spec": {"replicas": 2}}
    live = {"spec": {"selector": {"matchLabels": {"a": "1"}, "matchExpressions": [{"key": "b", "operator": "Exists"}]}}}
    out = ssa.apply_builtin(REGISTRY, DEPLOYMENT, live, {"spec": {"selector": {"matchLabels": {"c": "2"}}}})
    assert out["spec"]["selector"] == {"matchLabels": {"c": "2"}}  # LabelSelector is an atomic struct


def test_server_side_apply_for_custom_resources():
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "items": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "v": {"type": "integer"},
                                "w": {"type": "integer", "default": 0},
                            },
                        },
                    },
                    "plain": {"type": "array", "items": {"type": "string"}},
                },
            }
        },
    }
    live = {"spec": {"items": [{"name": "a", "v": 1, "w": 5}], "plain": ["x"]}}
    out = ssa.apply_custom(schema, live, {"spec": {"items": [{"name": "a", "v": 2}, {"name": "b"}], "plain": ["y"]}})
    assert out == {"spec": {"items": [{"name": "a", "v": 2, "w": 5}, {"name": "b"}], "plain": ["y"]}}


# Captured from kubectl 1.32: the second `kubectl apply` of controllers/nginx-deployment.yaml after changing
# replicas 3→4 and the image to nginx:1.16.1.
KUBECTL_APPLY_PATCH = (
    '{"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\\"apiVersion\\":\\"ap'
    'ps/v1\\",\\"kind\\":\\"Deployment\\",\\"metadata\\":{\\"annotations\\":{},\\"labels\\":{\\"app.kubernetes.io/nam'
    'e\\":\\"nginx\\"},\\"name\\":\\"nginx-deployment\\",\\"namespace\\":\\"default\\"},\\"spec\\":{\\"replicas\\":4,\\"s'
    'elector\\":{\\"matchLabels\\":{\\"app.kubernetes.io/name\\":\\"nginx\\"}},\\"template\\":{\\"metadata\\":{\\"lab'
    'els\\":{\\"app.kubernetes.io/name\\":\\"nginx\\"}},\\"spec\\":{\\"containers\\":[{\\"image\\":\\"nginx:1.16.1\\",'
    '\\"name\\":\\"nginx\\",\\"ports\\":[{\\"containerPort\\":80}]}]}}}}\\n"}},"spec":{"replicas":4,"template":{"s'
    'pec":{"$setElementOrder/containers":[{"name":"nginx"}],"containers":[{"image":"nginx:1.16.1","name":'
    '"nginx"}]}}}}'
)


def test_three_way_patch_matches_kubectl_apply():
    with (K8S_EXAMPLES / "controllers" / "nginx-deployment.yaml").open() as fh:
        first = yaml.safe_load(fh)
    first["metadata"]["namespace"] = "default"
    expected = json.loads(KUBECTL_APPLY_PATCH)
    new_annotation = expected["metadata"]["annotations"][LAST_APPLIED]
    last_applied = copy.deepcopy(first)
    last_applied["metadata"]["annotations"] = {}
    live = copy.deepcopy(first)
    live["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(last_applied)}
    modified = json.loads(new_annotation)
    modified["metadata"]["annotations"] = {LAST_APPLIED: new_annotation}
    assert strategic.create_three_way(REGISTRY, DEPLOYMENT, last_applied, modified, live) == expected
    applied = strategic.apply(REGISTRY, DEPLOYMENT, live, expected)
    assert applied["spec"]["replicas"] == 4
    assert applied["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 80}]


def test_three_way_patch_on_a_union_clears_the_other_branch():
    last_applied = {"spec": {"strategy": {"rollingUpdate": {"maxSurge": "30%"}}}}
    new_config = {"spec": {"strategy": {"type": "Recreate"}}}
    live = {
        "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "30%", "maxUnavailable": "25%"}}}
    }
    patch = strategic.create_three_way(REGISTRY, DEPLOYMENT, last_applied, new_config, live)
    assert patch == {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": None, "type": "Recreate"}}}
    assert strategic.apply(REGISTRY, DEPLOYMENT, live, patch)["spec"]["strategy"] == {"type": "Recreate"}


def test_two_way_patch_for_volumes_uses_retain_keys():
    original = _deployment([{"name": "c", "image": "i"}], volumes=[{"name": "v", "emptyDir": {}}])
    modified = _deployment([{"name": "c", "image": "i"}], volumes=[{"name": "v", "hostPath": {"path": "/d"}}])
    patch = strategic.create_two_way(REGISTRY, DEPLOYMENT, original, modified)
    volume_patch = patch["spec"]["template"]["spec"]["volumes"][0]
    assert volume_patch == {
        "name": "v",
        "emptyDir": None,
        "hostPath": {"path": "/d"},
        "$retainKeys": ["hostPath", "name"],
    }
    assert strategic.apply(REGISTRY, DEPLOYMENT, original, patch) == modified


def test_reorder_only_produces_set_element_order():
    original = _deployment([{"name": "a", "image": "1"}, {"name": "b", "image": "2"}])
    modified = _deployment([{"name": "b", "image": "2"}, {"name": "a", "image": "1"}])
    patch = strategic.create_two_way(REGISTRY, DEPLOYMENT, original, modified)
    assert patch == {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}}}
    assert strategic.apply(REGISTRY, DEPLOYMENT, original, patch) == modified
