"""Every manifest in shared/k8s-examples decodes under Strict validation, defaults and validates."""

import copy
import glob
from pathlib import Path

import pytest
import yaml

from api import defaulting, structure, validation
from api.catalog import REGISTRY
from api.quantity import Quantity, is_quantity
from api.structure import is_zero
from tests.support.paths import K8S_EXAMPLES

EXAMPLES = K8S_EXAMPLES


def _documents():
    for path in sorted(glob.glob(str(EXAMPLES / "**/*.yaml"), recursive=True)):
        with open(path) as fh:
            for i, doc in enumerate(yaml.safe_load_all(fh)):
                if not doc:
                    continue
                items = doc["items"] if doc.get("kind") == "List" else [doc]
                for j, obj in enumerate(items):
                    yield pytest.param(obj, id=f"{Path(path).relative_to(EXAMPLES)}#{i}.{j}")


BUILTIN = [p for p in _documents() if REGISTRY.resource_for_api_version(p.values[0]["apiVersion"], p.values[0]["kind"])]


def _is_subset(small, big) -> bool:
    if isinstance(small, dict):
        # Go's omitempty drops zero scalars (globalDefault: false), so they may be absent after decoding.
        return isinstance(big, dict) and all(
            _is_subset(v, big[k]) if k in big else is_zero(v) for k, v in small.items()
        )
    if isinstance(small, list):
        return isinstance(big, list) and len(small) == len(big) and all(map(_is_subset, small, big))
    if isinstance(small, str) and isinstance(big, str) and small != big and is_quantity(small):
        return Quantity.parse(small) == Quantity.parse(big)  # stored in canonical form, as Kubernetes does
    return bool(small == big)


def test_examples_are_found():
    assert len(BUILTIN) >= 60


@pytest.mark.parametrize("obj", BUILTIN)
def test_example_is_valid_under_strict_decoding(obj):
    res = REGISTRY.resource_for_api_version(obj["apiVersion"], obj["kind"])
    assert res is not None
    clean, report = structure.decode(REGISTRY, res.type_name, copy.deepcopy(obj))
    assert report.unknown == []
    assert report.type_errors == []
    if res.namespaced:
        clean.setdefault("metadata", {}).setdefault("namespace", "default")
    defaulting.apply_defaults(REGISTRY, res.type_name, clean)
    assert validation.validate(REGISTRY, res, clean) == []
    # What was sent comes back intact: defaults only add fields, quantities keep their value.
    assert _is_subset(obj, clean)


def test_unknown_field_is_reported_with_its_path():
    res = REGISTRY.require("apps", "v1", "deployments")
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"foo": 1, "template": {"spec": {"containers": [{"name": "a", "image": "i", "bogus": True}]}}},
    }
    clean, report = structure.decode(REGISTRY, res.type_name, obj)
    assert [c.message for c in report.unknown] == [
        'unknown field "spec.foo"',
        'unknown field "spec.template.spec.containers[0].bogus"',
    ]
    assert "foo" not in clean["spec"]


def test_wrong_json_type_is_reported():
    res = REGISTRY.require("", "v1", "pods")
    obj = {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a", "image": "i", "ports": [{"containerPort": "eighty"}]}]},
    }
    _, report = structure.decode(REGISTRY, res.type_name, obj)
    assert [c.field for c in report.type_errors] == ["spec.containers[0].ports[0].containerPort"]


def test_every_example_is_a_builtin_or_a_custom_resource_of_an_example_crd():
    custom = {
        (d.values[0]["spec"]["group"], d.values[0]["spec"]["names"]["kind"])
        for d in BUILTIN
        if d.values[0]["kind"] == "CustomResourceDefinition"
    }
    others = [p.values[0] for p in _documents() if p not in BUILTIN]
    assert others, "the Shirt custom resources are expected among the examples"
    for obj in others:
        assert (obj["apiVersion"].split("/")[0], obj["kind"]) in custom
