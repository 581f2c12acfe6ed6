"""``tinykube up``: bring up a local cluster and supervise it (foreground, or detached with ``-d``)."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Sequence

from rich.console import Console

from client.flags import parse_duration
from client.leaderelection import LeaderElectionConfig
from process import log as process_log
from process.shutdown import serve
from tinykube import control, lifecycle, node_ops
from tinykube.cluster import Cluster, Options
from tinykube.cluster_cli import add_cluster_args, state_dir_of
from tinykube.steps import StepError, run_steps
from tinykube.supervisor import Supervisor
from tinykube.topology import TopologyError

console = Console(stderr=True, highlight=False)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tinykube up", description="Bring up a local cluster: nodes are network "
                                "namespaces on this machine, with a highly available control plane.")
    add_cluster_args(p)
    p.add_argument("--nodes", type=int, default=3, help="number of nodes (default: %(default)s)")
    p.add_argument("--control-plane-nodes", type=int, default=3, help="how many of them run the control plane")
    p.add_argument("--proxy-mode", choices=["iptables", "nftables"], default="iptables")
    p.add_argument("--backend", choices=["vxlan", "host-gw"], default="vxlan")
    # kube-scheduler's and kube-controller-manager's election timings (Kubernetes' defaults: 15s, 10s, 2s).
    for flag in ("lease-duration", "renew-deadline", "retry-period"):
        p.add_argument(f"--leader-elect-{flag}", type=parse_duration, metavar="DURATION",
                       help=f"the scheduler's and controller-manager's --leader-elect-{flag} (e.g. 5s)")
    p.add_argument("-d", "--detach", action="store_true", help="return once the cluster is up, leaving it running")
    p.add_argument("--retain", action="store_true", help="keep a cluster whose bring-up failed, for inspection")
    p.add_argument("--supervise", action="store_true", help=argparse.SUPPRESS)  # the detached child
    p.add_argument("-v", "--v", dest="verbosity", type=int, default=0, help="log verbosity")
    return p


def check_leader_election(args: argparse.Namespace) -> None:
    """Refuse timings the scheduler and controller-manager would refuse at start (ValueError says why)."""
    given = {"lease_duration": args.leader_elect_lease_duration, "renew_deadline": args.leader_elect_renew_deadline,
             "retry_period": args.leader_elect_retry_period}
    LeaderElectionConfig("check", "check", "check", **{k: v for k, v in given.items() if v is not None})


def resolve(args: argparse.Namespace) -> Cluster:
    """The saved cluster of that name, or a new one laid out on a free subnet."""
    state_dir = state_dir_of(args)
    try:
        return Cluster.load(state_dir)
    except FileNotFoundError:
        pass
    # Imported here: pyroute2 (~10 MiB) stays out of the long-lived supervising process, which never claims.
    from tinykube import underlay  # noqa: PLC0415

    try:
        topo = underlay.claim(args.name, args.nodes, args.control_plane_nodes, state_dir)
    except underlay.UnderlayError as exc:
        raise TopologyError(str(exc)) from exc
    cluster = Cluster(topo, state_dir, Options(
        proxy_mode=args.proxy_mode, backend=args.backend, leader_elect_lease_duration=args.leader_elect_lease_duration,
        leader_elect_renew_deadline=args.leader_elect_renew_deadline,
        leader_elect_retry_period=args.leader_elect_retry_period))
    cluster.save()
    return cluster


def summary(cluster: Cluster) -> str:
    nodes = ", ".join(f"{n.name} {n.ip}" for n in cluster.topology.nodes)
    return (f"cluster {cluster.name!r} is up: {nodes}\n"
            f"  export KUBECONFIG={cluster.admin_kubeconfig}\n"
            f"  kubectl get nodes\n"
            f"  tinykube status --name {cluster.name}      tinykube down --name {cluster.name}")


async def supervise(cluster: Cluster, stop: asyncio.Event, retain: bool) -> int:
    ctx = lifecycle.UpContext(cluster, Supervisor(cluster.log_dir, cluster.supervisor_state))
    cluster.pid_file.write_text(str(os.getpid()))
    lifecycle.failed_marker(cluster).unlink(missing_ok=True)

    def progress(step: str, state: str, seconds: float) -> None:
        if state == "done":
            console.print(f"[green]✓[/] {step} ({seconds:.1f}s)")
        elif state == "failed":
            console.print(f"[red]✗[/] {step} ({seconds:.1f}s)")

    bring_up = asyncio.create_task(run_steps(lifecycle.steps(), ctx, progress))
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait([bring_up, stopped], return_when=asyncio.FIRST_COMPLETED)
    if not bring_up.done():  # interrupted during bring-up
        bring_up.cancel()
        await asyncio.gather(bring_up, return_exceptions=True)
        await lifecycle.teardown(ctx, keep_state=True)
        return 130
    error = bring_up.exception()
    if error is not None:
        message = f"{error}" + (f" ({error.hint})" if isinstance(error, StepError) and error.hint else "")
        lifecycle.failed_marker(cluster).write_text(message)
        console.print(f"[red]bring-up failed:[/] {message}")
        if not retain:
            await lifecycle.teardown(ctx, keep_state=True)
        stopped.cancel()
        return 1
    controls = await control.serve(control.socket_path(cluster.state_dir), node_ops.NodeControl(ctx).handle)
    lifecycle.ready_marker(cluster).write_text(str(time.time()))
    print(summary(cluster), flush=True)
    await stopped
    controls.close()
    control.socket_path(cluster.state_dir).unlink(missing_ok=True)
    console.print("stopping the cluster")
    failures = await lifecycle.teardown(ctx, keep_state=True)
    for failure in failures:
        console.print(f"[red]teardown:[/] {failure}")
    return 0


def detach(args: argparse.Namespace, cluster: Cluster, argv: Sequence[str]) -> int:
    """Start the supervising child in its own session and wait until it reports up or failed."""
    cluster.log_dir.mkdir(parents=True, exist_ok=True)
    for marker in (lifecycle.ready_marker(cluster), lifecycle.failed_marker(cluster)):
        marker.unlink(missing_ok=True)
    child_argv = [sys.executable, "-m", "tinykube.cli", "up", *argv, "--supervise",
                  "--state-dir", str(cluster.state_dir)]
    with (cluster.log_dir / "up.log").open("ab") as out:
        child = subprocess.Popen(child_argv, stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True)
    console.print(f"bringing up {cluster.name!r} (log: {cluster.log_dir / 'up.log'})")
    while True:
        if lifecycle.ready_marker(cluster).exists():
            print(summary(cluster))
            return 0
        if lifecycle.failed_marker(cluster).exists() or child.poll() is not None:
            reason = lifecycle.failed_marker(cluster).read_text() if lifecycle.failed_marker(cluster).exists() \
                else f"supervisor exited with {child.poll()}"
            console.print(f"[red]bring-up failed:[/] {reason}\n  log: {cluster.log_dir / 'up.log'}")
            return 1
        time.sleep(0.2)


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    process_log.configure("tinykube-up", args.verbosity)
    if os.geteuid() != 0:
        console.print("error: tinykube up needs root (nodes are network namespaces, pods are real containers)")
        return 1
    try:
        check_leader_election(args)
        cluster = resolve(args)
    except ValueError as exc:  # TopologyError too: a name, size or subnet that cannot be laid out
        console.print(f"error: {exc}")
        return 1
    pid = lifecycle.running_supervisor(cluster)
    if pid is not None and not args.supervise:
        console.print(f"cluster {cluster.name!r} is already up (supervisor pid {pid})")
        return 0
    if args.detach and not args.supervise:
        return detach(args, cluster, [a for a in argv if a not in ("-d", "--detach")])
    return serve(lambda stop: supervise(cluster, stop, args.retain))
