"""Custom resources: CRD → served resource, schema pruning/defaulting/validation, columns and selectors."""

from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from api import crd, defaulting, fields, openapi, structure, tables, validation
from api.catalog import REGISTRY
from tests.support.paths import K8S_EXAMPLES

EXAMPLES = K8S_EXAMPLES / "customresourcedefinition"
CRD_RESOURCE = REGISTRY.require("apiextensions.k8s.io", "v1", "customresourcedefinitions")


def _load_crd(obj):
    clean, report = structure.decode(REGISTRY, CRD_RESOURCE.type_name, obj)
    assert report.unknown == [] and report.type_errors == []
    defaulting.apply_defaults(REGISTRY, CRD_RESOURCE.type_name, clean)
    assert validation.validate(REGISTRY, CRD_RESOURCE, clean) == []
    assert crd.validate_crd(clean) == []
    return clean


@pytest.fixture(scope="module")
def shirts():
    with open(EXAMPLES / "shirt-resource-definition.yaml") as fh:
        definition = _load_crd(yaml.safe_load(fh))
    (served,) = crd.custom_resources(definition)
    return served


def _widgets():
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["size"],
                "properties": {
                    "size": {"type": "integer", "minimum": 1, "maximum": 10},
                    "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                    "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5},
                    "tags": {
                        "type": "array",
                        "items": {"type": "string"},
                        "x-kubernetes-list-type": "set",
                        "maxItems": 2,
                    },
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                    "limits": {"type": "object", "additionalProperties": {"x-kubernetes-int-or-string": True}},
                },
            },
            "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
        },
    }
    definition = _load_crd(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Cluster",
                "names": {"plural": "widgets", "kind": "Widget"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {"openAPIV3Schema": schema},
                        "subresources": {
                            "status": {},
                            "scale": {"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.replicas"},
                        },
                    }
                ],
            },
        }
    )
    assert definition["spec"]["names"]["singular"] == "widget"
    assert definition["spec"]["names"]["listKind"] == "WidgetList"
    return crd.custom_resources(definition)[0]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_example_shirts_are_valid(shirts, index):
    with open(EXAMPLES / "shirt-resources.yaml") as fh:
        obj = list(yaml.safe_load_all(fh))[index]
    obj["metadata"]["namespace"] = "default"
    clean, report = crd.decode(shirts, obj)
    assert report.unknown == [] and report.type_errors == []
    assert crd.validate(shirts, crd.apply_defaults(shirts, clean)) == []
    assert clean == obj


def test_shirt_columns_and_selectors(shirts):
    res = shirts.resource
    assert (res.group, res.version, res.plural, res.namespaced) == ("stable.example.com", "v1", "shirts", True)
    obj = {"metadata": {"name": "s", "namespace": "default"}, "spec": {"color": "blue", "size": "M"}}
    t = tables.table(res, [obj], now=datetime(2024, 1, 1, tzinfo=UTC))
    assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Color", "Size"]
    assert t["rows"][0]["cells"] == ["s", "blue", "M"]
    assert fields.compile_selector(res, "spec.color=blue").matches(obj)
    with pytest.raises(fields.FieldSelectorError):
        fields.compile_selector(res, "spec.weight=1")


def test_pruning_types_and_unknown_fields():
    widgets = _widgets()
    obj = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": "big", "bogus": 1, "extra": {"anything": {"goes": True}}, "limits": {"cpu": 1, "mem": "1Gi"}},
    }
    clean, report = crd.decode(widgets, obj)
    assert [c.message for c in report.unknown] == ['unknown field "spec.bogus"']
    assert [str(c) for c in report.type_errors] == [
        'spec.size: Invalid value: "string": spec.size in body must be of type integer: "string"'
    ]
    assert clean["spec"]["extra"] == {"anything": {"goes": True}}
    assert "bogus" not in clean["spec"]


def test_defaults_and_validation_messages():
    widgets = _widgets()
    obj: dict[str, Any] = {"metadata": {"name": "w"}, "spec": {"size": 11, "name": "ABCDEFG", "tags": ["a", "a", "b"]}}
    crd.apply_defaults(widgets, obj)
    assert obj["spec"]["color"] == "red"
    msgs = [str(c) for c in crd.validate(widgets, obj)]
    assert "spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10" in msgs
    assert "spec.name: Too long: may not be more than 5 bytes" in msgs
    assert "spec.name: Invalid value: \"ABCDEFG\": spec.name in body should match '^[a-z]+$'" in msgs
    assert "spec.tags: Too many: 3: must have at most 2 items" in msgs
    assert 'spec.tags[1]: Duplicate value: "a"' in msgs
    msgs = [str(c) for c in crd.validate(widgets, {"metadata": {"name": "w"}, "spec": {"color": "pink"}})]
    assert msgs == [
        "spec.size: Required value",
        'spec.color: Unsupported value: "pink": supported values: "red", "blue"',
    ]


def test_subresources_and_openapi():
    widgets = _widgets()
    assert [s.name for s in widgets.resource.subresources] == ["status", "scale"]
    assert [c.name for c in widgets.resource.columns] == ["Name", "Age"]
    doc = crd.openapi_v3([widgets]).body
    schema = doc["components"]["schemas"]["com.example.v1.Widget"]
    assert schema["x-kubernetes-group-version-kind"] == [{"group": "example.com", "version": "v1", "kind": "Widget"}]
    patch = doc["paths"]["/apis/example.com/v1/widgets/{name}"]["patch"]
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in doc["components"]["schemas"]
    document = crd.openapi_v3([widgets])
    index = openapi.v3_index(REGISTRY, {"apis/example.com/v1": document})
    assert (
        index["paths"]["apis/example.com/v1"]["serverRelativeURL"]
        == f"/openapi/v3/apis/example.com/v1?hash={document.hash}"
    )
    assert "apis/apps/v1" in index["paths"]


def test_invalid_crds():
    bad = {
        "metadata": {"name": "wrong.example.com"},
        "spec": {
            "group": "example",
            "scope": "Namespaced",
            "names": {"plural": "things", "kind": "Thing"},
            "versions": [
                {"name": "v1", "served": True, "storage": False},
                {
                    "name": "v1",
                    "served": True,
                    "storage": False,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {}}}},
                },
            ],
        },
    }
    msgs = [str(c) for c in crd.validate_crd(bad)]
    assert 'spec.group: Invalid value: "example": should be a domain with at least one dot' in msgs
    assert any(m.startswith("spec.versions: Invalid value") and "exactly one version" in m for m in msgs)
    assert "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required" in msgs
    assert 'spec.versions[1].name: Duplicate value: "v1"' in msgs
    assert (
        "spec.versions[1].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for "
        "specified object fields"
    ) in msgs


def test_custom_scale_subresource():
    widgets = _widgets()
    obj: dict[str, Any] = {"metadata": {"name": "w", "uid": "u"}, "spec": {"size": 3}, "status": {"replicas": 2}}
    scale = crd.scale_of(widgets, obj)
    assert scale["spec"] == {"replicas": 3}
    assert scale["status"] == {"replicas": 2}
    assert crd.apply_scale(widgets, obj, {"spec": {"replicas": 5}})["spec"]["size"] == 5
