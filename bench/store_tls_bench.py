"""The store's members over TLS (as ``tinykube up`` runs them) against the same members in plaintext.

Starts three tinykube store members with client and peer TLS and client-cert-auth, and three without,
in the same run, and drives both through ``store.client.StoreClient`` (the apiserver's client) with
1 KiB puts to the leader and lease renewals sent to a follower (which forwards them to the leader).
The primary figure is the members' CPU per operation (utime + stime of the three processes, in µs),
printed with the TLS/plaintext ratio; throughput is printed next to the load average. It also prints
each member's resident memory when idle after start-up and whether grpcio's C core is mapped into it.

    .venv/bin/python -m bench.store_tls_bench [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvloop

from bench.store_bench import Cluster, Member, load_average
from store.client import StoreClient, TLSConfig
from store.errors import EtcdError
from tests.integration.store_cluster import TLSFiles, make_tls
from tests.support.ports import free_port

VALUE = b"v" * 1024


@dataclass
class TLSCluster(Cluster):
    """``Cluster`` with https client and peer URLs and the flags ``tinykube up`` passes."""

    pki: TLSFiles | None = None

    def argv(self, m: Member, state: str) -> list[str]:
        pki = self.pki
        assert pki is not None
        return [a.replace("http://", "https://") for a in super().argv(m, state)] + [
            f"--cert-file={pki.member_cert}", f"--key-file={pki.member_key}", f"--trusted-ca-file={pki.ca}",
            "--client-cert-auth", f"--peer-cert-file={pki.member_cert}", f"--peer-key-file={pki.member_key}",
            f"--peer-trusted-ca-file={pki.ca}", "--peer-client-cert-auth"]


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports (``Cluster`` takes six from its base port)."""
    while True:
        base = free_port()
        try:
            with contextlib.ExitStack() as held:
                for port in range(base, base + count):
                    sock = held.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue


def idle_memory(cluster: Cluster) -> dict[str, Any]:
    """Each member's VmRSS in MiB, and whether grpcio's Cython core is mapped into any of them."""
    rss, grpc_mapped = [], False
    for m in cluster.members:
        assert m.proc is not None
        status = Path(f"/proc/{m.proc.pid}/status").read_text()
        rss.append(round(int(next(line.split()[1] for line in status.splitlines()
                                  if line.startswith("VmRSS:"))) / 1024, 1))
        grpc_mapped |= "cygrpc" in Path(f"/proc/{m.proc.pid}/maps").read_text()
    return {"idle_rss_mib": rss, "grpcio_loaded": grpc_mapped}


async def per_op(cluster: Cluster, total: int, concurrency: int, op: Callable[[int], Awaitable[Any]]) -> dict[str, Any]:
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            await op(i)

    cpu, started = cluster.cpu(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"members_cpu_us": round((cluster.cpu() - cpu) / total * 1e6, 1), "per_s": round(total / elapsed, 1),
            "load": load_average()}


async def bench(cluster: Cluster, tls: TLSConfig | None, rounds: int, total: int) -> dict[str, Any]:
    scheme = "https" if tls else "http"
    endpoints = [f"{scheme}://127.0.0.1:{m.client_port}" for m in cluster.members]
    async with StoreClient(endpoints, timeout=10.0, tls=tls) as client:
        deadline = time.monotonic() + 60.0  # members start slowly on a loaded machine
        while True:
            try:
                await client.put("/warmup", "1")
                break
            except EtcdError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)  # let start-up work settle before taking the idle figures
        out: dict[str, Any] = idle_memory(cluster)
        leader = await client.leader_endpoint()
        follower = next(e for e in endpoints if not e.endswith(":" + leader.rpartition(":")[2]))
        lease = (await client.lease_grant(600)).ID
        async with StoreClient([follower], timeout=10.0, tls=tls) as at_follower:
            puts, renewals = [], []
            for r in range(rounds):
                def put(i: int, r: int = r) -> Awaitable[Any]:
                    return client.put(f"/bench/{r}-{i}", VALUE)

                def renew(i: int) -> Awaitable[Any]:
                    return at_follower.lease_keepalive_once(lease)

                puts.append(await per_op(cluster, total, 16, put))
                renewals.append(await per_op(cluster, total // 4, 4, renew))
    # The best round of each: the least disturbed by other work on the machine.
    out["put"] = min(puts, key=lambda r: r["members_cpu_us"])
    out["forwarded_renewal"] = min(renewals, key=lambda r: r["members_cpu_us"])
    return out


async def run(quick: bool) -> dict[str, Any]:
    rounds, total = (2, 400) if quick else (3, 2000)
    out: dict[str, Any] = {"ops_per_round": total, "rounds": rounds}
    with tempfile.TemporaryDirectory(prefix="store-tls-bench-") as tmp:
        root = Path(tmp)
        pki = make_tls(root / "pki")
        client_tls = TLSConfig(pki.ca, pki.client_cert, pki.client_key)
        for name, tls in (("tls", client_tls), ("plain", None)):
            cluster = (TLSCluster("tinykube", root / name, free_ports(6), pki=pki) if tls
                       else Cluster("tinykube", root / name, free_ports(6)))
            cluster.start()
            try:
                out[name] = await bench(cluster, tls, rounds, total)
            except Exception:
                for m in cluster.members:
                    log = (cluster.workdir / f"{cluster.kind}-{m.name}.log").read_text()[-2000:]
                    print(f"--- {name} {m.name} (exit {m.proc and m.proc.poll()})\n{log}", file=sys.stderr)
                raise
            finally:
                cluster.stop()
    for op in ("put", "forwarded_renewal"):
        out[f"{op}_cpu_ratio_tls_over_plain"] = round(
            out["tls"][op]["members_cpu_us"] / out["plain"][op]["members_cpu_us"], 3)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and operations, for a smoke run")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    results = uvloop.run(run(args.quick))
    for name in ("tls", "plain"):
        r = results[name]
        print(f"{name:5}  idle RSS MiB {r['idle_rss_mib']}  grpcio loaded: {r['grpcio_loaded']}")
        for op in ("put", "forwarded_renewal"):
            o = r[op]
            print(f"{name:5}  {op:17} {o['members_cpu_us']:8.0f} us/op members CPU  {o['per_s']:7.0f}/s"
                  f"  (load {o['load']})")
    for op in ("put", "forwarded_renewal"):
        print(f"{op}: members' CPU per op, TLS/plaintext = {results[f'{op}_cpu_ratio_tls_over_plain']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
