"""``tkctl get pods`` against ``kubectl get pods`` on a 100-pod namespace: the CLI's startup cost, measured.

Starts its own 3-member store and one apiserver on loopback (TLS, admin client certificate), creates
100 pods in a fresh namespace, warms both clients' discovery caches, then times each command N times,
interleaved so machine load hits both alike. Prints median and min wall times, the ratios
tkctl/kubectl of both (target ≤ 2.0) and the load average around the timed runs. tkctl runs with
bytecode caching on (into a temporary ``PYTHONPYCACHEPREFIX``), as an installed tkctl has it, even
where ``PYTHONDONTWRITEBYTECODE`` is set.

    .venv/bin/python -m bench.tkctl_bench [--runs 20] [--pods 100]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.apiserver_cluster import KUBECTL, ApiserverCluster
from tests.support.ports import free_port
from tests.support.processes import Processes

TKCTL = str(Path(sys.executable).parent / "tkctl")
NAMESPACE = "tkctl-bench"


def _pods(count: int) -> str:
    items = [{"apiVersion": "v1", "kind": "Pod",
              "metadata": {"name": f"bench-{i:03d}", "namespace": NAMESPACE, "labels": {"app": "bench"}},
              "spec": {"containers": [{"name": "c", "image": "busybox"}]}} for i in range(count)]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def _timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {result.stderr.decode(errors='replace')}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--pods", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tkctl-bench-") as tmp:
        root = Path(tmp)
        procs = Processes(root / "logs")
        try:
            cluster = ApiserverCluster(procs, free_port, root, apiservers=1)
            cluster.start()
            env = {**os.environ, "HOME": str(root / "home"), "KUBECONFIG": str(cluster.apiservers[0].kubeconfig),
                   "PYTHONPYCACHEPREFIX": str(root / "pycache")}
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            (root / "home").mkdir()
            kubectl = [KUBECTL, "--cache-dir", str(root / "kcache"), "get", "pods", "-n", NAMESPACE]
            tkctl = [TKCTL, "--cache-dir", str(root / "tcache"), "get", "pods", "-n", NAMESPACE]
            subprocess.run([KUBECTL, "--cache-dir", str(root / "kcache"), "create", "namespace", NAMESPACE],
                           env=env, check=True, capture_output=True)
            subprocess.run([KUBECTL, "--cache-dir", str(root / "kcache"), "create", "-f", "-"], env=env, check=True,
                           capture_output=True, input=_pods(args.pods).encode())
            for argv in (kubectl, tkctl):  # warm discovery caches and page caches
                _timed(argv, env)
                _timed(argv, env)
            times: dict[str, list[float]] = {"kubectl": [], "tkctl": []}
            load_before = os.getloadavg()[0]
            for _ in range(args.runs):
                times["kubectl"].append(_timed(kubectl, env))
                times["tkctl"].append(_timed(tkctl, env))
            load_after = os.getloadavg()[0]
        finally:
            procs.stop_all()
    k_med, t_med = statistics.median(times["kubectl"]), statistics.median(times["tkctl"])
    k_min, t_min = min(times["kubectl"]), min(times["tkctl"])
    print(f"get pods, {args.pods} pods, {args.runs} interleaved runs each (wall time); "
          f"1-min load average {load_before:.2f} before, {load_after:.2f} after, on {os.cpu_count()} CPUs")
    print(f"  kubectl  median {k_med * 1000:7.1f} ms   min {k_min * 1000:7.1f} ms")
    print(f"  tkctl    median {t_med * 1000:7.1f} ms   min {t_min * 1000:7.1f} ms")
    print(f"  ratio tkctl/kubectl: median {t_med / k_med:.2f}   min {t_min / k_min:.2f}   (target <= 2.0)")


if __name__ == "__main__":
    main()
