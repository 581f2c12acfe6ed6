"""Service programming and pod networking, measured in network namespaces this script creates (root).

1. Time to program 1,000 / 5,000 / 10,000 Services (2 endpoints each) from empty, and the latency of one
   endpoint change at 10,000 Services, for the iptables and nftables modes in the same run. Peer
   reference: kube-proxy's incremental iptables sync (KEP-3453) is about 5 s p50 in the 5,000-node test.
2. Pod-to-pod TCP throughput across nodes over VXLAN and host-gw, against the underlay itself.

    .venv/bin/python -m bench.proxy_bench [--quick]
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from proxy import iptables_rules, nftables_rules
from proxy.iptables_sync import IptablesSyncer
from proxy.model import Endpoint, ServicePort
from proxy.nftables_sync import NftablesSyncer
from tests.support.cleanup import Cleanup
from tests.support.netcluster import NetCluster
from tests.support.netns import add_netns, delete_netns

CLUSTER_CIDR = "10.244.0.0/16"


def services(n: int, changed: int | None = None) -> list[ServicePort]:
    out = []
    for i in range(n):
        a, b = divmod(i, 250)
        eps: tuple[Endpoint, ...] = (Endpoint(f"10.244.{a}.{b + 2}", 8080), Endpoint(f"10.245.{a}.{b + 2}", 8080))
        if i == changed:
            eps = (eps[0], Endpoint(f"10.246.{a}.{b + 2}", 8080))
        out.append(ServicePort("bench", f"svc{i}", "http", "tcp", f"10.96.{a}.{b + 2}", 80, node_port=0,
                               endpoints=eps))
    return out


class InNetns:
    def __init__(self, netns: str) -> None:
        self.netns = netns

    def __call__(self, argv: Sequence[str], stdin: bytes | None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["nsenter", f"--net=/run/netns/{self.netns}", *argv], input=stdin, capture_output=True)


def cpu_seconds() -> float:
    """CPU time of this process and of the iptables/nft runs it has waited for."""
    own, runs = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + runs.ru_utime + runs.ru_stime


def timed_sync(syncer: Any, build: Callable[..., Any], svcs: list[ServicePort]) -> tuple[float, float]:
    """Seconds from a changed model to rules in the kernel (computing the rules, the diff, and applying it), as
    wall time and as CPU time: on a shared machine the wall time grows with others' load, the CPU time hardly."""
    t0, c0 = time.perf_counter(), cpu_seconds()
    syncer.sync(build(svcs, CLUSTER_CIDR))
    return time.perf_counter() - t0, cpu_seconds() - c0


def bench_programming(sizes: list[int], changes: int) -> dict[str, dict[str, float]]:
    modes: dict[str, tuple[Callable[..., Any], Callable[[InNetns], Any]]] = {
        "iptables": (iptables_rules.build, lambda r: IptablesSyncer(runner=r)),
        "nftables": (nftables_rules.build, lambda r: NftablesSyncer(runner=r)),
    }
    results: dict[str, dict[str, float]] = {}
    for name, (build, make_syncer) in modes.items():
        results[name] = {}
        for n in sizes:
            ns = add_netns(f"tkb{secrets.token_hex(3)}")
            try:
                syncer = make_syncer(InNetns(ns))
                wall, cpu = timed_sync(syncer, build, services(n))
                results[name] |= {f"program_{n}_s": wall, f"program_{n}_cpu_s": cpu}
                if n == sizes[-1]:
                    base, changed = services(n), services(n, changed=7)
                    samples = [timed_sync(syncer, build, changed if i % 2 == 0 else base) for i in range(changes)]
                    results[name] |= {f"change_at_{n}_p50_s": statistics.median(w for w, _ in samples),
                                      f"change_at_{n}_p50_cpu_s": statistics.median(c for _, c in samples),
                                      f"change_at_{n}_max_s": max(w for w, _ in samples)}
            finally:
                delete_netns(ns)
    return results


THROUGHPUT_SERVER = textwrap.dedent("""
    import socket, sys, time
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 5201)); s.listen(1); c, _ = s.accept(); total = 0; t0 = None
    while True:
        b = c.recv(1 << 20)
        if not b: break
        t0 = t0 or time.perf_counter(); total += len(b)
    print(total / (time.perf_counter() - t0))
""")
THROUGHPUT_CLIENT = textwrap.dedent("""
    import socket, sys, time
    c = socket.create_connection((sys.argv[1], 5201)); buf = b"x" * (1 << 16); end = time.time() + float(sys.argv[2])
    while time.time() < end: c.sendall(buf)
    c.close()
""")


def throughput(server_ns: str, client_ns: str, target: str, seconds: float) -> float:
    """Bytes/s of one TCP stream from ``client_ns`` to a server in ``server_ns`` at ``target``."""
    server = subprocess.Popen(["nsenter", f"--net=/run/netns/{server_ns}", sys.executable, "-c", THROUGHPUT_SERVER],
                              stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)
        subprocess.run(["nsenter", f"--net=/run/netns/{client_ns}", sys.executable, "-c", THROUGHPUT_CLIENT, target,
                        str(seconds)], check=True)
        out, _ = server.communicate(timeout=30)
        return float(out.strip())
    finally:
        server.kill()
        server.wait()


def bench_throughput(seconds: float) -> dict[str, float]:
    results: dict[str, float] = {}
    for backend in ("vxlan", "host-gw"):
        cleanup = Cleanup()
        workdir = Path(tempfile.mkdtemp(prefix="tk-proxybench-"))
        try:
            net = NetCluster(f"tkb{secrets.token_hex(2)}", cleanup, workdir, nodes=2, backend=backend)
            a = net.add_pod(net.topo.nodes[0], "a")
            b = net.add_pod(net.topo.nodes[1], "b")
            results[backend] = throughput(b.netns, a.netns, b.ip, seconds)
            if backend == "vxlan":
                results["underlay"] = throughput(net.topo.nodes[1].netns, net.topo.nodes[0].netns,
                                                 net.topo.nodes[1].ip, seconds)
        finally:
            cleanup.run()
            shutil.rmtree(workdir, ignore_errors=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    sizes = [100, 500] if args.quick else [1000, 5000, 10000]
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs, shared)")
    # Throughput first: measured after the programming runs, the underlay fell from ~1.9 GB/s to
    # ~0.13 GB/s (likely the kernel still tearing down namespaces that held 10,000 Services).
    tput = bench_throughput(1.0 if args.quick else 3.0)
    prog = bench_programming(sizes, changes=4 if args.quick else 10)
    print(f"{'measure':28} {'iptables':>10} {'nftables':>10} {'nft/ipt':>8}")
    for key in prog["iptables"]:
        ipt, nft = prog["iptables"][key], prog["nftables"][key]
        print(f"{key:28} {ipt:10.3f} {nft:10.3f} {nft / ipt:8.2f}")
    print("(kube-proxy reference: incremental iptables sync ≈ 5 s p50 at 5,000 nodes, KEP-3453)")
    print(f"\n{'pod-to-pod TCP':28} {'MB/s':>10} {'vs underlay':>12}")
    for key in ("underlay", "vxlan", "host-gw"):
        print(f"{key:28} {tput[key] / 1e6:10.1f} {tput[key] / tput['underlay']:11.2f}x")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
