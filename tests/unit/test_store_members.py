"""Member ids are etcd-style hashes every member computes alike; the registry round-trips through snapshots."""

from __future__ import annotations

from store.members import Member, Membership, cluster_id, member_id

CLUSTER = {"n1": ["http://10.0.0.1:2380"], "n2": ["http://10.0.0.2:2380"], "n3": ["http://10.0.0.3:2380"]}


def test_ids_depend_on_urls_and_token_but_not_url_order():
    a = member_id(["http://h:1", "http://h:2"], "tok")
    assert a == member_id(["http://h:2", "http://h:1"], "tok")
    assert a != member_id(["http://h:1", "http://h:2"], "other-token")
    assert a != member_id(["http://h:1"], "tok")
    assert 0 < a < 2**64


def test_every_member_derives_the_same_cluster_id_from_the_same_flags():
    one = Membership.initial(CLUSTER, "tok")
    two = Membership.initial(dict(reversed(list(CLUSTER.items()))), "tok")
    assert [m.id for m in one] == [m.id for m in two] == sorted(m.id for m in one)
    assert cluster_id(m.id for m in one) == cluster_id(m.id for m in two)
    assert cluster_id(m.id for m in one) != cluster_id(m.id for m in Membership.initial(CLUSTER, "other"))
    assert {m.name for m in one} == set(CLUSTER)


def test_registry_changes_and_survives_export():
    members = Membership.initial(CLUSTER, "tok")
    first, second, *_ = members.all()
    members.set_attributes(first.id, "renamed", ["http://10.0.0.1:2379"])
    members.add(Member(99, "", ["http://10.0.0.9:2380"], [], is_learner=True))
    members.remove(second.id)
    restored = Membership.load(members.export())
    assert [m.export() for m in restored] == [m.export() for m in members]
    assert restored.removed == {second.id}
    assert restored.get(first.id) == Member(first.id, "renamed", first.peer_urls, ["http://10.0.0.1:2379"])
    assert restored.get(99) is not None and restored.get(99).is_learner  # type: ignore[union-attr]
    members.add(Member(second.id, "n2"))  # re-added: no longer counted as removed
    assert second.id not in members.removed
