"""The production View over shared informers, and the expectations the driver keeps."""

from __future__ import annotations

from datetime import timedelta

from api import labels
from client.informer import SharedInformer
from client.kubeconfig import ClientConfig
from client.rest import RestClient
from controller_manager.expectations import Expectations
from controller_manager.view import NODES, PODS, SERVICES, InformerView
from tests.unit.controller_fixtures import T0


def test_informer_view_reads_caches_and_filters_by_selector():
    client = RestClient(ClientConfig(servers=["http://127.0.0.1:1"]))
    pods = SharedInformer(client, PODS)
    nodes = SharedInformer(client, NODES)
    pods.add({"metadata": {"name": "a", "namespace": "ns", "labels": {"app": "web"}}})
    pods.add({"metadata": {"name": "b", "namespace": "ns", "labels": {"app": "db"}}})
    pods.add({"metadata": {"name": "c", "namespace": "other", "labels": {"app": "web"}}})
    nodes.add({"metadata": {"name": "n1"}})
    view = InformerView({PODS: pods, NODES: nodes})
    assert view.get(PODS, "ns", "a") is not None
    assert view.get(NODES, None, "n1") is not None
    assert view.get(SERVICES, "ns", "web") is None  # no informer: reads as empty
    web = labels.parse("app=web")
    assert [p["metadata"]["name"] for p in view.list(PODS, selector=web)] == ["a", "c"]
    assert [p["metadata"]["name"] for p in view.list(PODS, "ns", web)] == ["a"]
    assert view.list(SERVICES) == []


def test_selector_reads_through_the_label_index_agree_with_a_scan():
    client = RestClient(ClientConfig(servers=["http://127.0.0.1:1"]))
    pods = SharedInformer(client, PODS)
    view = InformerView({PODS: pods})  # the index exists before the objects and is kept as they change
    for i in range(6):
        pods.add({"metadata": {"name": f"p{i}", "namespace": "ns",
                               "labels": {"app": "web" if i % 2 else "db", "tier": str(i % 3)}}})
    pods.update({"metadata": {"name": "p1", "namespace": "ns", "labels": {"app": "db", "tier": "1"}}})
    pods.delete({"metadata": {"name": "p3", "namespace": "ns"}})
    for text in ("app=web", "app=db,tier=1", "tier in (0,2)", "app!=web", "tier", "app=web,tier notin (2)"):
        selector = labels.parse(text)
        scanned = [p["metadata"]["name"] for p in pods.list("ns") if selector.matches(p["metadata"]["labels"])]
        assert sorted(p["metadata"]["name"] for p in view.list(PODS, "ns", selector)) == sorted(scanned), text
    assert [p["metadata"]["name"] for p in view.list(PODS, "ns", labels.parse("app=web"))] == ["p5"]


def test_expectations_block_until_observed_or_expired():
    exp = Expectations()
    assert exp.satisfied("ns/rs", T0)
    exp.expect("ns/rs", 2, ["ns/p1"], T0)
    assert not exp.satisfied("ns/rs", T0)
    exp.creation_observed("ns/rs")
    exp.creation_observed("ns/rs")
    assert not exp.satisfied("ns/rs", T0)  # the deletion is still pending
    exp.deletion_observed("ns/rs", "ns/p1")
    assert exp.satisfied("ns/rs", T0)
    exp.expect("ns/rs", 1, [], T0)
    assert exp.satisfied("ns/rs", T0 + timedelta(minutes=5, seconds=1))
    exp.forget("ns/rs")
    assert exp.satisfied("ns/rs", T0)
