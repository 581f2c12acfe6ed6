"""Server discovery: built-in and custom resources by kubectl-style names, refreshed on a miss."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from api.catalog import REGISTRY
from api.discovery import api_resource_list, api_versions
from client.discovery import Discovery
from client.kubeconfig import ClientConfig
from client.mapping import UnknownResource
from client.rest import ResourceRef, RestClient
from tests.support.fake_apiserver import FakeApiserver


def widget_list(version: str, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"example.com/{version}",
            "resources": [
                {"name": "widgets", "singularName": "widget", "namespaced": True, "kind": "Widget",
                 "verbs": ["get", "list", "watch", "create"], "shortNames": ["wd"], "categories": ["all"]},
                {"name": "widgets/status", "singularName": "", "namespaced": True, "kind": "Widget",
                 "verbs": ["get", "patch", "update"]},
                *(extra or []),
            ]}


@pytest.fixture
async def api() -> AsyncIterator[FakeApiserver]:
    server = FakeApiserver()
    await server.start()
    server.discovery.update({
        "/api": api_versions("127.0.0.1:6443"),
        "/api/v1": api_resource_list(REGISTRY, "", "v1") or {},
        "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
             "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}},
            {"name": "example.com", "versions": [{"groupVersion": "example.com/v1beta1", "version": "v1beta1"},
                                                 {"groupVersion": "example.com/v1", "version": "v1"}],
             "preferredVersion": {"groupVersion": "example.com/v1", "version": "v1"}}]},
        "/apis/apps/v1": api_resource_list(REGISTRY, "apps", "v1") or {},
        "/apis/example.com/v1": widget_list("v1"),
        "/apis/example.com/v1beta1": widget_list("v1beta1"),
    })
    yield server
    await server.close()


@pytest.fixture
async def discovery(api: FakeApiserver) -> AsyncIterator[Discovery]:
    async with RestClient(ClientConfig(servers=[api.url])) as rest:
        yield Discovery(rest)


async def test_builtins_and_custom_resources_resolve(api: FakeApiserver, discovery: Discovery):
    assert await discovery.lookup("po") == ResourceRef("", "v1", "pods", True, "Pod")
    assert await discovery.lookup("deploy") == ResourceRef("apps", "v1", "deployments", True, "Deployment")
    assert await discovery.lookup("wd") == ResourceRef("example.com", "v1", "widgets", True, "Widget")  # preferred
    assert (await discovery.lookup("widgets.v1beta1.example.com")).version == "v1beta1"
    infos = {(i.ref.group, i.ref.version, i.ref.resource): i for i in await discovery.resources()}
    assert infos[("example.com", "v1", "widgets")].subresources == ("status",)
    assert "binding" in infos[("", "v1", "pods")].subresources
    assert ("example.com", "v1", "widgets/status") not in infos
    assert await discovery.ref_for_kind("example.com/v1", "Widget") == ResourceRef(
        "example.com", "v1", "widgets", True, "Widget")
    fetches = len(api.seen("GET", "/api"))
    await discovery.lookup("svc")
    assert len(api.seen("GET", "/api")) == fetches                    # cached


async def test_a_miss_rereads_discovery_once(api: FakeApiserver, discovery: Discovery):
    await discovery.resources()
    api.discovery["/apis/example.com/v1"] = widget_list("v1", [
        {"name": "gadgets", "singularName": "gadget", "namespaced": False, "kind": "Gadget", "verbs": ["get"]}])
    assert await discovery.lookup("gadget") == ResourceRef("example.com", "v1", "gadgets", False, "Gadget")
    with pytest.raises(UnknownResource, match="doesn't have a resource type"):
        await discovery.lookup("sprockets")
    with pytest.raises(UnknownResource):
        await discovery.ref_for_kind("example.com/v1", "Sprocket")
