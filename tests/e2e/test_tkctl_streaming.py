"""tkctl exec, cp, logs and top against a real kubelet and runtime, beside kubectl doing the same.

Reuses the streaming suite's cluster (store + apiserver on loopback), runtime and Ready busybox pod.
"""

from __future__ import annotations

import concurrent.futures
import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.e2e import test_kubelet_streaming as streaming
from tests.e2e.runtime_support import wait_for
from tests.e2e.test_kubelet_streaming import WebPod
from tests.support.apiserver_cluster import KUBECTL, ApiserverCluster
from tests.support.cli_diff import TKCTL
from tests.support.kubelet_node import DEFAULT_IMAGES
from tests.support.ports import free_port

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="containers need root"),
    pytest.mark.skipif(not (DEFAULT_IMAGES / "index.json").exists(), reason="needs .venv/images"),
    pytest.mark.slow,
]

# The streaming suite's fixtures, shared: its cluster and Ready pod (the runtime comes from conftest).
cluster = streaming.cluster
web_pod = streaming.web_pod


# A pod to attach to: it echoes its stdin, which stdinOnce closes when the first attach ends.
ATTACHED = """apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  nodeName: {node}
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  restartPolicy: Never
  containers:
  - name: echo
    image: busybox
    imagePullPolicy: IfNotPresent
    stdin: true
    stdinOnce: true
    command: ["/bin/sh", "-c", "while read line; do echo got: $line; done"]
"""


def _run(cluster: ApiserverCluster, binary: str, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    env = {**os.environ, "HOME": str(cluster.home), "KUBECONFIG": str(cluster.apiservers[0].kubeconfig)}
    cache = cluster.home / ("kcache" if binary == KUBECTL else "tcache")
    result = subprocess.run([binary, "--cache-dir", str(cache), *args], input=stdin, capture_output=True, text=True,
                            env=env, timeout=120)
    return result.returncode, result.stdout, result.stderr


def _both(cluster: ApiserverCluster, *args: str) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    cluster.home.mkdir(parents=True, exist_ok=True)
    return _run(cluster, KUBECTL, *args), _run(cluster, TKCTL, *args)


def test_exec_cp_logs_and_top(cluster: ApiserverCluster, web_pod: WebPod, prefix: str, tmp_path: Path) -> None:
    """One pod for all of them (starting a kubelet and a pod per check would take minutes)."""
    # exec: output, stderr and the remote exit code, as kubectl prints and passes them on; stdin.
    want, got = _both(cluster, "exec", web_pod.name, "-c", "web", "--", "cat", "/www/index.html")
    assert got == want == (0, f"hello from {prefix}\n", "")
    want, got = _both(cluster, "exec", web_pod.name, "-c", "web", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert got == want
    assert got[0] == 3 and got[1] == "out\n" and "command terminated with exit code 3" in got[2]
    code, out, _ = _run(cluster, TKCTL, "exec", "-i", web_pod.name, "-c", "web", "--", "wc", "-c", stdin="x" * 1000)
    assert (code, out.strip()) == (0, "1000")
    # cp, both ways.
    local = tmp_path / "index.html"
    code, _, err = _run(cluster, TKCTL, "cp", "-c", "web", f"{web_pod.name}:/www/index.html", str(local))
    assert code == 0, err
    assert local.read_text() == f"hello from {prefix}\n"
    upload = tmp_path / "upload.txt"
    upload.write_text("uploaded by tkctl\n")
    code, _, err = _run(cluster, TKCTL, "cp", "-c", "web", str(upload), f"{web_pod.name}:/tmp/upload.txt")
    assert code == 0, err
    assert _run(cluster, TKCTL, "exec", web_pod.name, "-c", "web", "--", "cat", "/tmp/upload.txt")[1] == \
        "uploaded by tkctl\n"
    # logs, as kubectl prints them (and its error for an unknown container).
    for args in (["logs", web_pod.name, "-c", "web"], ["logs", web_pod.name, "-c", "burner", "--tail=5"],
                 ["logs", f"pod/{web_pod.name}", "-c", "nope"]):
        want, got = _both(cluster, *args)
        assert (got[0], got[1]) == (want[0], want[1]), args
        assert got[2].split("\n")[0] == want[2].split("\n")[0], args
    _check_attach(cluster, web_pod, prefix)
    # top: kubectl's columns (the figures move between the two runs).
    want, got = _both(cluster, "top", "pod", web_pod.name)
    assert got[0] == want[0], got[2]
    if want[0] == 0:
        assert got[1].splitlines()[0].split() == want[1].splitlines()[0].split()
        assert got[1].splitlines()[1].split()[0] == web_pod.name
    else:
        assert got[2].split("\n")[0] == want[2].split("\n")[0]


def _check_attach(cluster: ApiserverCluster, web_pod: WebPod, prefix: str) -> None:
    """``attach -i``: stdin reaches the container and its output comes back, as with kubectl (one pod each)."""
    results = {}
    for binary, name in ((KUBECTL, f"{prefix}-attach-k"), (TKCTL, f"{prefix}-attach-t")):
        cluster.kubectl("apply", "-f", "-", stdin=ATTACHED.format(name=name, node=web_pod.node))
        try:
            cluster.kubectl("wait", "--for=condition=Ready", f"pod/{name}", "--timeout=90s", timeout=100)
            results[binary] = _run(cluster, binary, "attach", "-i", "-q", name, stdin="one\ntwo\n")
        finally:
            cluster.kubectl("delete", "pod", name, "--wait=false", check=False)
    assert results[TKCTL] == results[KUBECTL]
    assert results[TKCTL] == (0, "got: one\ngot: two\n", "")


def _port_forward(cluster: ApiserverCluster, target: str, remote: int) -> tuple[subprocess.Popen[str], int]:
    """``tkctl port-forward target LOCAL:remote`` in the background, once it listens."""
    local = free_port()
    env = {**os.environ, "HOME": str(cluster.home), "KUBECONFIG": str(cluster.apiservers[0].kubeconfig)}
    proc = subprocess.Popen([TKCTL, "port-forward", "--cache-dir", str(cluster.home / "tcache"), target,
                             f"{local}:{remote}"], env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def listening() -> bool:
        assert proc.poll() is None, f"tkctl port-forward exited: {proc.communicate()}"
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", local)) == 0

    wait_for(listening, 30, "tkctl port-forward to listen")
    return proc, local


def test_port_forward_to_a_pod_and_a_service(cluster: ApiserverCluster, web_pod: WebPod, prefix: str) -> None:
    cluster.home.mkdir(parents=True, exist_ok=True)
    index = f"hello from {prefix}\n".encode()
    proc, local = _port_forward(cluster, f"pod/{web_pod.name}", web_pod.web_port)
    try:
        assert streaming.fetch(local, "/index.html") == index
        # Several connections share the SPDY session; two move far more than its windows.
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            pages = list(pool.map(lambda p: streaming.fetch(local, p), ["/big", "/index.html", "/index.html", "/big"]))
        assert pages == [b"x" * streaming.BIG, index, index, b"x" * streaming.BIG]
        upload = streaming.UPLOAD
        assert streaming.fetch(local, "/cgi-bin/count", b"y" * upload).strip() == str(upload).encode()
    finally:
        out = streaming.stop(proc)
    assert "an error occurred forwarding" not in out, out
    proc, local = _port_forward(cluster, f"svc/{prefix}-svc", 80)
    try:
        assert streaming.fetch(local, "/index.html") == index
    finally:
        streaming.stop(proc)
