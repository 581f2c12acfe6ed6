"""Interactive streams and restart safety through the apiserver, a real ``tinykube kubelet`` and the real runtime
(store + apiserver on loopback): ``kubectl exec -it`` on a terminal with its exit code, ``kubectl attach -i``,
``kubectl logs -f`` following a container to its end, and a kubelet killed with SIGKILL and started again
leaving every container as it was."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.runtime_support import wait_for
from tests.support.apiserver_cluster import KUBECTL, ApiserverCluster
from tests.support.kubelet_node import DEFAULT_IMAGES, kubelet_argv, running_runtime
from tests.support.ports import free_port
from tests.support.processes import Processes

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="containers need root"),
    pytest.mark.skipif(not (DEFAULT_IMAGES / "index.json").exists(), reason="needs .venv/images"),
]

LOOP = ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]


def pod(name: str, node: str, command: list[str], *, restart: str = "Always", **container: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "hostNetwork": True, "restartPolicy": restart,
                     "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "c", "image": "busybox", "imagePullPolicy": "IfNotPresent",
                                     "command": command, **container}]}}


@dataclass
class Node:
    """A kubelet (restartable) between the cluster and a runtime."""

    cluster: ApiserverCluster
    name: str
    argv: list[str]
    processes: Processes
    kubelet: subprocess.Popen[bytes]

    def restart_after_sigkill(self) -> None:
        self.kubelet.send_signal(signal.SIGKILL)
        self.kubelet.wait(10)
        self.kubelet = self.processes.start("kubelet-again", self.argv)

    def status(self, name: str) -> dict[str, Any]:
        out = self.cluster.kubectl("get", "pod", name, "-o", "json", check=False)
        return json.loads(out.stdout)["status"] if out.returncode == 0 else {}


@pytest.fixture
def node(tmp_path: Path, prefix: str, processes: Processes) -> Iterator[Node]:
    cluster = ApiserverCluster(processes, free_port, tmp_path / "cluster", apiservers=1)
    cluster.start()
    # The runtime in the test's network namespace, so the kubelet reaches its streaming server.
    with running_runtime(tmp_path, prefix, processes, None) as endpoint:
        name = f"{prefix}-node"
        argv = kubelet_argv(cluster.apiservers[0].kubeconfig, endpoint, name, tmp_path / "kubelet", free_port())
        n = Node(cluster, name, argv, processes, processes.start("kubelet", argv))
        try:
            wait_for(lambda: cluster.kubectl("get", "node", name, check=False).returncode == 0, 60, "the Node")
            yield n
        finally:
            cluster.kubectl("delete", "pods", "--all", "--grace-period=0", "--force", check=False)
            wait_for(lambda: not cluster.kubectl("get", "pods", "-o", "name", check=False).stdout.strip(), 60,
                     "the pods to be gone")
            cluster.kubectl("delete", "node", name, "--ignore-not-found", check=False)
            n.kubelet.send_signal(signal.SIGTERM)
            n.kubelet.wait(10)


def apply(node: Node, *pods: dict[str, Any]) -> None:
    node.cluster.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List",
                                                               "items": list(pods)}))


def kubectl_on_a_terminal(cluster: ApiserverCluster, args: list[str], typed: bytes, timeout: float = 60
                          ) -> tuple[int, str]:
    """Run kubectl with a pseudo-terminal as its stdin/stdout/stderr, type ``typed``; its exit code and
    everything it wrote."""
    env = {**os.environ, "HOME": str(cluster.home), "KUBECONFIG": str(cluster.apiservers[0].kubeconfig),
           "TERM": "dumb"}
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([KUBECTL, "--cache-dir", str(cluster.home / "cache"), *args], stdin=terminal,
                            stdout=terminal, stderr=terminal, env=env, start_new_session=True)
    os.close(terminal)
    out = b""
    try:
        os.write(controller, typed)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(controller, 4096)
                except OSError:  # EIO: every writer of the terminal has gone
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        return proc.wait(10), out.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(controller)


def test_exec_it_attach_and_logs_follow(node: Node, prefix: str) -> None:
    shell, reader, counter = f"{prefix}-shell", f"{prefix}-reader", f"{prefix}-counter"
    apply(node, pod(shell, node.name, LOOP),
          pod(reader, node.name, ["/bin/sh", "-c", "while read l; do echo got:$l; done; echo bye"], restart="Never",
              stdin=True, stdinOnce=True),
          pod(counter, node.name, ["/bin/sh", "-c", "echo line1; until test -e /tmp/go; do sleep 0.1; done;"
                                                    " echo line2; echo line3"], restart="Never"))
    node.cluster.kubectl("wait", "--for=condition=Ready", f"pod/{shell}", f"pod/{reader}", f"pod/{counter}",
                         "--timeout=90s", timeout=100)

    # exec -it: a real terminal inside the container, and the shell's exit code as kubectl's.
    code, out = kubectl_on_a_terminal(node.cluster, ["exec", "-it", shell, "--", "/bin/sh"],
                                      b"tty; echo tty-$((6*7)); exit 3\n")
    assert code == 3, out
    assert "tty-42" in out and "/dev/pts/" in out, out
    code, out = kubectl_on_a_terminal(node.cluster, ["exec", "-it", shell, "--", "/bin/sh", "-c", "exit 0"], b"")
    assert code == 0, out

    # attach -i: stdin reaches the running container, its output comes back, and attach ends with it.
    attached = node.cluster.kubectl("attach", "-i", reader, "-c", "c", stdin="hello\nworld\n", timeout=60)
    assert attached.stdout.split()[-3:] == ["got:hello", "got:world", "bye"], attached.stdout + attached.stderr
    wait_for(lambda: node.status(reader).get("phase") == "Succeeded", 30, "the attached pod to finish")

    # logs -f: it shows what the running container wrote, then what it writes later (once told to go on), and
    # returns when the container exits.
    env = {**os.environ, "HOME": str(node.cluster.home), "KUBECONFIG": str(node.cluster.apiservers[0].kubeconfig)}
    follow = subprocess.Popen([KUBECTL, "--cache-dir", str(node.cluster.home / "cache"), "logs", "-f", counter],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert follow.stdout is not None
        assert select.select([follow.stdout], [], [], 60)[0], "kubectl logs -f wrote nothing in 60s"
        assert follow.stdout.readline() == "line1\n", follow.stderr
        node.cluster.kubectl("exec", counter, "--", "touch", "/tmp/go")
        rest, err = follow.communicate(timeout=60)
        assert (rest, follow.returncode) == ("line2\nline3\n", 0), err
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.communicate()


def test_kubelet_sigkill_and_restart_leaves_containers_running(node: Node, prefix: str) -> None:
    names = [f"{prefix}-keep{i}" for i in range(3)]
    apply(node, *(pod(n, node.name, LOOP) for n in names))
    node.cluster.kubectl("wait", "--for=condition=Ready", *(f"pod/{n}" for n in names), "--timeout=90s",
                         timeout=100)
    before = {n: node.status(n)["containerStatuses"][0] for n in names}

    node.restart_after_sigkill()
    wait_for(lambda: "pods synced" in node.processes.log("kubelet-again"), 60, "the new kubelet to list its pods")
    time.sleep(3)  # its workers' first syncs (and a few resyncs): any restart it would cause happens here
    after = {n: node.status(n)["containerStatuses"][0] for n in names}
    for n in names:
        assert after[n]["containerID"] == before[n]["containerID"], (before[n], after[n])
        assert after[n]["restartCount"] == 0 and after[n]["ready"], after[n]
        assert after[n]["state"]["running"]["startedAt"] == before[n]["state"]["running"]["startedAt"]
