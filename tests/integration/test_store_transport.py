"""Two transports on loopback deliver raft messages and forwarded frames, and recover from a peer restart."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

from store.raft.messages import ConfState, Entry, EntryType, Message, MessageType, Snapshot, SnapshotMeta
from store.transport import FRAME_PROPOSE, Transport
from tests.support.fake_apiserver import CertPair, issue_cert, make_ca


class Peer:
    def __init__(self, member_id: int, cluster_id: int = 7) -> None:
        self.messages: asyncio.Queue[Message] = asyncio.Queue()
        self.frames: asyncio.Queue[tuple[int, int, bytes]] = asyncio.Queue()
        self.unreachable: list[int] = []
        self.snapshots: list[tuple[int, bool]] = []
        self.transport = Transport(
            member_id, cluster_id,
            on_message=self.messages.put_nowait,
            on_frame=lambda f, k, p: self.frames.put_nowait((f, k, p)),
            on_unreachable=self.unreachable.append,
            on_snapshot_sent=lambda p, ok: self.snapshots.append((p, ok)),
        )


def heartbeat(src: int, dst: int, term: int) -> Message:
    return Message(MessageType.HEARTBEAT, to=dst, from_=src, term=term)


async def test_messages_and_frames_flow_both_ways(port):
    a, b = Peer(1), Peer(2)
    pa, pb = port(), port()
    await a.transport.listen([f"http://127.0.0.1:{pa}"])
    await b.transport.listen([f"http://127.0.0.1:{pb}"])
    try:
        a.transport.add_peer(2, [f"http://127.0.0.1:{pb}"])
        b.transport.add_peer(1, [f"http://127.0.0.1:{pa}"])
        a.transport.send([heartbeat(1, 2, t) for t in range(1, 101)])
        got = [await asyncio.wait_for(b.messages.get(), 5) for _ in range(100)]
        assert [m.term for m in got] == list(range(1, 101))  # in order, none lost
        assert b.transport.send_frame(1, FRAME_PROPOSE, b"request")
        assert await asyncio.wait_for(a.frames.get(), 5) == (2, FRAME_PROPOSE, b"request")
    finally:
        await a.transport.stop()
        await b.transport.stop()


async def test_frames_split_across_reads_arrive_whole_and_in_order(port):
    """Many frames per read, frames cut by read boundaries, and a snapshot far larger than one read."""
    a, b = Peer(1), Peer(2)
    pb = port()
    await b.transport.listen([f"http://127.0.0.1:{pb}"])
    try:
        a.transport.add_peer(2, [f"http://127.0.0.1:{pb}"])
        entries = [Entry(1, i, EntryType.NORMAL, bytes([i % 256]) * (700 + i)) for i in range(1, 200)]
        appends = [Message(MessageType.APP, to=2, from_=1, term=1, index=i, entries=entries[:i % 7])
                   for i in range(300)]
        snap = Message(MessageType.SNAP, to=2, from_=1, term=1,
                       snapshot=Snapshot(SnapshotMeta(10, 1, ConfState((1, 2))), bytes(range(256)) * 4000))
        sent = [*appends[:150], snap, *appends[150:]]
        a.transport.send(sent)
        got = [await asyncio.wait_for(b.messages.get(), 5) for _ in range(len(sent))]
        assert got == sent
    finally:
        await a.transport.stop()
        await b.transport.stop()


async def test_member_of_another_cluster_is_refused(port):
    a, stranger = Peer(1, cluster_id=7), Peer(2, cluster_id=8)
    pa = port()
    await a.transport.listen([f"http://127.0.0.1:{pa}"])
    try:
        stranger.transport.add_peer(1, [f"http://127.0.0.1:{pa}"])
        stranger.transport.send([heartbeat(2, 1, 1)])
        await asyncio.sleep(0.3)
        assert a.messages.empty()
    finally:
        await a.transport.stop()
        await stranger.transport.stop()


async def test_sender_reports_unreachable_and_reconnects_when_peer_returns(port):
    a, b = Peer(1), Peer(2)
    pb = port()
    a.transport.add_peer(2, [f"http://127.0.0.1:{pb}"])
    try:
        # a forwarded request is refused at once for a peer that is down, so it can go elsewhere
        assert not a.transport.send_frame(2, FRAME_PROPOSE, b"request")
        a.transport.send([heartbeat(1, 2, 1)])
        for _ in range(50):
            if a.unreachable:
                break
            await asyncio.sleep(0.02)
        assert a.unreachable and a.unreachable[0] == 2
        await b.transport.listen([f"http://127.0.0.1:{pb}"])
        a.transport.send([heartbeat(1, 2, 2)])
        msg = await asyncio.wait_for(b.messages.get(), 5)
        assert msg.from_ == 1
    finally:
        await a.transport.stop()
        await b.transport.stop()


def tls_contexts(ca: CertPair, tmp: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server, client) contexts for a member, with certificates from ``ca``, verifying peers against ``ca``."""
    contexts = []
    for purpose, server in ((ssl.Purpose.CLIENT_AUTH, True), (ssl.Purpose.SERVER_AUTH, False)):
        pair = issue_cert(ca, name, ips=("127.0.0.1",), server=server)
        cert, key = tmp / f"{name}-{server}.crt", tmp / f"{name}-{server}.key"
        cert.write_bytes(pair.cert_pem)
        key.write_bytes(pair.key_pem)
        ctx = ssl.create_default_context(purpose, cadata=ca.cert_pem.decode())
        ctx.load_cert_chain(cert, key)
        ctx.verify_mode = ssl.CERT_REQUIRED
        contexts.append(ctx)
    return contexts[0], contexts[1]


def tls_peer(member_id: int, contexts: tuple[ssl.SSLContext, ssl.SSLContext]) -> Peer:
    peer = Peer(member_id)
    peer.transport = Transport(member_id, 7, on_message=peer.messages.put_nowait,
                               on_frame=lambda f, k, p: peer.frames.put_nowait((f, k, p)),
                               on_unreachable=peer.unreachable.append,
                               on_snapshot_sent=lambda p, ok: peer.snapshots.append((p, ok)),
                               server_ssl=contexts[0], client_ssl=contexts[1])
    return peer


async def test_peers_talk_over_mutual_tls_and_refuse_a_foreign_certificate(port, tmp_path):
    ca, other_ca = make_ca("peer-ca"), make_ca("someone-else")
    a = tls_peer(1, tls_contexts(ca, tmp_path, "a"))
    b = tls_peer(2, tls_contexts(ca, tmp_path, "b"))
    intruder = tls_peer(3, tls_contexts(other_ca, tmp_path, "c"))
    pa, pb = port(), port()
    await a.transport.listen([f"https://127.0.0.1:{pa}"])
    await b.transport.listen([f"https://127.0.0.1:{pb}"])
    try:
        a.transport.add_peer(2, [f"https://127.0.0.1:{pb}"])
        a.transport.send([heartbeat(1, 2, 5)])
        assert (await asyncio.wait_for(b.messages.get(), 5)).term == 5
        intruder.transport.add_peer(2, [f"https://127.0.0.1:{pb}"])
        intruder.transport.send([heartbeat(3, 2, 6)])
        await asyncio.sleep(0.5)
        assert b.messages.empty()
        assert intruder.unreachable  # the handshake failed on its side
    finally:
        for peer in (a, b, intruder):
            await peer.transport.stop()


async def test_snapshot_delivery_is_reported_and_an_oversized_one_fails_alone(port, monkeypatch):
    a, b = Peer(1), Peer(2)
    pb = port()
    await b.transport.listen([f"http://127.0.0.1:{pb}"])
    try:
        a.transport.add_peer(2, [f"http://127.0.0.1:{pb}"])
        snap = Message(MessageType.SNAP, to=2, from_=1, term=1,
                       snapshot=Snapshot(SnapshotMeta(10, 1, ConfState((1, 2))), b"s" * 5000))
        a.transport.send([snap])
        assert (await asyncio.wait_for(b.messages.get(), 5)).snapshot == snap.snapshot
        assert a.snapshots == [(2, True)]
        monkeypatch.setattr("store.transport.MAX_FRAME", 1000)
        a.transport.send([snap, heartbeat(1, 2, 9)])
        assert (await asyncio.wait_for(b.messages.get(), 5)).term == 9  # the link survived the refusal
        assert a.snapshots == [(2, True), (2, False)]
    finally:
        await a.transport.stop()
        await b.transport.stop()
