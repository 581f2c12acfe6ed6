"""Shell scripts written for kubectl run unchanged with tkctl in its place, against a store, an apiserver,
the controller-manager and a fake kubelet: the k8s-examples applied with -f, a rollout and its undo, a
scale loop, and a wait on a Job. Both runs must succeed and print the same (normalised) lines; rollout
progress lines depend on timing and are left out of the comparison.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_controller_manager_cluster import EXIT_LABEL, NODE, FakeKubelet, start_manager
from tests.support.apiserver_cluster import ApiserverCluster
from tests.support.cli_diff import clients, normalise
from tests.support.paths import K8S_EXAMPLES
from tests.support.ports import free_port
from tests.support.processes import Processes

pytestmark = pytest.mark.slow

JOB = """apiVersion: batch/v1
kind: Job
metadata:
  name: pi
spec:
  backoffLimit: 2
  template:
    metadata:
      labels: {"EXIT_LABEL": "0"}
    spec:
      restartPolicy: Never
      containers:
      - name: pi
        image: perl:5.34.0
        command: ["perl", "-Mbignum=bpi", "-wle", "print bpi(20)"]
""".replace("EXIT_LABEL", EXIT_LABEL)

SCRIPT = r"""
set -euo pipefail
k() { kubectl --cache-dir "$CACHE" -n "$NS" "$@"; }
kubectl --cache-dir "$CACHE" create namespace "$NS"

# The examples, as a user would apply them.
k apply -f "$EXAMPLES/controllers/nginx-deployment.yaml"
k apply -f "$EXAMPLES/controllers/frontend.yaml"
k apply -f "$EXAMPLES/application/mysql/mysql-services.yaml"
k apply -f "$EXAMPLES/controllers/nginx-deployment.yaml"
k rollout status deployment/nginx-deployment --timeout=120s
k get deployment nginx-deployment -o jsonpath='{.status.availableReplicas}{"\n"}'

# A rollout and its undo.
k set image deployment/nginx-deployment nginx=nginx:1.16.1
k rollout status deployment/nginx-deployment --timeout=120s
k rollout history deployment/nginx-deployment
k rollout undo deployment/nginx-deployment
k rollout status deployment/nginx-deployment --timeout=120s
k get deployment nginx-deployment -o jsonpath='{.spec.template.spec.containers[0].image}{"\n"}'

# A scale loop.
for replicas in 1 4 2; do
  k scale deployment/nginx-deployment --replicas="$replicas"
  k wait --for=jsonpath='{.status.availableReplicas}'="$replicas" deployment/nginx-deployment --timeout=120s
done

# A Job, waited on.
printf '%s' "$JOB" | k apply -f -
k wait --for=condition=complete job/pi --timeout=120s
k get job pi -o jsonpath='{.status.succeeded}{"\n"}'

k delete -f "$EXAMPLES/controllers/frontend.yaml"
k delete deployment nginx-deployment --wait=false
kubectl --cache-dir "$CACHE" delete namespace "$NS" --wait=false
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiserverCluster]:
    root = tmp_path_factory.mktemp("tkctl-scripts")
    procs = Processes(root / "logs")
    kubelet: FakeKubelet | None = None
    try:
        c = ApiserverCluster(procs, free_port, root, apiservers=1)
        c.start()
        node = (f"apiVersion: v1\nkind: Node\nmetadata:\n  name: {NODE}\n  labels: {{kubernetes.io/hostname: {NODE}}}\n"
                "status:\n  conditions: [{type: Ready, status: \"True\"}]\n")
        c.kubectl("--cache-dir", str(root / "cache"), "apply", "-f", "-", stdin=node)
        start_manager(c, "controller-manager")
        kubelet = FakeKubelet(c)
        kubelet.start()
        yield c
    finally:
        if kubelet is not None:
            kubelet.stop()
        procs.stop_all()


def _run_script(cluster: ApiserverCluster, tmp: Path, client: str) -> tuple[int, str]:
    binary, prefix = clients()[client]
    bindir = tmp / f"{client}-bin"
    bindir.mkdir()
    (bindir / "kubectl").symlink_to(binary)  # the script says "kubectl"; this one is whichever client is tested
    ns = f"{prefix}-script"
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "HOME": str(cluster.home),
           "KUBECONFIG": str(cluster.apiservers[0].kubeconfig), "CACHE": str(tmp / f"{client}-cache"), "NS": ns,
           "EXAMPLES": str(K8S_EXAMPLES), "JOB": JOB}
    result = subprocess.run(["bash", "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    return result.returncode, normalise(result.stdout + result.stderr, ns, prefix)


def _stable(text: str) -> list[str]:
    """The lines that do not depend on timing (rollout progress messages do)."""
    return [line for line in text.splitlines() if not line.startswith("Waiting for")]


def test_kubectl_scripts_run_unchanged_with_tkctl(cluster: ApiserverCluster, tmp_path: Path) -> None:
    cluster.home.mkdir(parents=True, exist_ok=True)
    want_code, want = _run_script(cluster, tmp_path, "kubectl")
    assert want_code == 0, want
    got_code, got = _run_script(cluster, tmp_path, "tkctl")
    assert got_code == 0, got
    assert _stable(got) == _stable(want), f"kubectl:\n{want}\ntkctl:\n{got}"
