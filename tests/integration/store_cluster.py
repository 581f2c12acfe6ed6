"""Three real ``tinykube store`` members on loopback, for the store's integration tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import Processes
from tinykube.pki import issue, new_ca

BIN = Path(sys.executable).parent
ETCDCTL = "/usr/bin/etcdctl"
TINYKUBE_STORE = (str(BIN / "tinykube"), "store")
ETCD = ("/usr/bin/etcd",)  # Debian's etcd-server takes the same flags


@dataclass
class StoreMember:
    name: str
    client_url: str
    peer_url: str
    metrics_url: str
    data_dir: Path

    @property
    def endpoint(self) -> str:
        """As etcdctl and StoreClient take it: host:port, or the whole URL for TLS."""
        return self.client_url.removeprefix("http://")


@dataclass
class TLSFiles:
    """A CA, a certificate for members (serving and peer client), and one for clients."""

    ca: Path
    member_cert: Path
    member_key: Path
    client_cert: Path
    client_key: Path


class StoreCluster:
    """Starts members; ``etcdctl`` runs Debian's client against them."""

    def __init__(self, processes: Processes, port: Callable[[], int], root: Path, size: int = 3,
                 extra_args: tuple[str, ...] = (), tls: TLSFiles | None = None,
                 command: tuple[str, ...] = TINYKUBE_STORE) -> None:
        self.processes = processes
        self.command = command
        self.tls = tls
        self.extra_args = extra_args
        if tls is not None:
            self.extra_args += (
                "--cert-file", str(tls.member_cert), "--key-file", str(tls.member_key),
                "--trusted-ca-file", str(tls.ca), "--client-cert-auth",
                "--peer-cert-file", str(tls.member_cert), "--peer-key-file", str(tls.member_key),
                "--peer-trusted-ca-file", str(tls.ca), "--peer-client-cert-auth")
        self._port, self._root, self._size = port, root, size
        self.attempt = 0
        self.members = self._new_members()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def _new_members(self) -> list[StoreMember]:
        port, root = self._port, self._root / f"attempt{self.attempt}"
        scheme = "https" if self.tls else "http"
        return [StoreMember(f"m{i}", f"{scheme}://127.0.0.1:{port()}", f"{scheme}://127.0.0.1:{port()}",
                            f"http://127.0.0.1:{port()}", root / f"m{i}") for i in range(1, self._size + 1)]

    @property
    def endpoints(self) -> list[str]:
        return [m.endpoint for m in self.members]

    def start(self, member: StoreMember) -> None:
        initial = ",".join(f"{m.name}={m.peer_url}" for m in self.members)
        self.procs[member.name] = self.processes.start(member.name, [
            *self.command, "--name", member.name, "--data-dir", str(member.data_dir),
            "--listen-client-urls", member.client_url, "--advertise-client-urls", member.client_url,
            "--listen-peer-urls", member.peer_url, "--initial-advertise-peer-urls", member.peer_url,
            "--initial-cluster", initial, "--initial-cluster-token", "test-cluster",
            "--listen-metrics-urls", member.metrics_url, "--heartbeat-interval", "50", "--election-timeout", "500",
            *self.extra_args,
        ])

    def start_all(self, timeout: float = 30.0) -> None:
        """Start every member; start over on fresh ports if one lost a port race with another test run."""
        while True:
            for member in self.members:
                self.start(member)
            try:
                self.wait_healthy(self.members, timeout)
                return
            except AssertionError:
                lost_race = any("address already in use" in self.processes.log(m.name) for m in self.members)
                if not lost_race or self.attempt >= 2:
                    raise
            for proc in self.procs.values():
                proc.kill()
                proc.wait()
            self.attempt += 1
            self.members = self._new_members()

    def wait_healthy(self, members: list[StoreMember], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for m in members:
                proc = self.procs[m.name]
                assert proc.poll() is None, f"{m.name} exited:\n{self.processes.log(m.name)}"
            try:
                result = self.etcdctl("--command-timeout=2s", "endpoint", "health",
                                      endpoints=[m.endpoint for m in members], timeout=10)
                if result.returncode == 0:
                    return
                error = result.stdout + result.stderr
            except subprocess.TimeoutExpired as timed_out:
                error = str(timed_out)
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {m.name}\n{self.processes.log(m.name)[-3000:]}" for m in members)
                raise AssertionError(f"store members not healthy: {error}\n{logs}")
            time.sleep(0.3)

    def etcdctl_argv(self, *args: str, endpoints: list[str] | None = None) -> list[str]:
        """etcdctl's command line for ``args`` against ``endpoints`` (all members), with the client certificate."""
        cmd = [ETCDCTL, "--endpoints=" + ",".join(endpoints or self.endpoints), "--dial-timeout=3s",
               "--command-timeout=10s"]
        if self.tls is not None:
            cmd += [f"--cacert={self.tls.ca}", f"--cert={self.tls.client_cert}", f"--key={self.tls.client_key}"]
        return cmd + list(args)

    def etcdctl(self, *args: str, endpoints: list[str] | None = None, stdin: str | bytes | None = None,
                timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
        cmd = self.etcdctl_argv(*args, endpoints=endpoints)
        env = {**os.environ, "ETCDCTL_API": "3"}
        if isinstance(stdin, bytes):
            raw = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout, env=env)
            return subprocess.CompletedProcess(raw.args, raw.returncode, raw.stdout.decode(errors="replace"),
                                               raw.stderr.decode(errors="replace"))
        return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, env=env)

    def ok(self, *args: str, endpoints: list[str] | None = None, stdin: str | None = None) -> str:
        result = self.etcdctl(*args, endpoints=endpoints, stdin=stdin)
        assert result.returncode == 0, f"etcdctl {' '.join(args)} failed: {result.stderr}"
        return result.stdout

    def json(self, *args: str, endpoints: list[str] | None = None) -> object:
        return json.loads(self.ok("-w", "json", *args, endpoints=endpoints))

    def statuses(self) -> list[dict[str, object]]:
        """``endpoint status`` of every member, as etcdctl reports it."""
        result = self.json("endpoint", "status")
        assert isinstance(result, list)
        return result

    def leader(self) -> StoreMember:
        deadline = time.monotonic() + 15
        while True:
            statuses = self.statuses()
            by_id = {s["Status"]["header"]["member_id"]: s["Endpoint"] for s in statuses}  # type: ignore[index]
            leaders = {s["Status"]["leader"] for s in statuses}  # type: ignore[index]
            if len(leaders) == 1:
                (leader,) = leaders
                if leader in by_id:
                    return next(m for m in self.members if m.endpoint == by_id[leader])
            assert time.monotonic() < deadline, f"no agreed leader: {statuses}"
            time.sleep(0.2)


def make_tls(directory: Path) -> TLSFiles:
    """A fresh CA with a member certificate for 127.0.0.1 (server and client) and a client certificate."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = new_ca("store-test-ca")
    ca.write(directory, "ca")
    issue(ca, "store-member", server=True, client=True, ips=["127.0.0.1"]).write(directory, "member")
    issue(ca, "store-client", client=True).write(directory, "client")
    return TLSFiles(directory / "ca.crt", directory / "member.crt", directory / "member.key",
                    directory / "client.crt", directory / "client.key")
