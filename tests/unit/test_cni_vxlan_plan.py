from cni.vxlan import KernelState, Peer, plan

A = Peer("10.244.2.0/24", "AA:AA:AA:AA:AA:02", "172.28.1.12")
B = Peer("10.244.3.0/24", "aa:aa:aa:aa:aa:03", "172.28.1.13")


def test_new_peers_get_fdb_neighbour_and_route():
    p = plan(KernelState(), [A, B])
    assert p.add_fdb == [("aa:aa:aa:aa:aa:02", "172.28.1.12"), ("aa:aa:aa:aa:aa:03", "172.28.1.13")]
    assert p.add_neighbours == [("10.244.2.0", "aa:aa:aa:aa:aa:02"), ("10.244.3.0", "aa:aa:aa:aa:aa:03")]
    assert p.add_routes == [("10.244.2.0/24", "10.244.2.0"), ("10.244.3.0/24", "10.244.3.0")]
    assert not (p.del_fdb or p.del_neighbours or p.del_routes)


def test_in_sync_is_empty():
    current = KernelState(routes={"10.244.2.0/24": "10.244.2.0"}, neighbours={"10.244.2.0": "aa:aa:aa:aa:aa:02"},
                          fdb={"aa:aa:aa:aa:aa:02": "172.28.1.12"})
    assert plan(current, [A]).empty()


def test_a_departed_peer_is_removed_and_a_moved_one_replaced():
    current = KernelState(
        routes={"10.244.2.0/24": "10.244.2.0", "10.244.9.0/24": "10.244.9.0"},
        neighbours={"10.244.2.0": "aa:aa:aa:aa:aa:02", "10.244.9.0": "aa:aa:aa:aa:aa:09"},
        fdb={"aa:aa:aa:aa:aa:02": "172.28.1.99", "aa:aa:aa:aa:aa:09": "172.28.1.19"},
    )
    p = plan(current, [A])
    assert p.del_routes == ["10.244.9.0/24"]
    assert p.del_neighbours == ["10.244.9.0"]
    assert p.del_fdb == [("aa:aa:aa:aa:aa:02", "172.28.1.99"), ("aa:aa:aa:aa:aa:09", "172.28.1.19")]
    assert p.add_fdb == [("aa:aa:aa:aa:aa:02", "172.28.1.12")]
    assert p.add_routes == []
