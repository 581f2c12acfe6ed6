"""Debian's etcdctl (API v3) against three real ``tinykube store`` members: our store is an etcd to it."""

from __future__ import annotations

import json
import re
import socket
import ssl
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from queue import Empty, Queue

import pytest

from tests.integration.store_cluster import ETCDCTL, StoreCluster, TLSFiles, make_tls

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(request, processes, port, tmp_path) -> StoreCluster:
    """Three members; over TLS with client certificates (as ``tinykube up`` runs them) when parametrized "tls"."""
    tls = make_tls(tmp_path / "pki") if getattr(request, "param", "plain") == "tls" else None
    c = StoreCluster(processes, port, tmp_path, tls=tls)
    c.start_all()
    return c


both_transports = pytest.mark.parametrize("cluster", ["plain", "tls"], indirect=True)


def _header_revision(cluster: StoreCluster) -> int:
    result = cluster.json("get", "nothing-here")
    assert isinstance(result, dict)
    return int(result["header"]["revision"])


@both_transports
def test_put_get_with_prefix_rev_limit_and_sort(cluster: StoreCluster):
    assert cluster.ok("put", "/fruit/banana", "yellow").strip() == "OK"
    rev_banana = _header_revision(cluster)
    assert cluster.ok("put", "/fruit/apple", "red").strip() == "OK"
    assert cluster.ok("put", "/fruit/cherry", "dark").strip() == "OK"
    assert cluster.ok("put", "/fruit/banana", "green").strip() == "OK"
    assert cluster.ok("put", "/veg/leek", "white").strip() == "OK"

    assert cluster.ok("get", "/fruit/banana").splitlines() == ["/fruit/banana", "green"]
    assert cluster.ok("get", "/fruit/banana", "--rev", str(rev_banana)).splitlines() == ["/fruit/banana", "yellow"]
    assert cluster.ok("get", "--prefix", "/fruit/", "--keys-only").split() == [
        "/fruit/apple", "/fruit/banana", "/fruit/cherry"]
    assert cluster.ok("get", "--prefix", "/fruit/", "--limit", "2").splitlines() == [
        "/fruit/apple", "red", "/fruit/banana", "green"]
    assert cluster.ok("get", "--prefix", "/fruit/", "--sort-by", "KEY", "--order", "DESCEND",
                      "--keys-only").split() == ["/fruit/cherry", "/fruit/banana", "/fruit/apple"]
    # Sorted by modification: apple, cherry, then banana (written again last).
    assert cluster.ok("get", "--prefix", "/fruit/", "--sort-by", "MODIFY", "--order", "ASCEND",
                      "--keys-only").split() == ["/fruit/apple", "/fruit/cherry", "/fruit/banana"]
    assert cluster.ok("get", "--prefix", "/fruit/", "--sort-by", "VALUE", "--order", "ASCEND",
                      "--print-value-only").split() == ["dark", "green", "red"]

    limited = cluster.json("get", "--prefix", "/fruit/", "--limit", "1")
    assert isinstance(limited, dict)
    assert limited["more"] is True and limited["count"] == 3 and len(limited["kvs"]) == 1
    assert limited["header"]["revision"] == rev_banana + 4

    # Every member answers the same, serializable or linearizable.
    for member in cluster.members:
        out = cluster.ok("get", "/veg/leek", "--consistency=s", endpoints=[member.endpoint])
        assert out.splitlines() == ["/veg/leek", "white"]

    assert cluster.ok("del", "/fruit/banana").strip() == "1"
    assert cluster.ok("del", "--prefix", "/fruit/", "--prev-kv").splitlines() == [
        "2", "/fruit/apple", "red", "/fruit/cherry", "dark"]
    assert cluster.ok("get", "--prefix", "/fruit/") == ""
    assert cluster.ok("del", "/fruit/none").strip() == "0"


def test_errors_are_etcds(cluster: StoreCluster):
    too_large = cluster.etcdctl("put", "big", stdin=b"x" * (1536 * 1024 + 10))
    assert too_large.returncode != 0
    assert "etcdserver: request is too large" in too_large.stderr
    # A value just under the limit is stored and read back whole.
    assert cluster.ok("put", "big", stdin="y" * (1400 * 1024)).strip() == "OK"
    assert len(cluster.ok("get", "big", "--print-value-only").strip()) == 1400 * 1024

    future = cluster.etcdctl("get", "big", "--rev", "100000")
    assert future.returncode != 0
    assert "etcdserver: mvcc: required revision is a future revision" in future.stderr

    no_lease = cluster.etcdctl("put", "k", "v", "--lease", "1234abcd")
    assert no_lease.returncode != 0
    assert "etcdserver: requested lease not found" in no_lease.stderr


def _txn_result(output: str) -> list[str]:
    """What ``txn -i`` printed after its three prompts."""
    lines = output.splitlines()
    assert lines[:3] == ["compares:", "success requests (get, put, del):", "failure requests (get, put, del):"]
    return lines[3:]


@both_transports
def test_txn_from_interactive_input(cluster: StoreCluster):
    cluster.ok("put", "key1", "v1")
    script = 'mod("key1") > "0"\n\nput key1 "overwrote-key1"\n\nput key1 "created-key1"\nput key2 "some extra key"\n\n'
    assert _txn_result(cluster.ok("txn", "-i", stdin=script)) == ["SUCCESS", "", "OK"]
    assert cluster.ok("get", "key1", "--print-value-only").strip() == "overwrote-key1"
    assert cluster.ok("get", "key2") == ""

    failing = 'value("key1") = "nope"\n\nput key1 "not-this"\n\nput key2 "from-failure"\nget key1\n\n'
    assert _txn_result(cluster.ok("txn", "-i", stdin=failing)) == [
        "FAILURE", "", "OK", "", "key1", "overwrote-key1"]
    assert cluster.ok("get", "key2", "--print-value-only").strip() == "from-failure"


class _Lines:
    """The stdout lines of a running process, readable with a timeout."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.queue: Queue[str] = Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.queue.put(line.rstrip("\n"))

    def take(self, n: int, timeout: float = 10.0) -> list[str]:
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            try:
                out.append(self.queue.get(timeout=max(0.0, deadline - time.monotonic())))
            except Empty:
                raise AssertionError(f"got {out} of {n} lines") from None
        return out


@pytest.fixture
def watch(cluster: StoreCluster) -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait()


def _start_watch(cluster: StoreCluster, procs: list[subprocess.Popen[str]], *args: str) -> _Lines:
    proc = subprocess.Popen(cluster.etcdctl_argv("watch", *args),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"})
    procs.append(proc)
    return _Lines(proc)


@both_transports
def test_watch_prefix_and_from_revision(cluster: StoreCluster, watch: list[subprocess.Popen[str]]):
    cluster.ok("put", "/w/before", "0")
    first_rev = _header_revision(cluster)
    live = _start_watch(cluster, watch, "--prefix", "/w/")
    time.sleep(1.0)  # etcdctl prints nothing when its watch is created; give it time to register
    cluster.ok("put", "/w/a", "1")
    cluster.ok("put", "/other", "x")
    cluster.ok("del", "/w/before")
    assert live.take(3) == ["PUT", "/w/a", "1"]
    assert live.take(3) == ["DELETE", "/w/before", ""]

    # From a past revision: history first, in order, then live events.
    history = _start_watch(cluster, watch, "--rev", str(first_rev), "--prefix", "/w/", "--prev-kv")
    assert history.take(3) == ["PUT", "/w/before", "0"]
    assert history.take(3) == ["PUT", "/w/a", "1"]
    # A delete prints the deleted version (prev_kv) and then the tombstone, whose value is empty.
    assert history.take(5) == ["DELETE", "/w/before", "0", "/w/before", ""]
    cluster.ok("put", "/w/b", "2")
    assert history.take(3) == ["PUT", "/w/b", "2"]
    assert live.take(3) == ["PUT", "/w/b", "2"]


@both_transports
def test_lease_grant_keepalive_timetolive_revoke(cluster: StoreCluster):
    granted = cluster.ok("lease", "grant", "60").strip()
    match = re.fullmatch(r"lease ([0-9a-f]+) granted with TTL\(60s\)", granted)
    assert match, granted
    lease = match.group(1)
    cluster.ok("put", "leased", "v", "--lease", lease)
    assert cluster.ok("lease", "keep-alive", "--once", lease).strip() == f"lease {lease} keepalived with TTL(60)"
    # Every member answers about the lease (followers ask the leader, whose clock decides expiry).
    for member in cluster.members:
        ttl = cluster.ok("lease", "timetolive", lease, "--keys", endpoints=[member.endpoint]).strip()
        match = re.fullmatch(
            rf"lease {lease} granted with TTL\(60s\), remaining\((\d+)s\), attached keys\(\[leased\]\)", ttl)
        assert match and 55 <= int(match.group(1)) <= 60, ttl
        keepalive = cluster.ok("lease", "keep-alive", "--once", lease, endpoints=[member.endpoint]).strip()
        assert keepalive == f"lease {lease} keepalived with TTL(60)"
    assert lease in cluster.ok("lease", "list")
    assert cluster.ok("lease", "revoke", lease).strip() == f"lease {lease} revoked"
    assert cluster.ok("get", "leased") == ""
    gone = cluster.ok("lease", "timetolive", lease).strip()
    assert gone == f"lease {lease} already expired"


def test_short_lease_expires_and_takes_its_keys(cluster: StoreCluster):
    lease = cluster.ok("lease", "grant", "2").split()[1]
    cluster.ok("put", "ephemeral", "v", "--lease", lease)
    deadline = time.monotonic() + 10
    while cluster.ok("get", "ephemeral"):
        assert time.monotonic() < deadline, "the expired lease's key is still there"
        time.sleep(0.3)


@both_transports
def test_member_list_endpoint_status_and_health(cluster: StoreCluster):
    members = cluster.ok("member", "list").splitlines()
    assert len(members) == 3
    by_name = {}
    for line in members:
        member_id, state, name, peer, client, learner = (f.strip() for f in line.split(","))
        assert state == "started" and learner == "false"
        by_name[name] = (member_id, peer, client)
    for m in cluster.members:
        assert by_name[m.name][1:] == (m.peer_url, m.client_url)

    statuses = cluster.statuses()
    assert len(statuses) == 3
    leaders = {s["Status"]["leader"] for s in statuses}  # type: ignore[index]
    clusters = {s["Status"]["header"]["cluster_id"] for s in statuses}  # type: ignore[index]
    ids = {s["Status"]["header"]["member_id"] for s in statuses}  # type: ignore[index]
    assert len(leaders) == 1 and len(clusters) == 1 and leaders <= ids
    assert {f"{i:x}" for i in ids} == {v[0] for v in by_name.values()}

    health = cluster.etcdctl("endpoint", "health")
    assert health.returncode == 0
    assert len(re.findall(r"is healthy: successfully committed proposal", health.stdout + health.stderr)) == 3

    table = cluster.ok("endpoint", "status", "-w", "table")
    assert "3.4.0" in table and table.count("true") == 1  # exactly one member is the leader


def test_compaction(cluster: StoreCluster):
    cluster.ok("put", "c", "1")
    old = _header_revision(cluster)
    cluster.ok("put", "c", "2")
    cluster.ok("put", "c", "3")
    now = _header_revision(cluster)
    assert cluster.ok("compaction", str(now - 1)).strip() == f"compacted revision {now - 1}"
    compacted = cluster.etcdctl("get", "c", "--rev", str(old))
    assert compacted.returncode != 0
    assert "etcdserver: mvcc: required revision has been compacted" in compacted.stderr
    assert cluster.ok("get", "c", "--rev", str(now - 1), "--print-value-only").strip() == "2"
    again = cluster.etcdctl("compaction", str(now - 2))
    assert "required revision has been compacted" in again.stderr

    # A watch from a compacted revision is cancelled with the compaction revision.
    watch = cluster.etcdctl("watch", "c", "--rev", str(old), timeout=20)
    assert "required revision has been compacted" in watch.stdout + watch.stderr


def test_move_leader(cluster: StoreCluster):
    leader = cluster.leader()
    statuses = {s["Endpoint"]: s["Status"]["header"]["member_id"] for s in cluster.statuses()}  # type: ignore[index]
    target = next(m for m in cluster.members if m is not leader)
    target_id = statuses[target.endpoint]
    out = cluster.ok("move-leader", f"{target_id:x}")
    assert out.strip() == f"Leadership transferred from {statuses[leader.endpoint]:x} to {target_id:x}"
    assert cluster.leader() == target
    assert cluster.ok("put", "after-move", "ok").strip() == "OK"

    # Asking a follower to move leadership is refused the way etcd refuses it.
    follower = next(m for m in cluster.members if m is not target)
    refused = cluster.etcdctl("move-leader", f"{statuses[follower.endpoint]:x}", endpoints=[follower.endpoint])
    assert refused.returncode != 0
    assert "no leader endpoint given" in refused.stderr


def test_quota_raises_nospace_alarm_and_disarm_recovers(processes, port, tmp_path):
    cluster = StoreCluster(processes, port, tmp_path, extra_args=("--quota-backend-bytes", str(256 * 1024)))
    cluster.start_all()
    value = "v" * (40 * 1024)
    refused = None
    for i in range(20):
        result = cluster.etcdctl("put", f"fill/{i}", value)
        if result.returncode != 0:
            refused = result
            break
    assert refused is not None, "writes beyond --quota-backend-bytes were accepted"
    assert "etcdserver: mvcc: database space exceeded" in refused.stderr
    assert "alarm:NOSPACE" in cluster.ok("alarm", "list")
    # Every member refuses writes now; reads and deletes still work, and nothing was lost.
    for member in cluster.members:
        again = cluster.etcdctl("put", "small", "x", endpoints=[member.endpoint])
        assert "database space exceeded" in again.stderr
    stored = int(cluster.ok("del", "--prefix", "fill/").strip())
    assert stored == i
    revision = _header_revision(cluster)
    cluster.ok("compaction", str(revision))
    cluster.ok("defrag")
    assert "alarm:NOSPACE" in cluster.ok("alarm", "disarm")
    assert cluster.ok("alarm", "list") == ""
    assert cluster.ok("put", "small", "x").strip() == "OK"


def test_health_and_metrics_endpoints(cluster: StoreCluster):
    for member in cluster.members:
        with urllib.request.urlopen(member.metrics_url + "/health", timeout=5) as resp:
            assert resp.status == 200
            assert json.loads(resp.read()) == {"health": "true", "reason": ""}
    cluster.ok("put", "m", "1")
    leader = cluster.leader()
    with urllib.request.urlopen(leader.metrics_url + "/metrics", timeout=5) as resp:
        text = resp.read().decode()
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert samples["etcd_server_has_leader"] == "1" and samples["etcd_server_is_leader"] == "1"
    assert int(samples["etcd_server_proposals_committed_total"]) >= 1
    assert int(samples["etcd_server_apply_duration_seconds_count"]) >= 1
    assert int(samples["etcd_debugging_mvcc_keys_total"]) == 1


def test_sigterm_on_the_leader_hands_over_leadership(cluster: StoreCluster):
    leader = cluster.leader()
    ids = {s["Endpoint"]: s["Status"]["header"]["member_id"] for s in cluster.statuses()}  # type: ignore[index]
    proc = cluster.procs[leader.name]
    started = time.monotonic()
    proc.terminate()
    assert proc.wait(timeout=10) == 0
    assert time.monotonic() - started < 5
    rest = [m for m in cluster.members if m is not leader]
    assert cluster.ok("put", "after-sigterm", "ok", endpoints=[m.endpoint for m in rest]).strip() == "OK"
    statuses = cluster.json("endpoint", "status", endpoints=[m.endpoint for m in rest])
    assert isinstance(statuses, list)
    (new_leader,) = {s["Status"]["leader"] for s in statuses}
    # The old leader saw its successor take over before it stopped: a hand-over, not an election after it died.
    after_sigterm = cluster.processes.log(leader.name).partition("stopping signal=SIGTERM")[2]
    assert f"leader changed leader={new_leader:x} " in after_sigterm
    assert new_leader != ids[leader.endpoint]


def test_tls_for_clients_and_peers(processes, port, tmp_path):
    tls = make_tls(tmp_path / "pki")
    cluster = StoreCluster(processes, port, tmp_path, tls=tls)
    cluster.start_all()
    assert all(e.startswith("https://") for e in cluster.endpoints)
    assert cluster.ok("put", "secure", "yes").strip() == "OK"
    for member in cluster.members:
        assert cluster.ok("get", "secure", "--print-value-only", endpoints=[member.endpoint]).strip() == "yes"
    # Lease renewals that a follower forwards to the leader travel over TLS too.
    lease = cluster.ok("lease", "grant", "30").split()[1]
    for member in cluster.members:
        assert "keepalived with TTL(30)" in cluster.ok("lease", "keep-alive", "--once", lease,
                                                       endpoints=[member.endpoint])
    # --client-cert-auth: a client without a certificate from the CA is refused.
    anonymous = subprocess.run(
        [ETCDCTL, f"--endpoints={cluster.endpoints[0]}", f"--cacert={tls.ca}", "--dial-timeout=2s",
         "--command-timeout=3s", "get", "secure"],
        capture_output=True, text=True, timeout=20, env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"})
    assert anonymous.returncode != 0 and "yes" not in anonymous.stdout
    # Nor is a client whose certificate another CA signed (what a cluster identity is to the store).
    foreign = make_tls(tmp_path / "foreign")
    refused = subprocess.run(
        [ETCDCTL, f"--endpoints={cluster.endpoints[0]}", f"--cacert={tls.ca}", f"--cert={foreign.client_cert}",
         f"--key={foreign.client_key}", "--dial-timeout=2s", "--command-timeout=3s", "get", "secure"],
        capture_output=True, text=True, timeout=20, env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"})
    assert refused.returncode != 0 and "yes" not in refused.stdout
    # (Peers refusing another CA's certificate: test_store_transport.py.)

    # What grpcio's server refused, ours does too: a client that does not choose h2 by ALPN, and TLS 1.2
    # without an AES-GCM suite. With both right, the member answers the HTTP/2 preface with its SETTINGS.
    url = cluster.members[0].client_url
    assert _tls_first_bytes(url, tls, alpn=["h2"]).startswith(b"\x00\x00")
    assert _tls_first_bytes(url, tls, alpn=["http/1.1"]) == b""
    assert _tls_first_bytes(url, tls, alpn=["h2"], tls12_ciphers="ECDHE-ECDSA-AES128-SHA256") == b""


def _tls_first_bytes(url: str, tls: TLSFiles, *, alpn: list[str], tls12_ciphers: str = "") -> bytes:
    """What a member sends first to a TLS client with the client certificate that opens HTTP/2; b"" when it
    refuses the handshake or closes the connection."""
    context = ssl.create_default_context(cafile=str(tls.ca))
    context.load_cert_chain(tls.client_cert, tls.client_key)
    context.set_alpn_protocols(alpn)
    if tls12_ciphers:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(tls12_ciphers)
    host, _, port = url.removeprefix("https://").rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=10) as raw, \
                context.wrap_socket(raw, server_hostname=host) as conn:
            conn.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            return conn.recv(64)
    except (ssl.SSLError, ConnectionError):
        return b""


def test_periodic_auto_compaction(processes, port, tmp_path):
    cluster = StoreCluster(processes, port, tmp_path, extra_args=(
        "--auto-compaction-mode", "periodic", "--auto-compaction-retention", "2s"))
    cluster.start_all()
    cluster.ok("put", "auto", "1")
    old = _header_revision(cluster)
    cluster.ok("put", "auto", "2")
    deadline = time.monotonic() + 15
    while "required revision has been compacted" not in cluster.etcdctl("get", "auto", "--rev", str(old)).stderr:
        assert time.monotonic() < deadline, "history older than the retention was not compacted"
        time.sleep(0.5)
    assert cluster.ok("get", "auto", "--print-value-only").strip() == "2"


def test_member_add_promote_remove_and_hashkv(cluster: StoreCluster, port):
    cluster.ok("put", "h", "1")
    hashes = cluster.json("endpoint", "hashkv")
    assert isinstance(hashes, list) and len({h["HashKV"]["hash"] for h in hashes}) == 1

    peer = f"http://127.0.0.1:{port()}"
    added = cluster.ok("member", "add", "m4", f"--peer-urls={peer}", "--learner")
    match = re.search(r"Member +([0-9a-f]+) added to cluster", added)  # etcdctl pads ids to 16 columns
    assert match, added
    new_id = match.group(1)
    assert 'ETCD_INITIAL_CLUSTER_STATE="existing"' in added
    row = next(line for line in cluster.ok("member", "list").splitlines() if line.startswith(new_id))
    assert [f.strip() for f in row.split(",")] == [new_id, "unstarted", "", peer, "", "true"]
    # A learner that never started cannot be in sync, so it cannot be promoted.
    refused = cluster.etcdctl("member", "promote", new_id)
    assert "can only promote a learner member which is in sync with leader" in refused.stderr
    duplicate = cluster.etcdctl("member", "add", "m5", f"--peer-urls={peer}")
    assert "Peer URLs already exists" in duplicate.stderr
    assert re.match(rf"Member +{new_id} removed from cluster", cluster.ok("member", "remove", new_id))
    assert len(cluster.ok("member", "list").splitlines()) == 3
    missing = cluster.etcdctl("member", "remove", new_id)
    assert "etcdserver: member not found" in missing.stderr
