"""The apiserver under load: 3 store members and 2 apiservers on loopback, driven over HTTPS as kubectl would.

Measures create/get/update/list latency (p50/p99) and throughput with 1, 16 and 64 concurrent clients
spread over both apiservers, mutating latency at a steady 100 writes/s, consistent GETs at a steady 1,000/s (an
open loop: on 2 shared cores the closed-loop rows' p99 is mostly their own queueing), a list of 10k pods, and
watch delivery (write sent → event received, read by a raw stream scanner) to 100 and 1,000 watchers. GETs
go through a lean keep-alive client (bench/raw_get.py, connections opened before the timing starts): through
aiohttp's client this process spent half the CPU per GET an apiserver did, on the same two cores. Each
closed-loop GET row takes turns with its peer, the same GETs through aiohttp (`get_via_aiohttp`, with the
lean row's p99 and CPU per GET over the peer's as `lean_*_ratio`). Every figure comes with the CPU time the
apiservers, the store members and this bench process spent per operation (utime + stime from /proc, summed
over the processes): on a machine shared with other work, that is the figure to compare across runs;
wall-clock latencies are printed next to the load average.

With --authz it instead measures what authentication and authorization cost: the same request mix against
one apiserver with --authorization-mode=AlwaysAllow driven by the admin's certificate (the baseline), and one
with Node,RBAC over the same store driven by a non-admin user whose namespaced RoleBinding grants the
operations, once by x509 client certificate and once by static bearer token (so every request goes through
the RBAC index, not the system:masters shortcut), plus the admin on the RBAC apiserver as a control for the
difference between the two processes, in rotating rounds; it prints each arm's latency and throughput, their
ratios to the baseline (target ≤ 1.10), the load average, and the in-process cost of authenticating,
deriving attributes and authorizing one request.

    .venv/bin/python -m bench.apiserver_bench [--quick] [--authz] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import uvloop
from aiohttp.test_utils import make_mocked_request

from apiserver.auth import User
from apiserver.authn.chain import Authenticator
from apiserver.authn.client_certs import ClientCertAuthenticator
from apiserver.authn.impersonation import Impersonation
from apiserver.authn.static_tokens import StaticTokenAuthenticator
from apiserver.authz.bootstrap_policy import cluster_role_bindings, cluster_roles
from apiserver.authz.rbac import RBACAuthorizer, RBACIndex
from apiserver.authz.request_info import attributes_for
from apiserver.authz.union import AlwaysAllow, PrivilegedGroup, Union
from bench import watch_probe
from bench.proc_stat import cpu_seconds
from bench.raw_get import RawGetter
from tests.support.ports import free_port
from tinykube.pki import CertAndKey, issue

REPO = Path(__file__).resolve().parent.parent
TINYKUBE = REPO / ".venv" / "bin" / "tinykube"
BENCH_USER, BENCH_TOKEN = "bench-user", "bench-user-token"
AUTHZ_MODES = ("AlwaysAllow", "Node,RBAC")
AUTHZ_NAMESPACE = "bench-authz"
BENCH_ROLE = {
    "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    "apiGroups": [""],
    "resources": ["configmaps"],
}


class Cluster:
    """Store members and apiservers as child processes (each in its own session, killed at the end)."""

    def __init__(self, workdir: Path, modes: tuple[str, ...] = ("AlwaysAllow", "AlwaysAllow")) -> None:
        self.workdir = workdir
        self.modes = modes
        self.procs: list[subprocess.Popen[bytes]] = []
        self.urls: list[str] = []

    def _start(self, name: str, argv: list[str]) -> None:
        log = (self.workdir / f"{name}.log").open("ab")
        self.procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        log.close()

    def start(self) -> None:
        pki = self.workdir / "pki"
        subprocess.run([str(TINYKUBE), "certs", "--dir", str(pki)], check=True, capture_output=True)
        ports = [(free_port(), free_port()) for _ in range(3)]
        initial = ",".join(f"m{i}=http://127.0.0.1:{peer}" for i, (_, peer) in enumerate(ports))
        for i, (client, peer) in enumerate(ports):
            self._start(
                f"m{i}",
                [
                    str(TINYKUBE),
                    "store",
                    "--name",
                    f"m{i}",
                    "--data-dir",
                    str(self.workdir / f"m{i}"),
                    "--listen-client-urls",
                    f"http://127.0.0.1:{client}",
                    "--advertise-client-urls",
                    f"http://127.0.0.1:{client}",
                    "--listen-peer-urls",
                    f"http://127.0.0.1:{peer}",
                    "--initial-advertise-peer-urls",
                    f"http://127.0.0.1:{peer}",
                    "--initial-cluster",
                    initial,
                    "--initial-cluster-token",
                    "bench",
                    "--listen-metrics-urls",
                    f"http://127.0.0.1:{free_port()}",
                ],
            )
        etcd = ",".join(f"http://127.0.0.1:{client}" for client, _ in ports)
        tokens = self.workdir / "tokens.csv"
        tokens.write_text(f"{BENCH_TOKEN},{BENCH_USER},uid-bench,\n")
        for i, mode in enumerate(self.modes):
            port = free_port()
            self._start(
                f"apiserver{i}",
                [
                    str(TINYKUBE),
                    "apiserver",
                    "--etcd-servers",
                    etcd,
                    "--bind-address",
                    "127.0.0.1",
                    "--secure-port",
                    str(port),
                    "--tls-cert-file",
                    str(pki / "apiserver.crt"),
                    "--tls-private-key-file",
                    str(pki / "apiserver.key"),
                    "--client-ca-file",
                    str(pki / "ca.crt"),
                    "--authorization-mode",
                    mode,
                    "--token-auth-file",
                    str(tokens),
                    # No controller-manager creates the `default` ServiceAccount the pods here would need.
                    "--disable-admission-plugins=ServiceAccount",
                ],
            )
            self.urls.append(f"https://127.0.0.1:{port}")

    def ssl_context(self) -> ssl.SSLContext:
        pki = self.workdir / "pki"
        ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        ctx.load_cert_chain(pki / "admin.crt", pki / "admin.key")
        return ctx

    @property
    def apiserver_pids(self) -> list[int]:
        return [p.pid for p in self.procs[3:]]

    @property
    def store_pids(self) -> list[int]:
        return [p.pid for p in self.procs[:3]]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def total_cpu(pids: list[int]) -> float:
    """User + system CPU the processes used so far (threads included)."""
    return sum(cpu_seconds(pid) for pid in pids)


class CPUMeter:
    """CPU the apiservers, the store members and this bench process spend between `start` and `per_op`."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.api = self.store = self.client = 0.0

    def start(self) -> CPUMeter:
        self.api, self.store = total_cpu(self.cluster.apiserver_pids), total_cpu(self.cluster.store_pids)
        self.client = time.process_time()
        return self

    def per_op(self, ops: int) -> dict[str, float]:
        """Milliseconds of CPU per operation since `start`."""
        api = total_cpu(self.cluster.apiserver_pids) - self.api
        store = total_cpu(self.cluster.store_pids) - self.store
        client = time.process_time() - self.client
        return {
            "api_cpu_ms": round(api / ops * 1000, 3),
            "store_cpu_ms": round(store / ops * 1000, 3),
            "client_cpu_ms": round(client / ops * 1000, 3),
        }


def _cpu(row: dict[str, float]) -> float:
    """CPU per operation of every process involved: apiservers, store members and this bench process."""
    return row["api_cpu_ms"] + row["store_cpu_ms"] + row["client_cpu_ms"]


def settle_heap() -> None:
    """Collect this process's garbage, then put what survives beyond the cyclic collector's reach.

    This process measures every request's latency, so its own pauses count against the servers: with the
    earlier rows' objects still tracked, a full collection here took 30-60 ms in the middle of a timed row
    and showed up as a stall of every request in flight. Everything frozen is still freed when unreferenced;
    the collection first means no cycle is frozen."""
    gc.collect()
    gc.freeze()


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0


def summary(samples: list[float], elapsed: float) -> dict[str, float]:
    return {
        "ops": len(samples),
        "per_s": round(len(samples) / elapsed, 1),
        "p50_ms": round(percentile(samples, 0.5) * 1000, 2),
        "p99_ms": round(percentile(samples, 0.99) * 1000, 2),
    }


class Bench:
    def __init__(self, cluster: Cluster, session: aiohttp.ClientSession) -> None:
        self.cluster = cluster
        self.session = session
        context = cluster.ssl_context()
        self.getters = [RawGetter(url, context) for url in cluster.urls]

    async def get(self, i: int, path: str) -> bytes:
        """A GET's body through the lean client, from apiserver `i` (mod their number)."""
        code, body = await self.getters[i % len(self.getters)].get(path)
        if code != 200:
            raise RuntimeError(f"GET {path}: {code} {body[:300]!r}")
        return body

    async def close(self) -> None:
        """Close the lean client's connections."""
        for getter in self.getters:
            await getter.close()

    async def call(self, i: int, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        return await self.call_at(self.cluster.urls[i % len(self.cluster.urls)], method, path, body, expect)

    async def call_at(self, server: str, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        url = server + path
        async with self.session.request(method, url, json=body) as resp:
            data = await resp.read()
            if resp.status != expect:
                raise RuntimeError(f"{method} {path}: {resp.status} {data[:300]!r}")
            return json.loads(data)

    async def fetch(self, i: int, path: str) -> bytes:
        """A GET's whole body as received (decompressed), without parsing it: a list's time is the apiserver's
        and the transfer's, not this Python client's JSON decoding of megabytes."""
        async with self.session.get(self.cluster.urls[i % len(self.cluster.urls)] + path) as resp:
            data = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"GET {path}: {resp.status} {data[:300]!r}")
            return data

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        for i in range(len(self.cluster.urls)):
            while True:
                try:
                    await self.call(i, "GET", "/api/v1/namespaces/default/services/kubernetes")
                    break
                except (aiohttp.ClientError, RuntimeError):
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.3)

    async def drive(self, concurrency: int, total: int, op: Callable[[int], Awaitable[Any]]) -> dict[str, float]:
        latencies, elapsed, cpu = await self._closed_loop(concurrency, range(total), op)
        return {**summary(latencies, elapsed), **cpu}

    async def _closed_loop(
        self, concurrency: int, indexes: range, op: Callable[[int], Awaitable[Any]]
    ) -> tuple[list[float], float, dict[str, float]]:
        """`op(i)` for each index by `concurrency` workers: the latencies, the seconds taken, CPU per operation."""
        latencies: list[float] = []
        counter = iter(indexes)

        async def worker() -> None:
            for i in counter:
                started = time.perf_counter()
                await op(i)
                latencies.append(time.perf_counter() - started)

        settle_heap()
        meter = CPUMeter(self.cluster).start()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, time.perf_counter() - started, meter.per_op(len(indexes))

    async def paired(
        self,
        concurrency: int,
        total: int,
        ops: dict[str, Callable[[int], Awaitable[Any]]],
        turns: int = 4,
    ) -> dict[str, dict[str, float]]:
        """Each of `ops` for `total` operations, taking turns in `turns` slices each, so a drift in the machine's
        load (or what the run before left behind) weighs on all of them alike."""
        samples: dict[str, list[float]] = {name: [] for name in ops}
        elapsed = dict.fromkeys(ops, 0.0)
        cpu: dict[str, dict[str, float]] = {name: {} for name in ops}
        for turn in range(turns):
            indexes = range(turn * total // turns, (turn + 1) * total // turns)
            for name, op in ops.items():
                latencies, seconds, used = await self._closed_loop(concurrency, indexes, op)
                samples[name] += latencies
                elapsed[name] += seconds
                for key, ms in used.items():
                    cpu[name][key] = cpu[name].get(key, 0.0) + ms * len(indexes) / total
        return {
            name: {**summary(samples[name], elapsed[name]), **{k: round(v, 3) for k, v in cpu[name].items()}}
            for name in ops
        }

    async def crud(self, concurrency: int, total: int) -> dict[str, dict[str, float]]:
        base = "/api/v1/namespaces/default/configmaps"
        tag = f"c{concurrency}"

        async def create(i: int) -> None:
            await self.call(i, "POST", base, {"metadata": {"name": f"{tag}-{i}"}, "data": {"v": "0"}}, 201)

        async def get(i: int) -> None:
            await self.get(i, f"{base}/{tag}-{i}")

        async def update(i: int) -> None:
            await self._merge(i, f"{base}/{tag}-{i}")

        created = await self.drive(concurrency, total, create)
        # Every worker may have its peers all on one apiserver: `concurrency` connections to each are opened
        # before the timing. With half that, the first timed turn opened the rest: a TLS handshake each, 7-46 ms
        # for that request and CPU its apiserver took from the others (aiohttp's pool was already warm).
        await self.drive(2 * concurrency, 2 * concurrency, get)
        # The peer: the same GETs through aiohttp's client, as this bench sent them before (its pool is warm).
        gets = await self.paired(
            concurrency, total, {"lean": get, "aiohttp": lambda i: self.call(i, "GET", f"{base}/{tag}-{i}")}
        )
        lean, peer = gets["lean"], gets["aiohttp"]
        out = {
            "create": created,
            "get": lean,
            "get_via_aiohttp": {
                **peer,
                "lean_p99_ratio": round(lean["p99_ms"] / peer["p99_ms"], 2),
                "lean_cpu_ratio": round(_cpu(lean) / _cpu(peer), 2),
            },
            "update": await self.drive(concurrency, total, update),
            "list": await self.drive(concurrency, max(total // 20, 5), lambda i: self.call(i, "GET", base)),
        }
        await self.drive(16, total, lambda i: self.call(i, "DELETE", f"{base}/{tag}-{i}"))
        return out

    async def _merge(self, i: int, path: str) -> None:
        await self.merge_at(self.cluster.urls[i % len(self.cluster.urls)], path, {"data": {"v": str(i + 1)}})

    async def merge_at(self, server: str, path: str, body: Any) -> None:
        headers = {"Content-Type": "application/merge-patch+json"}
        async with self.session.patch(server + path, data=json.dumps(body), headers=headers) as resp:
            if resp.status != 200:
                raise RuntimeError(f"PATCH {path}: {resp.status} {await resp.text()}")
            await resp.read()

    async def open_loop(self, rate: float, seconds: float, op: Callable[[int], Awaitable[Any]]) -> dict[str, float]:
        """`op` started at a fixed rate whether or not earlier ones have finished (open loop), so latency is the
        system's at that load rather than the queueing a closed loop of clients builds up by itself. `per_s`
        below `rate` means the rate was not held (this client or the machine could not keep up)."""
        latencies: list[float] = []

        async def one(i: int) -> None:
            started = time.perf_counter()
            await op(i)
            latencies.append(time.perf_counter() - started)

        # Only the operations in flight are held: finished ones are let go at once, so this process's heap (and
        # its collections, which stall the measurements) does not grow by a task per operation.
        in_flight: set[asyncio.Task[None]] = set()
        failures: list[BaseException] = []

        def finished(task: asyncio.Task[None]) -> None:
            in_flight.discard(task)
            error = None if task.cancelled() else task.exception()
            if error is not None:
                failures.append(error)

        total = int(rate * seconds)
        settle_heap()
        meter = CPUMeter(self.cluster).start()
        started = time.perf_counter()
        for i in range(total):
            task = asyncio.create_task(one(i))
            in_flight.add(task)
            task.add_done_callback(finished)
            await asyncio.sleep(max(0.0, started + (i + 1) / rate - time.perf_counter()))
        await asyncio.gather(*in_flight)
        if failures:
            raise failures[0]
        return {"rate": rate, **summary(latencies, time.perf_counter() - started), **meter.per_op(total)}

    async def steady_writes(self, rate: float, seconds: float) -> dict[str, float]:
        base = "/api/v1/namespaces/default/configmaps"
        result = await self.open_loop(
            rate, seconds, lambda i: self.call(i, "POST", base, {"metadata": {"name": f"steady-{i}"}}, 201)
        )
        await self.drive(16, int(result["ops"]), lambda i: self.call(i, "DELETE", f"{base}/steady-{i}"))
        return result

    async def steady_gets(self, rate: float, seconds: float, objects: int = 100) -> dict[str, float]:
        """Consistent GETs of `objects` configmaps at a fixed rate, alternating between the apiservers."""
        base = "/api/v1/namespaces/default/configmaps"
        await self.drive(
            16, objects, lambda i: self.call(i, "POST", base, {"metadata": {"name": f"steady-get-{i}"}}, 201)
        )
        await self.drive(64, 64, lambda i: self.get(i, f"{base}/steady-get-{i % objects}"))  # connections open
        result = await self.open_loop(rate, seconds, lambda i: self.get(i, f"{base}/steady-get-{i % objects}"))
        await self.drive(16, objects, lambda i: self.call(i, "DELETE", f"{base}/steady-get-{i}"))
        return result

    async def big_list(self, pods: int) -> dict[str, float]:
        base = "/api/v1/namespaces/default/pods"

        async def create(i: int) -> None:
            await self.call(
                i,
                "POST",
                base,
                {
                    "metadata": {"name": f"p-{i}", "labels": {"app": "bench"}},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                },
                201,
            )

        filled = await self.drive(64, pods, create)
        timings = []
        meter = CPUMeter(self.cluster).start()
        for i in range(3):
            started = time.perf_counter()
            body = await self.fetch(i, base)
            timings.append(time.perf_counter() - started)
            assert len(json.loads(body)["items"]) >= pods
        list_cpu = meter.per_op(3)
        meter.start()
        started = time.perf_counter()
        body = await self.fetch(0, base + "?resourceVersion=0")
        cached_s = time.perf_counter() - started
        assert len(json.loads(body)["items"]) >= pods
        cached_cpu = meter.per_op(1)
        await self.drive(64, pods, lambda i: self.call(i, "DELETE", f"{base}/p-{i}?gracePeriodSeconds=0"))
        return {
            "pods": pods,
            "create_per_s": filled["per_s"],
            "create_api_cpu_ms": filled["api_cpu_ms"],
            "list_s": round(min(timings), 3),
            "list_api_cpu_ms": list_cpu["api_cpu_ms"],
            "list_store_cpu_ms": list_cpu["store_cpu_ms"],
            "list_rv0_s": round(cached_s, 3),
            "list_rv0_api_cpu_ms": cached_cpu["api_cpu_ms"],
        }

    async def watch_fanout(self, watchers: int, events: int) -> dict[str, float]:
        base = "/api/v1/namespaces/default/configmaps"
        rv = (await self.call(0, "GET", base))["metadata"]["resourceVersion"]
        sent: dict[str, float] = {}
        delays: list[float] = []
        ready = asyncio.Semaphore(0)

        def arrived(name: str, at: float) -> None:
            delays.append(at - sent[name])

        context = self.cluster.ssl_context()

        async def watch(i: int) -> None:
            # A raw reader that only finds the created objects' names: the figure is the apiserver's delivery,
            # not this process's HTTP and JSON decoding (see bench/watch_probe.py).
            url = f"{self.cluster.urls[i % 2]}{base}?watch=true&resourceVersion={rv}&timeoutSeconds=120"
            transport, probe = await watch_probe.open_watch(url, context, f"fan-{watchers}-", events, arrived)
            ready.release()
            try:
                await probe.finished
            finally:
                transport.close()

        tasks = [asyncio.create_task(watch(i)) for i in range(watchers)]
        for _ in range(watchers):
            await ready.acquire()
        await asyncio.sleep(0.5)
        meter = CPUMeter(self.cluster).start()
        client_cpu = time.process_time()
        for j in range(events):
            name = f"fan-{watchers}-{j}"
            sent[name] = time.perf_counter()
            await self.call(j, "POST", base, {"metadata": {"name": name}}, 201)
            await asyncio.sleep(0.05)
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
        # CPU per event delivered to one watcher (the writes themselves are a small share at 1,000 watchers).
        cpu = meter.per_op(events * watchers)
        client_us = (time.process_time() - client_cpu) / (events * watchers) * 1e6
        for j in range(events):
            await self.call(j, "DELETE", f"{base}/fan-{watchers}-{j}")
        return {
            "watchers": watchers,
            "events": events * watchers,
            "p50_ms": round(percentile(delays, 0.5) * 1000, 1),
            "p99_ms": round(percentile(delays, 0.99) * 1000, 1),
            "api_cpu_us_per_delivery": round(cpu["api_cpu_ms"] * 1000, 1),
            # This one Python process reads every watcher's stream (raw, scanning only for names): on a small
            # machine it shares the cores with the apiservers and the store.
            "bench_client_cpu_us_per_delivery": round(client_us, 1),
        }


class _PeerTransport:
    """What the apiserver reads from a TLS connection: only the verified peer certificate."""

    def __init__(self, peercert: dict[str, Any] | None) -> None:
        self.peercert = peercert

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.peercert if name == "peercert" else default


def _peercert(name: str, *groups: str) -> dict[str, Any]:
    subject = (*((("organizationName", g),) for g in groups), (("commonName", name),))
    return {"subject": subject, "notAfter": "Jan  1 00:00:00 2099 GMT"}


async def inprocess_auth_us(iterations: int) -> dict[str, float]:
    """Microseconds of what the apiserver does before the handler for a GET: authenticate (certificate or static
    token), derive the attributes, authorize. Per arm, in this process, without the network; RBAC holds the
    default policy plus the bench Role."""
    plurals = {"/r/": "roles", "/cr/": "clusterroles", "/rb/": "rolebindings", "/crb/": "clusterrolebindings"}
    index = RBACIndex(plurals)
    meta = {"name": "bench", "namespace": AUTHZ_NAMESPACE}
    index.replace("/r/", [{"metadata": meta, "rules": [BENCH_ROLE]}])
    index.replace("/cr/", cluster_roles())
    index.replace(
        "/rb/",
        [
            {
                "metadata": meta,
                "roleRef": {"kind": "Role", "name": "bench"},
                "subjects": [{"kind": "User", "name": BENCH_USER}],
            }
        ],
    )
    index.replace("/crb/", cluster_role_bindings())
    always, rbac = Union([PrivilegedGroup(), AlwaysAllow()]), Union([PrivilegedGroup(), RBACAuthorizer(index)])
    static = StaticTokenAuthenticator({BENCH_TOKEN: User(BENCH_USER, "uid-bench")})
    path = f"/api/v1/namespaces/{AUTHZ_NAMESPACE}/configmaps/cm-1"
    headers = {"Accept": "application/json", "User-Agent": "bench", "Accept-Encoding": "gzip"}
    arms: tuple[tuple[str, Union, dict[str, Any] | None, dict[str, str]], ...] = (
        (ARMS[0][0], always, _peercert("kubernetes-admin", "system:masters"), {}),
        (ARMS[1][0], rbac, _peercert(BENCH_USER), {}),
        (ARMS[2][0], rbac, None, {"Authorization": f"Bearer {BENCH_TOKEN}"}),
    )
    out: dict[str, float] = {}
    for name, authorizer, peercert, extra in arms:
        authenticator = Authenticator(
            api_audiences=("https://kubernetes.default.svc.cluster.local",),
            impersonation=Impersonation(authorizer),
            certs=ClientCertAuthenticator(),
            static=static,
        )
        request = make_mocked_request("GET", path, {**headers, **extra}, transport=_PeerTransport(peercert))
        started = time.perf_counter()
        for _ in range(iterations):
            user = await authenticator.authenticate(request)
            assert authorizer.authorize(attributes_for(user, request.method, request.path, request.query)).allowed
        out[name] = round((time.perf_counter() - started) / iterations * 1e6, 2)
    return out


ARMS = (
    ("AlwaysAllow, admin x509", 0),
    ("Node,RBAC, user x509", 1),
    ("Node,RBAC, user token", 1),
    ("Node,RBAC, admin x509", 1),
)
"""(arm, apiserver index): the baseline skips RBAC (and is system:masters anyway); the next two are a non-admin
user whose RoleBinding grants the operations, once by client certificate and once by static bearer token; the
last is a control: the baseline's identity on the RBAC apiserver (system:masters short-cuts RBAC), showing how
much of a difference is the other process rather than authorization."""


async def _grant_bench_user(admin: Bench, url: str) -> str:
    """The namespace, Role and RoleBinding the bench user works through, and 100 configmaps; their base path."""
    rbac_api = "/apis/rbac.authorization.k8s.io/v1/namespaces/" + AUTHZ_NAMESPACE
    await admin.call_at(url, "POST", "/api/v1/namespaces", {"metadata": {"name": AUTHZ_NAMESPACE}}, 201)
    await admin.call_at(url, "POST", rbac_api + "/roles", {"metadata": {"name": "bench"}, "rules": [BENCH_ROLE]}, 201)
    binding = {
        "metadata": {"name": "bench"},
        "subjects": [{"kind": "User", "name": BENCH_USER}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "bench"},
    }
    await admin.call_at(url, "POST", rbac_api + "/rolebindings", binding, 201)
    base = f"/api/v1/namespaces/{AUTHZ_NAMESPACE}/configmaps"
    await admin.drive(16, 100, lambda i: admin.call(i, "POST", base, {"metadata": {"name": f"cm-{i}"}}, 201))
    return base


def _arm_sessions(cluster: Cluster, admin: aiohttp.ClientSession) -> dict[str, aiohttp.ClientSession]:
    """One client session per arm: the admin's, the bench user's certificate, the bench user's token."""
    pki = cluster.workdir / "pki"
    issue(CertAndKey.read(pki, "ca"), BENCH_USER, client=True).write(cluster.workdir, "bench-user")
    by_cert = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    by_cert.load_cert_chain(cluster.workdir / "bench-user.crt", cluster.workdir / "bench-user.key")
    by_token = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    timeout = aiohttp.ClientTimeout(total=300)
    return {
        ARMS[0][0]: admin,
        ARMS[3][0]: admin,
        ARMS[1][0]: aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=by_cert, limit=200), timeout=timeout),
        ARMS[2][0]: aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=by_token, limit=200),
            timeout=timeout,
            headers={"Authorization": f"Bearer {BENCH_TOKEN}"},
        ),
    }


async def authz_overhead(cluster: Cluster, admin: Bench, rounds: int, per_round: int) -> dict[str, Any]:
    """The same requests (GET, list of 10, merge PATCH) for each arm, in rounds whose order rotates; every arm's
    mean latency and throughput, and their ratios to the AlwaysAllow baseline (above 1: costlier)."""
    base = await _grant_bench_user(admin, cluster.urls[1])
    sessions = _arm_sessions(cluster, admin.session)
    try:
        benches = {arm: Bench(cluster, session) for arm, session in sessions.items()}
        deadline = time.monotonic() + 30
        for arm, idx in ARMS:  # the RBAC apiserver's index sees the binding a moment after it is written
            while True:
                try:
                    await benches[arm].call_at(cluster.urls[idx], "GET", base + "/cm-0")
                    break
                except RuntimeError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.2)
        ops = ("get", "list", "patch")
        samples: dict[str, dict[str, list[float]]] = {arm: {op: [] for op in ops} for arm, _ in ARMS}
        elapsed = {arm: 0.0 for arm, _ in ARMS}

        async def one_round(arm: str, url: str) -> None:
            user, got = benches[arm], samples[arm]

            async def timed(into: list[float], call: Awaitable[Any]) -> None:
                started = time.perf_counter()
                await call
                into.append(time.perf_counter() - started)

            def get(i: int) -> Awaitable[None]:
                return timed(got["get"], user.call_at(url, "GET", f"{base}/cm-{i % 100}"))

            def list_some(i: int) -> Awaitable[None]:
                return timed(got["list"], user.call_at(url, "GET", base + "?limit=10"))

            def patch(i: int) -> Awaitable[None]:
                return timed(got["patch"], user.merge_at(url, f"{base}/cm-{i % 100}", {"data": {"v": str(i)}}))

            started = time.perf_counter()
            await user.drive(16, per_round, get)
            await user.drive(16, per_round // 10, list_some)
            await user.drive(16, per_round // 2, patch)
            elapsed[arm] += time.perf_counter() - started

        for r in range(rounds):
            for arm, idx in ARMS[r % len(ARMS) :] + ARMS[: r % len(ARMS)]:
                await one_round(arm, cluster.urls[idx])
    finally:
        for session in {sessions[ARMS[1][0]], sessions[ARMS[2][0]]}:
            await session.close()
    out: dict[str, Any] = {}
    baseline = ARMS[0][0]
    for arm, _ in ARMS:
        every = [x for op in ops for x in samples[arm][op]]
        out[arm] = {"requests": len(every), "per_s": round(len(every) / elapsed[arm], 1)}
        for op in ops:
            mine, theirs = samples[arm][op], samples[baseline][op]
            out[arm][op] = {
                "p50_ms": round(percentile(mine, 0.5) * 1000, 2),
                "mean_ms": round(sum(mine) / len(mine) * 1000, 2),
                "ratio": round((sum(mine) / len(mine)) / (sum(theirs) / len(theirs)), 3),
            }
        out[arm]["throughput_ratio"] = round(out[baseline]["per_s"] / out[arm]["per_s"], 3)
    return out


async def run_authz(quick: bool) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="apiserver-bench-authz-"))
    cluster = Cluster(workdir, AUTHZ_MODES)
    cluster.start()
    try:
        connector = aiohttp.TCPConnector(ssl=cluster.ssl_context(), limit=200)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=300)) as session:
            admin = Bench(cluster, session)
            await admin.wait_ready()
            print(f"load average before: {os.getloadavg()}", flush=True)
            over_http = await authz_overhead(cluster, admin, 2 * len(ARMS), 300 if quick else 1500)
            results: dict[str, Any] = {"over_http": over_http, "load_average_after": os.getloadavg()}
            for arm, figures in over_http.items():
                print(f"{arm}: {figures}", flush=True)
            print(f"load average after: {results['load_average_after']} (ratios: target <= 1.10)", flush=True)
            micro = results["in_process_us"] = await inprocess_auth_us(20_000 if quick else 100_000)
            baseline = micro[ARMS[0][0]]
            get_us = over_http[ARMS[0][0]]["get"]["p50_ms"] * 1000
            print(f"authn + authz in process, µs per request: {micro}", flush=True)
            for arm, _ in ARMS[1:3]:
                extra = micro[arm] - baseline
                print(f"{arm}: {extra:+.1f} µs over the baseline = {extra / get_us:.2%} of a GET's p50", flush=True)
            return results
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


async def run(quick: bool) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="apiserver-bench-"))
    cluster = Cluster(workdir)
    cluster.start()
    try:
        connector = aiohttp.TCPConnector(ssl=cluster.ssl_context(), limit=2000)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=300)) as session:
            bench = Bench(cluster, session)
            await bench.wait_ready()
            scale = 5 if quick else 1
            print(f"load average before: {os.getloadavg()}", flush=True)
            results: dict[str, Any] = {}
            for concurrency, total in ((1, 300), (16, 2000), (64, 4000)):
                results[f"crud_c{concurrency}"] = await bench.crud(concurrency, total // scale)
                print(f"crud c={concurrency}: {results[f'crud_c{concurrency}']}", flush=True)
            results["steady_100_per_s"] = await bench.steady_writes(100, 10 / (2 if quick else 1))
            print(f"steady 100/s: {results['steady_100_per_s']}", flush=True)
            results["get_1000_per_s"] = await bench.steady_gets(1000, 10 / (2 if quick else 1))
            print(f"get 1000/s (open loop): {results['get_1000_per_s']}", flush=True)
            results["list_pods"] = await bench.big_list(10_000 // scale)
            print(f"list: {results['list_pods']}", flush=True)
            for watchers in (100, 1000):
                results[f"watch_{watchers}"] = await bench.watch_fanout(
                    watchers // (scale if watchers > 100 else 1), 10
                )
                print(f"watch {watchers}: {results[f'watch_{watchers}']}", flush=True)
            results["load_average_after"] = os.getloadavg()
            print(f"load average after: {results['load_average_after']}", flush=True)
            await bench.close()
            return results
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a fifth of the operations, for a smoke run")
    parser.add_argument("--authz", action="store_true", help="measure authorization's cost (AlwaysAllow vs Node,RBAC)")
    parser.add_argument("--json", help="also write the raw results to this file")
    args = parser.parse_args()
    results = uvloop.run(run_authz(args.quick) if args.authz else run(args.quick))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
