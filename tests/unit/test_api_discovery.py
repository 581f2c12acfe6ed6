"""Discovery documents derived from the registry (legacy and aggregated), including runtime resources."""

from api import discovery
from api.catalog import REGISTRY
from api.schema import Resource


def test_legacy_core_resource_list():
    doc = discovery.api_resource_list(REGISTRY, "", "v1")
    assert doc is not None
    by_name = {r["name"]: r for r in doc["resources"]}
    assert by_name["pods"]["shortNames"] == ["po"]
    assert by_name["pods"]["categories"] == ["all"]
    assert by_name["pods/eviction"] == {
        "name": "pods/eviction",
        "singularName": "",
        "namespaced": True,
        "kind": "Eviction",
        "verbs": ["create"],
        "group": "policy",
        "version": "v1",
    }
    assert by_name["serviceaccounts/token"]["group"] == "authentication.k8s.io"
    assert by_name["nodes"]["namespaced"] is False
    assert discovery.api_resource_list(REGISTRY, "nope", "v1") is None


def test_group_list_prefers_the_first_version():
    groups = {g["name"]: g for g in discovery.api_group_list(REGISTRY)["groups"]}
    assert "" not in groups
    assert groups["autoscaling"]["preferredVersion"] == {"groupVersion": "autoscaling/v2", "version": "v2"}
    assert [v["version"] for v in groups["autoscaling"]["versions"]] == ["v2", "v1"]
    group = discovery.api_group(REGISTRY, "apps")
    assert group is not None and group["kind"] == "APIGroup"
    assert discovery.api_group(REGISTRY, "nope") is None


def test_aggregated_discovery():
    apis = discovery.aggregated(REGISTRY, core=False)
    apps = next(i for i in apis["items"] if i["metadata"]["name"] == "apps")
    deploy = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
    assert deploy["scope"] == "Namespaced"
    assert {
        "subresource": "scale",
        "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
        "verbs": ["get", "patch", "update"],
    } in deploy["subresources"]
    core = discovery.aggregated(REGISTRY, core=True)
    assert [i["metadata"]["name"] for i in core["items"]] == [""]


def test_runtime_resources_are_included():
    shirts = Resource("stable.example.com", "v1", "Shirt", "shirts", "stable.example.com/v1.Shirt", True)
    groups = [g["name"] for g in discovery.api_group_list(REGISTRY, [shirts])["groups"]]
    assert groups[-1] == "stable.example.com"
    doc = discovery.api_resource_list(REGISTRY, "stable.example.com", "v1", [shirts])
    assert doc is not None and doc["resources"][0]["name"] == "shirts"
