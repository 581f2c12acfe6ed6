"""Resource mapping from the api registry, and the thin typed handles over the REST client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from client.kubeconfig import ClientConfig
from client.mapping import UnknownResource, lookup, ref_for_kind, ref_for_object, resource_ref
from client.rest import ResourceRef, RestClient
from client.typed import Clientset
from tests.support.fake_apiserver import FakeApiserver


@pytest.mark.parametrize(("name", "expected"), [
    ("po", ("", "v1", "pods", True)),
    ("Pod", ("", "v1", "pods", True)),
    ("pod", ("", "v1", "pods", True)),
    ("nodes", ("", "v1", "nodes", False)),
    ("events", ("", "v1", "events", True)),              # the core group wins over events.k8s.io
    ("events.events.k8s.io", ("events.k8s.io", "v1", "events", True)),
    ("deploy", ("apps", "v1", "deployments", True)),
    ("deployments.apps", ("apps", "v1", "deployments", True)),
    ("deployments.v1.apps", ("apps", "v1", "deployments", True)),
    ("leases", ("coordination.k8s.io", "v1", "leases", True)),
])
def test_lookup_like_kubectl(name, expected):
    ref = lookup(name)
    assert (ref.group, ref.version, ref.resource, ref.namespaced) == expected


def test_lookup_failures_and_kind_mapping():
    with pytest.raises(UnknownResource, match="doesn't have a resource type"):
        lookup("widgets")
    with pytest.raises(UnknownResource):
        lookup("deployments.batch")
    assert ref_for_kind("apps/v1", "StatefulSet") == ResourceRef("apps", "v1", "statefulsets", True, "StatefulSet")
    assert ref_for_object({"apiVersion": "v1", "kind": "Namespace"}).namespaced is False
    assert resource_ref("", "v1", "configmaps").kind == "ConfigMap"
    with pytest.raises(UnknownResource):
        ref_for_object({"kind": "Pod"})
    with pytest.raises(UnknownResource):
        resource_ref("apps", "v1", "pods")


@pytest.fixture
async def api() -> AsyncIterator[FakeApiserver]:
    server = FakeApiserver()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def cs(api: FakeApiserver) -> AsyncIterator[Clientset]:
    async with RestClient(ClientConfig(servers=[api.url])) as rest:
        yield Clientset(rest)


async def test_typed_handles_drive_the_rest_client(api: FakeApiserver, cs: Clientset):
    pods = cs.pods("team")
    await pods.create({"metadata": {"name": "web"}, "spec": {}})
    assert api.seen("POST")[0].path == "/api/v1/namespaces/team/pods"
    assert (await pods.get("web"))["metadata"]["namespace"] == "team"
    await pods.patch_status("web", {"status": {"phase": "Running"}})
    assert api.seen("PATCH")[0].path == "/api/v1/namespaces/team/pods/web/status"
    await cs.bind_pod("team", "web", "node1")
    assert api.seen("POST", "/binding")[0].body["target"]["name"] == "node1"
    assert [p["metadata"]["name"] for p in await cs.pods().list_all()] == ["web"]   # all namespaces
    assert api.seen("GET", "/api/v1/pods")
    await cs.nodes().create({"metadata": {"name": "node1"}})
    assert api.seen("POST")[-1].path == "/api/v1/nodes"
    await cs.resource("deploy", "team").create({"metadata": {"name": "d"}})
    assert api.seen("POST")[-1].path == "/apis/apps/v1/namespaces/team/deployments"
    await cs.evict_pod("team", "web", {"gracePeriodSeconds": 0})
    eviction = api.seen("POST", "/eviction")[0].body
    assert eviction["kind"] == "Eviction" and eviction["deleteOptions"] == {"gracePeriodSeconds": 0}
    assert await cs.leases("kube-system").list_all() == []


async def test_watch_through_a_handle(api: FakeApiserver, cs: Clientset):
    api.seed("configmaps", {"metadata": {"name": "cfg", "namespace": "ns"}})
    stream = cs.config_maps("ns").watch(timeout_seconds=5)
    event = await anext(stream)
    await stream.aclose()
    assert (event.type, event.object["metadata"]["name"]) == ("ADDED", "cfg")


def test_every_named_accessor_maps_to_a_registered_resource():
    cs = Clientset(RestClient(ClientConfig(servers=["http://127.0.0.1:9"])))
    accessors = [n for n in dir(cs) if not n.startswith("_") and n not in
                 ("rest", "resource", "bind_pod", "evict_pod", "pod_log")]
    assert len(accessors) == 20
    for name in accessors:
        handle = getattr(cs, name)()
        assert handle.ref.kind, name
        assert handle.ref.resource == name.replace("_", "")
