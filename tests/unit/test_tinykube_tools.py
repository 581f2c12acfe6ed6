"""The small tools around a running cluster: the supervisor's control socket, `tinykube logs`, and
naming the node of a Lease holder."""

from __future__ import annotations

import asyncio
import importlib
import io
from pathlib import Path
from typing import Any

import pytest

from kubelet.eviction import parse_thresholds
from tinykube import components, control, logs_cmd, underlay
from tinykube.addons import DNS_SERVICE_IP, kube_dns_endpoints, kube_dns_service
from tinykube.cli import COMMANDS
from tinykube.cluster import Cluster, Options
from tinykube.leaders import node_of_holder
from tinykube.supervisor import Component
from tinykube.topology import Topology


def test_node_of_holder() -> None:
    assert node_of_holder("node2_6f1c2a3b-0d4e-4f5a-9b8c-7d6e5f4a3b2c") == "node2"
    assert node_of_holder("my_host_6f1c2a3b") == "my_host"
    assert node_of_holder("") is None


def test_components_in_a_node_get_its_hostname() -> None:
    spec = Component("node2", "kubelet", ("tinykube", "kubelet"), netns="c-node2")
    argv = spec.command()
    assert argv[:2] == ["nsenter", "--net=/run/netns/c-node2"]
    assert argv[argv.index("unshare"):argv.index("unshare") + 2] == ["unshare", "--uts"]
    assert argv[-3:] == ["node2", "tinykube", "kubelet"]
    assert Component("infra", "x", ("x",)).command() == ["x"]


def test_tail_lines() -> None:
    data = b"".join(f"line {i}\n".encode() for i in range(10))
    assert logs_cmd.tail_lines(io.BytesIO(data), 3) == [b"line 7\n", b"line 8\n", b"line 9\n"]
    assert len(logs_cmd.tail_lines(io.BytesIO(data), -1)) == 10
    f = io.BytesIO(data)
    assert logs_cmd.tail_lines(f, 0) == []
    assert f.read() == b""  # left at the end, ready to follow


@pytest.fixture
def cluster(tmp_path: Path) -> Cluster:
    c = Cluster(Topology.build("logs", 9), tmp_path / "state")
    c.save()
    (c.log_dir / "node1").mkdir(parents=True)
    (c.log_dir / "node1" / "kubelet.log").write_text("one\ntwo\nthree\n")
    return c


def test_logs_prints_a_component_log(cluster: Cluster, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert logs_cmd.main(["node1", "kubelet", "--state-dir", str(cluster.state_dir), "--tail", "2"]) == 0
    assert capsysbinary.readouterr().out == b"two\nthree\n"


def test_logs_of_an_unknown_component_lists_the_known(cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    assert logs_cmd.main(["node1", "kubelt", "--state-dir", str(cluster.state_dir)]) == 1
    assert capsys.readouterr().err.strip() == "error: no log for kubelt on node1 (logs on node1: kubelet)"
    assert logs_cmd.main(["node7", "kubelet", "--state-dir", str(cluster.state_dir)]) == 1
    assert "no node 'node7' has logs" in capsys.readouterr().err


def test_control_socket_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"
    seen: list[dict[str, Any]] = []

    async def handler(request: dict[str, Any]) -> str:
        seen.append(request)
        if request.get("op") == "refuse":
            raise control.ControlError("refused on purpose")
        if request.get("op") == "crash":
            raise KeyError("boom")
        return f"did {request['op']}"

    async def run() -> list[str]:
        server = await control.serve(path, handler)
        try:
            answers = []
            for op in ("node-stop", "refuse", "crash"):
                try:
                    answers.append(await asyncio.to_thread(control.request, path, {"op": op}))
                except control.ControlError as exc:
                    answers.append(f"error: {exc}")
            return answers
        finally:
            server.close()
            await server.wait_closed()

    answers = asyncio.run(run())
    assert answers == ["did node-stop", "error: refused on purpose", "error: internal error: KeyError('boom')"]
    assert [r["op"] for r in seen] == ["node-stop", "refuse", "crash"]
    assert path.stat().st_mode & 0o777 == 0o600


def test_control_request_without_a_supervisor(tmp_path: Path) -> None:
    with pytest.raises(control.ControlError, match="supervisor is not running"):
        control.request(tmp_path / "missing.sock", {"op": "node-stop"})


def test_kube_dns_points_at_every_node_dns(cluster: Cluster) -> None:
    service = kube_dns_service()
    assert service["spec"]["clusterIP"] == DNS_SERVICE_IP and "selector" not in service["spec"]
    slice_ = kube_dns_endpoints(cluster)
    assert slice_["metadata"]["labels"]["kubernetes.io/service-name"] == "kube-dns"
    assert [(e["nodeName"], e["addresses"]) for e in slice_["endpoints"]] == [
        (n.name, [n.pod_cidr.rsplit(".", 1)[0] + ".1"]) for n in cluster.topology.nodes]
    assert {(p["protocol"], p["port"]) for p in slice_["ports"]} == {("UDP", 53), ("TCP", 53)}


@pytest.mark.parametrize("command", ["logs", "node", "status", "chaos", "down"])
def test_cluster_commands_say_the_same_when_there_is_no_cluster(
        command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rest = {"logs": ["node1", "kubelet"], "node": ["stop", "node1"], "status": [], "chaos": ["heal"], "down": []}
    module = importlib.import_module(COMMANDS[command][0])
    code = module.main(["--name", "gone", "--state-dir", str(tmp_path / "none"), *rest[command]])
    out = capsys.readouterr()
    message = f"no cluster 'gone' (nothing in {tmp_path / 'none'})\n"
    if command == "down":  # nothing to take down is no failure
        assert (code, out.out, out.err) == (0, message, "")
    else:
        assert (code, out.out, out.err) == (1, "", f"error: {message}")


def test_leader_election_timings_reach_scheduler_and_controller_manager(tmp_path: Path) -> None:
    topo = Topology.build("le", 9)
    default = Cluster(topo, tmp_path)
    short = Cluster(topo, tmp_path, Options(leader_elect_lease_duration=4.0, leader_elect_renew_deadline=3.0,
                                            leader_elect_retry_period=0.5))
    kubeconfig = tmp_path / "k"
    for make in (components.scheduler, components.controller_manager):
        assert not [a for a in make(default, topo.nodes[0], kubeconfig).argv if a.startswith("--leader-elect-")]
        assert [a for a in make(short, topo.nodes[0], kubeconfig).argv if a.startswith("--leader-elect-")] == [
            "--leader-elect-lease-duration=4.0s", "--leader-elect-renew-deadline=3.0s",
            "--leader-elect-retry-period=0.5s"]
    short.save()
    assert Cluster.load(tmp_path).options == short.options


def test_cluster_kubelets_evict_on_memory_only(tmp_path: Path) -> None:
    """The nodes share the host's disk, so a full disk must not make all three evict at once."""
    topo = Topology.build("ev", 9)
    argv = components.kubelet(Cluster(topo, tmp_path), topo.nodes[0], tmp_path / "k").argv
    (flag,) = [a for a in argv if a.startswith("--eviction-hard=")]
    assert [t.signal for t in parse_thresholds(flag.partition("=")[2])] == ["memory.available"]


def test_a_kept_cluster_keeps_its_subnet_until_its_state_goes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(underlay, "RESERVATIONS", tmp_path / "subnets")
    underlay.RESERVATIONS.mkdir()
    kept = Cluster(Topology.build("kept", 5), tmp_path / "kept")
    kept.save()
    (underlay.RESERVATIONS / "5").write_text(str(kept.state_dir))
    (underlay.RESERVATIONS / "6").write_text(str(tmp_path / "gone"))  # its cluster was taken down for good
    (underlay.RESERVATIONS / "7").write_text(str(kept.state_dir))  # since re-laid on another subnet
    assert underlay.reserved_subnets() == {5}
    underlay.release(Topology.build("other", 7), tmp_path / "other")  # not its reservation: kept
    underlay.release(kept.topology, kept.state_dir)
    assert sorted(p.name for p in underlay.RESERVATIONS.iterdir()) == ["6", "7"]
