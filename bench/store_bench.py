"""tinykube's store against etcd, measured in the same run on the same disk through the same gRPC client.

Starts three tinykube store members and three etcd members (Debian's etcd-server, same flags, fsync on),
then measures each the same way: write throughput and latency at several concurrencies and value sizes,
throughput as the key count grows, linearizable reads, watch delivery to many watchers, leader failover
after SIGKILL, and a member restarting with 100k keys. Prints absolute figures and tinykube/etcd ratios,
and for write rows the bench client's own CPU share (near 100% the client, not the store, is the ceiling).

The primary figure on a shared machine is CPU per operation: the user+system time of the three members
(and of the children they reaped: our snapshot writers) over the operations of a row, in µs, and for the
restart the CPU seconds the restarted member spent until it served. Wall-clock rows are printed with the
load averages they were taken at.

The 1 KiB write rows run with both clusters up, alternating between them row by row, ``--rounds`` times:
this machine's speed drifts by more than the difference being measured, so rows taken minutes apart (one
implementation's whole suite, then the other's) compare the machine as much as the stores. Each round's
pair is printed, and the median of the rounds' ratios.

They run through two gRPC clients, both implementations through the same one each time: grpcio's asyncio
client (every other row uses it), and ``store.client.StoreClient``, the client the apiserver uses (rows
suffixed ``_sc``). The client shares the two cores with the six members, and grpcio's spends 90-190 µs of
CPU per write (``bench.store_client_bench``), up to a third of what a whole write costs the machine; that
tax is the same per write for both stores, so it pulls the faster one's ratio towards 1.

    .venv/bin/python -m bench.store_bench [--quick] [--only tinykube|etcd] [--section NAME ...] [--rounds N]
                                          [--json FILE]

Sections: writes (1 KiB at concurrency 1, 16, 64), big (200 KiB), growth, reads, watch, failover, restart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import uvloop

from bench.proc_stat import cpu_seconds
from protos.etcd import rpc_pb2, rpc_pb2_grpc
from store.client import StoreClient

REPO = Path(__file__).resolve().parent.parent
TINYKUBE = REPO / ".venv" / "bin" / "tinykube"
MAX_MSG = 4 * 1024 * 1024
SECTIONS = ("writes", "big", "growth", "reads", "watch", "failover", "restart")


def process_cpu(pid: int) -> float:
    """CPU seconds of a process and of the children it reaped (utime, stime, cutime, cstime of /proc/PID/stat)."""
    try:
        return cpu_seconds(pid, reaped=True)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


@dataclass
class Member:
    name: str
    client_port: int
    peer_port: int
    data_dir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def client_url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"


@dataclass
class Cluster:
    """Three members of one implementation, started with etcd's flags."""

    kind: str  # "tinykube" or "etcd"
    workdir: Path
    base_port: int
    members: list[Member] = field(default_factory=list)

    def __post_init__(self) -> None:
        for i in range(3):
            self.members.append(Member(f"m{i}", self.base_port + 2 * i, self.base_port + 2 * i + 1,
                                       self.workdir / self.kind / f"m{i}"))

    def argv(self, m: Member, state: str) -> list[str]:
        initial = ",".join(f"{x.name}={x.peer_url}" for x in self.members)
        flags = [
            f"--name={m.name}", f"--data-dir={m.data_dir}",
            f"--listen-client-urls={m.client_url}", f"--advertise-client-urls={m.client_url}",
            f"--listen-peer-urls={m.peer_url}", f"--initial-advertise-peer-urls={m.peer_url}",
            f"--initial-cluster={initial}", f"--initial-cluster-state={state}",
            "--initial-cluster-token=bench", "--heartbeat-interval=100", "--election-timeout=1000",
            "--snapshot-count=10000", f"--quota-backend-bytes={8 * 1024**3}",
        ]
        if self.kind == "etcd":
            return ["etcd", *flags, "--log-level=error", "--logger=zap", f"--max-request-bytes={MAX_MSG}"]
        return [str(TINYKUBE), "store", *flags]

    def start_member(self, m: Member, state: str = "new") -> None:
        m.data_dir.parent.mkdir(parents=True, exist_ok=True)
        log = (self.workdir / f"{self.kind}-{m.name}.log").open("ab")
        m.proc = subprocess.Popen(self.argv(m, state), stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()

    def start(self) -> None:
        for m in self.members:
            self.start_member(m)

    def cpu(self) -> float:
        """CPU seconds the running members have used so far."""
        return sum(process_cpu(m.proc.pid) for m in self.members if m.proc and m.proc.poll() is None)

    def kill(self, m: Member) -> None:
        if m.proc and m.proc.poll() is None:
            os.killpg(m.proc.pid, signal.SIGKILL)
            m.proc.wait()

    def stop(self) -> None:
        for m in self.members:
            if m.proc and m.proc.poll() is None:
                os.killpg(m.proc.pid, signal.SIGTERM)
        for m in self.members:
            if m.proc:
                try:
                    m.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.kill(m)


class Client:
    """One gRPC channel per member; writes go to the current leader, as the apiserver's client does."""

    def __init__(self, cluster: Cluster) -> None:
        opts = [("grpc.max_send_message_length", MAX_MSG), ("grpc.max_receive_message_length", MAX_MSG)]
        self.cluster = cluster
        self.channels = {m.name: grpc.aio.insecure_channel(f"127.0.0.1:{m.client_port}", options=opts)
                         for m in cluster.members}
        self.leader = cluster.members[0].name
        self.store = StoreClient([f"127.0.0.1:{m.client_port}" for m in cluster.members], timeout=30.0)
        """The apiserver's own client (it finds and follows the leader itself)."""

    def kv(self, name: str | None = None) -> rpc_pb2_grpc.KVAsyncStub:
        return rpc_pb2_grpc.KVStub(self.channels[name or self.leader])

    def watch(self, name: str | None = None) -> rpc_pb2_grpc.WatchAsyncStub:
        return rpc_pb2_grpc.WatchStub(self.channels[name or self.leader])

    async def find_leader(self, within: float = 30.0, exclude: str | None = None) -> str:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for m in self.cluster.members:
                if m.name == exclude:
                    continue
                try:
                    st = await rpc_pb2_grpc.MaintenanceStub(self.channels[m.name]).Status(
                        rpc_pb2.StatusRequest(), timeout=1)
                except grpc.aio.AioRpcError:
                    continue
                if st.leader and st.leader == st.header.member_id:
                    self.leader = m.name
                    return m.name
            await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.cluster.kind}: no leader within {within}s")

    async def term(self) -> int:
        """The highest Raft term any member reports: how many elections the cluster has held."""
        terms = []
        for m in self.cluster.members:
            with contextlib.suppress(grpc.aio.AioRpcError):
                maintenance = rpc_pb2_grpc.MaintenanceStub(self.channels[m.name])
                terms.append((await maintenance.Status(rpc_pb2.StatusRequest(), timeout=5)).raftTerm)
        return max(terms, default=0)

    async def close(self) -> None:
        for ch in self.channels.values():
            await ch.close(None)
        await self.store.close()


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def drive(concurrency: int, total: int, op: Callable[[int], Awaitable[Any]]) -> tuple[float, list[float]]:
    """Run ``total`` operations from ``concurrency`` workers; returns (ops/s, latencies in ms)."""
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            t0 = time.perf_counter()
            await op(i)
            latencies.append((time.perf_counter() - t0) * 1000)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - start), latencies


async def bench_writes(c: Client, concurrency: int, size: int, total: int, tag: str, *,
                       via: str = "grpcio") -> dict[str, Any]:
    value = os.urandom(size)
    kv, store = c.kv(), c.store

    async def put_via_grpcio(i: int) -> None:
        await kv.Put(rpc_pb2.PutRequest(key=f"/bench/{tag}/{i}".encode(), value=value), timeout=30)

    async def put_via_store_client(i: int) -> None:
        await store.put(f"/bench/{tag}/{i}".encode(), value)

    cpu0, wall0, members0 = time.process_time(), time.perf_counter(), c.cluster.cpu()
    rate, lat = await drive(concurrency, total, put_via_grpcio if via == "grpcio" else put_via_store_client)
    # The bench client's own share of a core: near 100% it, not the store, would be the ceiling.
    client_cpu = 100 * (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    return {"ops_per_s": rate, "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99), "client_cpu": client_cpu,
            "cpu_us_per_op": 1e6 * (c.cluster.cpu() - members0) / total, "load": load_average()}


async def bench_growth(c: Client, keys: int, step: int) -> list[dict[str, Any]]:
    value = os.urandom(1024)
    kv = c.kv()
    out = []
    for start in range(0, keys, step):
        async def put(i: int, base: int = start) -> None:
            await kv.Put(rpc_pb2.PutRequest(key=f"/growth/{base + i:08d}".encode(), value=value), timeout=30)

        members0 = c.cluster.cpu()
        rate, _ = await drive(64, step, put)
        out.append({"keys": start + step, "ops_per_s": rate, "cpu_us_per_op": 1e6 * (c.cluster.cpu() - members0) / step,
                    "load": load_average()})
    return out


async def bench_reads(c: Client, total: int) -> dict[str, Any]:
    kv = c.kv()

    async def get(i: int) -> None:
        await kv.Range(rpc_pb2.RangeRequest(key=f"/growth/{i % 1000:08d}".encode()), timeout=30)

    members0 = c.cluster.cpu()
    rate, lat = await drive(16, total, get)
    return {"ops_per_s": rate, "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99),
            "cpu_us_per_op": 1e6 * (c.cluster.cpu() - members0) / total, "load": load_average()}


async def bench_watch(c: Client, watchers: int, events: int) -> dict[str, float]:
    """``watchers`` watchers on one key spread over streams on every member; delivery latency per event."""
    key = b"/watch/target"
    sent: dict[int, float] = {}
    delivery: list[float] = []
    per_stream = 100
    ready = 0
    all_ready = asyncio.Event()
    members = [m.name for m in c.cluster.members]

    async def stream(idx: int) -> None:
        nonlocal ready
        queue: asyncio.Queue[rpc_pb2.WatchRequest | None] = asyncio.Queue()
        for _ in range(per_stream):
            queue.put_nowait(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=key)))

        async def requests() -> Any:
            while (req := await queue.get()) is not None:
                yield req

        call = c.watch(members[idx % len(members)]).Watch(requests())
        created = 0
        seen = 0
        async for resp in call:
            if resp.created:
                created += 1
                if created == per_stream:
                    ready += 1
                    if ready * per_stream >= watchers:
                        all_ready.set()
            for ev in resp.events:
                delivery.append((time.perf_counter() - sent[int(ev.kv.value)]) * 1000)
                seen += 1
            if seen >= per_stream * events:
                break
        queue.put_nowait(None)
        call.cancel()

    tasks = [asyncio.create_task(stream(i)) for i in range(watchers // per_stream)]
    await asyncio.wait_for(all_ready.wait(), 60)
    kv = c.kv()
    for i in range(events):
        sent[i] = time.perf_counter()
        await kv.Put(rpc_pb2.PutRequest(key=key, value=str(i).encode()), timeout=30)
        await asyncio.sleep(0.05)
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    return {"watchers": watchers, "p50_ms": percentile(delivery, 50), "p99_ms": percentile(delivery, 99)}


async def bench_failover(c: Client) -> dict[str, Any]:
    """SIGKILL the leader; time until the next write is acknowledged by the survivors."""
    leader = await c.find_leader()
    victim = next(m for m in c.cluster.members if m.name == leader)
    others = [m.name for m in c.cluster.members if m.name != leader]
    t0 = time.perf_counter()
    c.cluster.kill(victim)
    acked = None
    while acked is None:
        for name in others:
            try:
                await c.kv(name).Put(rpc_pb2.PutRequest(key=b"/failover", value=b"x"), timeout=0.5)
                acked = time.perf_counter()
                break
            except grpc.aio.AioRpcError:
                continue
        if time.perf_counter() - t0 > 30:
            raise RuntimeError("no write acknowledged within 30 s of killing the leader")
    elapsed = acked - t0
    c.cluster.start_member(victim, state="existing")
    await c.find_leader()
    return {"failover_s": elapsed, "load": load_average()}


async def bench_restart(c: Client, keys: int) -> dict[str, Any]:
    """Load ``keys`` 1 KiB keys, SIGKILL a follower, restart it and time until it serves a read itself."""
    value = os.urandom(1024)
    kv = c.kv()

    async def put(i: int) -> None:
        await kv.Put(rpc_pb2.PutRequest(key=f"/restart/{i:08d}".encode(), value=value), timeout=30)

    term = await c.term()
    await drive(64, keys, put)
    await wait_applied_everywhere(c, f"/restart/{keys - 1:08d}".encode())
    elections = await c.term() - term  # while loading: snapshots of a growing state must not cost a leader
    leader = await c.find_leader()
    follower = next(m for m in c.cluster.members if m.name != leader)
    c.cluster.kill(follower)
    t0 = time.perf_counter()
    c.cluster.start_member(follower, state="existing")
    # A new channel that retries its connection every 50 ms: with grpc's default backoff (1 s, growing
    # 1.6x per refused attempt) a member that took a few seconds to listen was measured seconds late.
    ch = grpc.aio.insecure_channel(f"127.0.0.1:{follower.client_port}", options=[
        ("grpc.initial_reconnect_backoff_ms", 50), ("grpc.min_reconnect_backoff_ms", 50),
        ("grpc.max_reconnect_backoff_ms", 50)])
    try:
        while True:
            try:
                resp = await rpc_pb2_grpc.KVStub(ch).Range(
                    rpc_pb2.RangeRequest(key=f"/restart/{keys - 1:08d}".encode(), serializable=True), timeout=1)
                if resp.kvs:
                    break
            except grpc.aio.AioRpcError:
                pass
            if time.perf_counter() - t0 > 120:
                raise RuntimeError("restarted member did not serve within 120 s")
            await asyncio.sleep(0.02)
    finally:
        await ch.close(None)
    elapsed = time.perf_counter() - t0
    assert follower.proc is not None
    return {"keys": keys, "restart_s": elapsed, "restart_cpu_s": process_cpu(follower.proc.pid),
            "load": load_average(), "elections_while_loading": elections}


async def wait_applied_everywhere(c: Client, key: bytes) -> None:
    """Until every member serves ``key`` locally: the restarted member then has nothing to catch up on."""
    for m in c.cluster.members:
        for _ in range(1200):
            if (await c.kv(m.name).Range(rpc_pb2.RangeRequest(key=key, serializable=True), timeout=30)).kvs:
                break
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError(f"{c.cluster.kind} member {m.name} did not apply the load within 60 s")


def scaled(x: int, quick: bool) -> int:
    return max(10, int(x * (0.2 if quick else 1.0)))


WRITE_ROWS = {1: 1000, 16: 8000, 64: 20000}  # 1 KiB writes per row, by concurrency
CLIENTS = {"grpcio": "", "storeclient": "_sc"}  # how a write row reaches the members: its rows' name suffix


async def interleaved_writes(clients: dict[str, Client], quick: bool, rounds: int) -> dict[str, dict[str, Any]]:
    """The 1 KiB write rows, ``rounds`` times over: each row runs on every implementation in turn, whose turn
    comes first alternating round by round, so that this machine's drift in speed (up to twice from one minute
    to the next) falls on both alike. Every round is kept; a row's headline figures are its median round."""
    kinds = list(clients)
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {k: {} for k in kinds}
    for r in range(rounds):
        for conc, total in WRITE_ROWS.items():
            for via, suffix in CLIENTS.items():
                for kind in kinds[::-1] if r % 2 else kinds:
                    row = await bench_writes(clients[kind], conc, 1024, scaled(total, quick), f"c{conc}r{r}{suffix}",
                                             via=via)
                    runs[kind].setdefault(f"write_1k_c{conc}{suffix}", []).append(row)
    out: dict[str, dict[str, Any]] = {}
    for kind, rows in runs.items():
        out[kind] = {}
        for name, samples in rows.items():
            median = sorted(samples, key=lambda s: s["ops_per_s"])[len(samples) // 2]
            out[kind][name] = {**median, "rounds": samples}
    return out


async def run_suite(cluster: Cluster, quick: bool, sections: set[str], rounds: int) -> dict[str, Any]:
    def n(x: int) -> int:
        return scaled(x, quick)

    cluster.start()
    c = Client(cluster)
    try:
        await c.find_leader()
        res: dict[str, Any] = {"load_start": load_average()}
        term = await c.term()
        if "writes" in sections:
            res.update((await interleaved_writes({cluster.kind: c}, quick, rounds))[cluster.kind])
        if "big" in sections:
            for conc in (1, 4):
                res[f"write_200k_c{conc}"] = await bench_writes(c, conc, 200 * 1024, n(200), f"big{conc}")
        if "growth" in sections or "reads" in sections:  # the reads read the keys the growth wrote
            res["growth"] = await bench_growth(c, n(50000), n(10000))
        if "reads" in sections:
            res["reads"] = await bench_reads(c, n(20000))
        if "watch" in sections:
            res["watch"] = await bench_watch(c, 1000 if not quick else 200, 20)
        # Terms gained while writing, before any member is killed: elections nobody asked for.
        res["unplanned_elections"] = await c.term() - term
        if "failover" in sections:
            res["failover"] = await bench_failover(c)
        if "restart" in sections:
            res["restart"] = await bench_restart(c, n(100000))
        return res
    finally:
        await c.close()
        cluster.stop()


async def writes_side_by_side(clusters: list[Cluster], quick: bool, rounds: int) -> dict[str, dict[str, Any]]:
    """Both implementations up at once for the interleaved write rows (an idle cluster only heartbeats)."""
    clients: dict[str, Client] = {}
    try:
        for cluster in clusters:
            cluster.start()
            clients[cluster.kind] = Client(cluster)
        terms = {}
        for kind, c in clients.items():
            await c.find_leader()
            terms[kind] = await c.term()
        out = await interleaved_writes(clients, quick, rounds)
        for kind, c in clients.items():
            out[kind]["unplanned_elections_writes"] = await c.term() - terms[kind]
        return out
    finally:
        for c in clients.values():
            await c.close()
        for cluster in clusters:
            cluster.stop()


def fmt(r: dict[str, Any] | None) -> str:
    if not r:
        return "-"
    client = f" client {r['client_cpu']:3.0f}%" if "client_cpu" in r else ""
    return (f"{r['cpu_us_per_op']:6.0f} us/op {r['ops_per_s']:8.0f}/s p50 {r['p50_ms']:6.2f} "
            f"p99 {r['p99_ms']:6.2f} ms{client} (load {r['load']})")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def _median_of_ratios(pairs: list[tuple[dict[str, Any], dict[str, Any]]], key: str) -> str:
    """Every round's tinykube/etcd ratio of ``key``, in order, and their median."""
    ratios = sorted(x[key] / y[key] for x, y in pairs)
    return " ".join(f"{r:.2f}x" for r in ratios) + f", median {ratios[len(ratios) // 2]:.2f}x"


def report(results: dict[str, dict[str, Any]]) -> None:
    """One row per measure: both implementations' figures, then tinykube/etcd (CPU per op, then ops/s)."""
    tk, et = results.get("tinykube", {}), results.get("etcd", {})
    rows: list[tuple[str, str, str, str]] = []
    def compared(a: dict[str, Any], b: dict[str, Any]) -> str:
        return (f"cpu {ratio(a['cpu_us_per_op'], b['cpu_us_per_op'])} rate {ratio(a['ops_per_s'], b['ops_per_s'])}"
                f" p99 {ratio(a['p99_ms'], b['p99_ms'])}")

    writes = [f"write_1k_c{conc}{suffix}" for suffix in CLIENTS.values() for conc in WRITE_ROWS]
    for name in (*writes, "write_200k_c1", "write_200k_c4", "reads"):
        a, b = tk.get(name), et.get(name)
        if a and b and "rounds" in a and "rounds" in b:
            pairs = list(zip(a["rounds"], b["rounds"], strict=True))
            rows.extend((f"{name} #{i + 1}", fmt(x), fmt(y), compared(x, y)) for i, (x, y) in enumerate(pairs))
            # The median round is the one of median throughput; its p99 is any round's, so the p99 ratios
            # get a median of their own.
            rows.append((f"{name} median", fmt(a), fmt(b), f"{compared(a, b)}; the rounds' "
                         + "; ".join(f"{what} ratios: {_median_of_ratios(pairs, key)}"
                                     for what, key in (("rate", "ops_per_s"), ("p99", "p99_ms")))))
        elif a or b:
            rows.append((name, fmt(a), fmt(b), compared(a, b) if a and b else ""))
    for i in range(len(tk.get("growth") or et.get("growth") or [])):
        a = tk["growth"][i] if tk else None
        b = et["growth"][i] if et else None
        keys = (a or b or {})["keys"]

        def cell(r: dict[str, Any] | None) -> str:
            return f"{r['cpu_us_per_op']:6.0f} us/op {r['ops_per_s']:8.0f}/s (load {r['load']})" if r else "-"
        rows.append((f"growth@{keys}", cell(a), cell(b), f"cpu {ratio(a['cpu_us_per_op'], b['cpu_us_per_op'])} "
                     f"rate {ratio(a['ops_per_s'], b['ops_per_s'])}" if a and b else ""))
    for name, key, unit in (("watch", "p99_ms", "ms p99"), ("failover", "failover_s", "s"),
                            ("restart", "restart_s", "s"), ("restart", "restart_cpu_s", "cpu s")):
        a = tk[name][key] if name in tk else None
        b = et[name][key] if name in et else None
        if a is None and b is None:
            continue
        load = (tk.get(name) or et.get(name) or {}).get("load")
        suffix = f" (load {load})" if load and key != "restart_cpu_s" else ""
        rows.append((name, f"{a:.3f} {unit}{suffix}" if a is not None else "-",
                     f"{b:.3f} {unit}" if b is not None else "-",
                     ratio(a, b) if a is not None and b is not None else ""))
    width = max((len(r[1]) for r in rows), default=8)
    print(f"{'measure':16} {'tinykube':{width}} {'etcd 3.4':{width}} tinykube/etcd")
    for r in rows:
        print(f"{r[0]:16} {r[1]:{width}} {r[2]:{width}} {r[3]}")
    print("rows ending in _sc: 1 KiB writes through store.client.StoreClient, the apiserver's client; every other "
          "row through grpcio's asyncio client")
    print(f"unplanned elections (terms gained) during the write rows: tinykube "
          f"{tk.get('unplanned_elections_writes', '-')}, etcd {et.get('unplanned_elections_writes', '-')}; "
          f"before the failover: tinykube {tk.get('unplanned_elections', '-')}, "
          f"etcd {et.get('unplanned_elections', '-')}; while loading the restart's keys: tinykube "
          f"{tk.get('restart', {}).get('elections_while_loading', '-')}, "
          f"etcd {et.get('restart', {}).get('elections_while_loading', '-')}")
    print(f"load average at start: tinykube {tk.get('load_start', '-')}, etcd {et.get('load_start', '-')}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fifth of the operations, for a smoke run")
    parser.add_argument("--only", choices=["tinykube", "etcd"], help="measure one implementation")
    parser.add_argument("--section", action="append", choices=SECTIONS,
                        help="run only this section (repeatable; default: all)")
    parser.add_argument("--rounds", type=int, default=5, help="times each 1 KiB write row runs (default: 5)")
    parser.add_argument("--json", help="also write the raw results to this file")
    args = parser.parse_args()
    sections = set(args.section or SECTIONS)
    if shutil.which("etcd") is None:
        print("store_bench: etcd is not installed (make setup installs etcd-server)", file=sys.stderr)
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="tk-storebench-", dir="/var/tmp"))
    kinds = [args.only] if args.only else ["tinykube", "etcd"]
    results: dict[str, dict[str, Any]] = {kind: {} for kind in kinds}
    try:
        if "writes" in sections and len(kinds) > 1:
            print(f"== writes, {args.rounds} rounds, interleaved", file=sys.stderr)
            both = [Cluster(kind, workdir / "writes", 23790 + 20 * i) for i, kind in enumerate(kinds)]
            for kind, rows in uvloop.run(writes_side_by_side(both, args.quick, args.rounds)).items():
                results[kind].update(rows)
            sections.discard("writes")
        for i, kind in enumerate(kinds):
            if sections:
                print(f"== {kind}", file=sys.stderr)
                results[kind].update(uvloop.run(run_suite(Cluster(kind, workdir, 23830 + 20 * i), args.quick,
                                                          sections, args.rounds)))
        report(results)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
