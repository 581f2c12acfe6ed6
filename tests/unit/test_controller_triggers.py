"""Event-to-key mapping for the driver's informer handlers."""

from __future__ import annotations

from controller_manager import triggers
from controller_manager.view import JOBS, REPLICA_SETS, REPLICATION_CONTROLLERS, SERVICES
from tests.unit.controller_fixtures import FakeCluster


def test_owned_objects_map_to_their_controller_and_orphans_to_matching_selectors():
    c = FakeCluster()
    for name, app in (("a", "x"), ("b", "y")):
        c.add(REPLICA_SETS, {"metadata": {"name": name, "namespace": "ns"},
                             "spec": {"selector": {"matchLabels": {"app": app}}}})
    owned = {"metadata": {"name": "p", "namespace": "ns", "labels": {"app": "y"}, "ownerReferences": [
        {"kind": "ReplicaSet", "name": "a", "uid": "u", "controller": True}]}}
    orphan = {"metadata": {"name": "q", "namespace": "ns", "labels": {"app": "y"}}}
    assert triggers.owner_keys(c, owned, REPLICA_SETS) == ["ns/a"]
    assert triggers.owner_keys(c, owned, JOBS) == []
    assert triggers.owner_keys(c, orphan, REPLICA_SETS) == ["ns/b"]
    c.add(REPLICATION_CONTROLLERS, {"metadata": {"name": "rc", "namespace": "ns"}, "spec": {"selector": {"app": "y"}}})
    assert triggers.owner_keys(c, orphan, REPLICATION_CONTROLLERS, triggers.map_selector) == ["ns/rc"]


def test_pod_label_change_concerns_old_and_new_services():
    c = FakeCluster()
    c.add(SERVICES, {"metadata": {"name": "old", "namespace": "ns"}, "spec": {"selector": {"app": "v1"}}})
    c.add(SERVICES, {"metadata": {"name": "new", "namespace": "ns"}, "spec": {"selector": {"app": "v2"}}})
    c.add(SERVICES, {"metadata": {"name": "manual", "namespace": "ns"}, "spec": {}})
    before = {"metadata": {"name": "p", "namespace": "ns", "labels": {"app": "v1"}}}
    after = {"metadata": {"name": "p", "namespace": "ns", "labels": {"app": "v2"}}}
    assert sorted(triggers.service_keys(c, [before, after])) == ["ns/new", "ns/old"]
