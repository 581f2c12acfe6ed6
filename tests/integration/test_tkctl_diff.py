"""kubectl and tkctl, the same command lines against one real store + apiserver: identical output.

Every scenario runs twice, once per client, each in its own namespace and with its own prefix for
cluster-scoped names; each step's stdout, stderr and exit code must match after normalising what
differs between any two runs (ages, uids, resourceVersions, timestamps, generated names, service IPs).
No kubelet or controller-manager runs here (see test_tkctl_scripts.py for those).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.apiserver_cluster import ApiserverCluster
from tests.support.cli_diff import Outcome, clients, run
from tests.support.ports import free_port
from tests.support.processes import Processes

pytestmark = pytest.mark.slow

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  labels: {tier: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: app}
  template:
    metadata:
      labels: {app: app}
    spec:
      containers:
      - name: main
        image: nginx:1.25
        ports: [{containerPort: 80}]
        env: [{name: MODE, value: "one"}]
"""

NODE = """apiVersion: v1
kind: Node
metadata:
  name: {p}-node
  labels: {kubernetes.io/hostname: {p}-node, disk: ssd}
spec:
  podCIDR: 10.244.9.0/24
status:
  capacity: {cpu: "2", memory: 2Gi, pods: "110"}
  allocatable: {cpu: "2", memory: 2Gi, pods: "110"}
  addresses: [{type: InternalIP, address: 10.0.0.9}, {type: Hostname, address: {p}-node}]
  conditions:
  - {type: Ready, status: "True", reason: KubeletReady, message: ready, lastHeartbeatTime: "2026-01-01T00:00:00Z",
     lastTransitionTime: "2026-01-01T00:00:00Z"}
  nodeInfo: {machineID: m, systemUUID: s, bootID: b, kernelVersion: "6.1", osImage: Debian,
             containerRuntimeVersion: "tinykube://1", kubeletVersion: v1.32.0, kubeProxyVersion: "",
             operatingSystem: linux, architecture: amd64}
"""

# Kinds whose describe pages read fields the generators do not set.
DESCRIBED = """apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web, labels: {a: b}}
spec:
  serviceName: web
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: nginx, ports: [{containerPort: 80, name: http}]}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds}
spec:
  selector: {matchLabels: {app: ds}}
  template:
    metadata: {labels: {app: ds}}
    spec:
      nodeSelector: {disk: ssd}
      containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: claim}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Endpoints
metadata: {name: ep}
subsets:
- addresses: [{ip: 10.1.2.3}, {ip: 10.1.2.4}]
  notReadyAddresses: [{ip: 10.1.2.5}]
  ports: [{port: 80, name: http}, {port: 443, name: https}]
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: lease1}
spec: {holderIdentity: me, leaseDurationSeconds: 15, renewTime: "2026-01-01T00:00:00.000000Z", leaseTransitions: 2}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: withsecrets}
secrets: [{name: missing}]
imagePullSecrets: [{name: pull1}, {name: pull2}]
"""

# Pods bound to the scenario's node, for drain's checks (no kubelet runs: evictions are dry runs).
BARE_POD = """apiVersion: v1
kind: Pod
metadata: {name: bare}
spec: {nodeName: {p}-node, containers: [{name: c, image: busybox}]}
"""
LOCAL_POD = """apiVersion: v1
kind: Pod
metadata:
  name: scratch
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: rs, uid: 0d8b3c3e-1111-4a4a-9e9e-000000000001,
                     controller: true}]
spec: {nodeName: {p}-node, volumes: [{name: v, emptyDir: {}}], containers: [{name: c, image: busybox}]}
"""

# $KUBE_EDITOR scripts for `edit` steps (`KUBE_EDITOR={editors}/<name> edit ...`).
EDITORS = {"replicas-3": 'sed -i "s/replicas: 1/replicas: 3/" "$1"',
           "replicas-1": 'sed -i "s/replicas: 3/replicas: 1/" "$1"',
           "unchanged": "exit 0"}

CONTAINER_PATCH = '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"x"}]}}}}'

# Every generator the issue lists, as `--dry-run=client` prints it (kubectl: Go struct field order in JSON).
GENERATED = [
    "create deployment web --image=nginx:1 --image=busybox --replicas=2 --port=80 -n {ns}",
    "create deployment web --image=nginx",
    "create configmap cm --from-literal=b=1 --from-literal=a=2 --from-file={pki}/ca.crt -n {ns}",
    "create secret generic sec --from-literal=k=v --type=Opaque -n {ns}",
    "create secret tls tls --cert={pki}/ca.crt --key={pki}/ca.key -n {ns}",
    "create namespace {p}-gen",
    "create service clusterip svc --tcp=80:8080 --tcp=90 -n {ns}",
    "create service clusterip headless --clusterip=None",
    "create service nodeport np --tcp=80:8080 --node-port=30080 -n {ns}",
    "create serviceaccount sa -n {ns}",
    "create role reader --verb=get,list --resource=pods,deployments.apps --resource-name=x -n {ns}",
    "create rolebinding rb --role=reader --user=jane --group=g --serviceaccount={ns}:sa -n {ns}",
    "create clusterrole {p}-cr --verb=get --resource=nodes --non-resource-url=/x",
    "create clusterrolebinding {p}-crb --clusterrole={p}-cr --user=jane",
    "run pod2 --image=nginx --port=80 --env=A=b -l app=x -n {ns}",
]
# Generators that take a command after `--`: the output flags go before it.
GENERATED_WITH_COMMAND = [
    "create job job1 --image=busybox -n {ns} {out} -- echo hi",
    "create cronjob cj --image=busybox --schedule=*/5_*_*_*_* -n {ns} {out} -- echo hi",
]


def _generated(out: str) -> list[str | tuple[str, str]]:
    lines = [f"{line} --dry-run=client {out}" for line in GENERATED]
    return [*lines, *(line.replace("{out}", f"--dry-run=client {out}") for line in GENERATED_WITH_COMMAND)]


# Each step: a command line, optionally with the text fed to stdin. {ns} and {p} are per client, {pki} holds
# the cluster's CA certificate and key.
SCENARIOS: dict[str, list[str | tuple[str, str]]] = {
    "generated-json": ["create namespace {ns}", *_generated("-o json"),
                       "create cronjob cj --image=busybox --schedule=*/5_*_*_*_* -n {ns}",
                       "create job from-cj --from=cronjob/cj -n {ns} --dry-run=client -o json",
                       "create job from-cj --from=cronjob/cj -n {ns} --dry-run=client -o yaml",
                       "delete namespace {ns} --wait=false"],
    "generated-yaml": _generated("-o yaml"),
    "generators": [
        "create namespace {ns}",
        "create namespace {ns}",
        "create deployment web --image=nginx --replicas=2 --port=80 -n {ns}",
        "create deployment web --image=nginx -n {ns}",
        "create deployment multi --image=nginx:1 --image=busybox -n {ns} --dry-run=client -o yaml",
        "create configmap cm --from-literal=a=1 --from-literal=b=two -n {ns}",
        "create configmap cm2 --from-literal=when=2024-01-01T00:00:00Z --dry-run=client -o yaml -n {ns}",
        "create secret generic sec --from-literal=k=v -n {ns}",
        "create secret generic sec2 --from-literal=k=v --type=Opaque --dry-run=client -o yaml -n {ns}",
        "create service clusterip svc --tcp=80:8080 -n {ns}",
        "create service nodeport np --tcp=80:8080 --node-port=30080 --dry-run=client -o yaml -n {ns}",
        "create service clusterip headless --clusterip=None -n {ns} --dry-run=client -o yaml",
        "create job job1 --image=busybox -n {ns} -- echo hi",
        "create cronjob cj --image=busybox --schedule=*/5_*_*_*_* -n {ns} --dry-run=client -o yaml",
        "create serviceaccount sa -n {ns}",
        "create role reader --verb=get,list --resource=pods,deployments.apps -n {ns}",
        "create rolebinding rb --role=reader --user=jane --serviceaccount={ns}:sa -n {ns}",
        "create clusterrole {p}-cr --verb=get --resource=nodes",
        "create clusterrolebinding {p}-crb --clusterrole={p}-cr --user=jane",
        "create deployment srv --image=nginx -n {ns} --dry-run=server",
        "get deploy,cm,secret,svc,sa,role,rolebinding,job -n {ns}",
        "get clusterrole {p}-cr -o yaml",
        "get clusterrolebinding {p}-crb -o name",
        "delete clusterrolebinding {p}-crb",
        "delete clusterrole {p}-cr",
        "delete namespace {ns} --wait=false",
    ],
    "get": [
        "create namespace {ns}",
        ("apply -n {ns} -f -", DEPLOYMENT),
        "create configmap settings --from-literal=x=1 -n {ns}",
        "get deploy -n {ns}",
        "get deploy -n {ns} -o wide",
        "get deployments.apps app -n {ns} -o name",
        "get deploy -n {ns} -o json",
        "get deploy app -n {ns} -o yaml",
        "get deploy app -n {ns} -o jsonpath={.spec.template.spec.containers[0].image}",
        "get deploy,cm -n {ns} -o 'jsonpath={range .items[*]}{.kind}/{.metadata.name}{\"\\n\"}{end}'",
        "get deploy app -n {ns} -o jsonpath={.nope}",
        "get deploy app -n {ns} -o jsonpath={.spec.replicas",
        "get deploy -n {ns} -o custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas,IMAGE:"
        ".spec.template.spec.containers[*].image",
        "get deploy -n {ns} --show-labels",
        "get deploy -n {ns} -L tier -L missing",
        "get cm -n {ns} --sort-by=.metadata.name",
        "get deploy,cm -n {ns} --no-headers",
        "get deploy/app cm/settings -n {ns}",
        "get deploy -n {ns} -l tier=web",
        "get cm -n {ns} --field-selector metadata.name=settings -o name",
        "get pods -n {ns}",
        "get pods -n {ns} -o name",
        "get deploy nope -n {ns}",
        "get deploy app nope -n {ns}",
        "get deploy nope -n {ns} --ignore-not-found",
        "get widgets -n {ns}",
        "get -n {ns}",
        "get deploy -n {ns} -o bogus",
        "get deploy -n {ns} --bogus-flag",
        "get namespace {ns} -o jsonpath={.status.phase}",
        "get deploy,cm -n {ns} -w",
        "get deploy,cm -n {ns} -o name --watch-only",
        "get cm settings nope -n {ns} -w",
        "get cm nope -n {ns} -w --ignore-not-found",
        "create configmap second --from-literal=y=2 -n {ns}",
        "get cm settings second -n {ns} -w",
        "get cm/settings cm/second -n {ns} -o name -w",
        "delete namespace {ns} --wait=false",
    ],
    "mutate": [
        "create namespace {ns}",
        "create deployment web --image=nginx -n {ns}",
        "label deploy web -n {ns} color=blue",
        "label deploy web -n {ns} color=red",
        "label deploy web -n {ns} color=red --overwrite",
        "label deploy web -n {ns} color=red --overwrite",
        "label deploy web -n {ns} color-",
        "label deploy web -n {ns} --list",
        "annotate deploy web -n {ns} note=hello",
        "annotate deploy web -n {ns} note-",
        "scale deploy web -n {ns} --replicas=3",
        "scale deploy/web -n {ns} --replicas=2 --current-replicas=5",
        "scale deploy web -n {ns} --replicas=4 --dry-run=server",
        """patch deploy web -n {ns} -p '{"spec":{"replicas":3}}'""",
        """patch deploy web -n {ns} --type=merge -p '{"spec":{"replicas":5}}'""",
        """patch deploy web -n {ns} --type=json -p '[{"op":"replace","path":"/spec/replicas","value":1}]'""",
        """patch deploy web -n {ns} --type=merge -p '{"spec":{"replicas":1}}' -o jsonpath={.spec.replicas}""",
        "KUBE_EDITOR={editors}/replicas-3 edit deploy web -n {ns}",
        "KUBE_EDITOR={editors}/unchanged edit deploy/web -n {ns}",
        "KUBE_EDITOR={editors}/replicas-1 edit deploy web -n {ns} -o yaml",
        "KUBE_EDITOR={editors}/unchanged edit deploy web -n {ns} -o jsonpath={.spec.replicas}",
        "KUBE_EDITOR={editors}/unchanged edit deploy nope -n {ns}",
        f"patch deploy web -n {{ns}} -p '{CONTAINER_PATCH}'",
        "patch deploy nope -n {ns} -p {}",
        "patch deploy web -n {ns} --type=bogus -p {}",
        "set image deploy/web nginx=nginx:2 -n {ns}",
        "set env deploy/web A=1 B=2 -n {ns}",
        "set env deploy/web A- -n {ns}",
        "set resources deploy/web --limits=cpu=200m,memory=128Mi -n {ns}",
        "get deploy web -n {ns} -o jsonpath={.spec.template.spec.containers[0]}",
        "autoscale deploy web --max=5 --min=2 --cpu-percent=80 -n {ns}",
        "get hpa -n {ns} -o name",
        "expose deploy web --port=80 --target-port=8080 -n {ns}",
        "expose deploy web --port=81 --name=web2 -n {ns} --dry-run=client -o yaml",
        "run pod1 --image=busybox -n {ns} -- sleep 100",
        "run pod2 --image=nginx --port=80 --env=A=b -l app=x -n {ns} --dry-run=client -o yaml",
        "rollout pause deploy/web -n {ns}",
        "rollout pause deploy/web -n {ns}",
        "rollout resume deploy/web -n {ns}",
        "rollout resume deploy/web -n {ns}",
        "rollout history deploy/web -n {ns}",
        "wait --for=jsonpath={.spec.replicas}=1 deploy/web -n {ns}",
        "wait --for=delete pod/never -n {ns} --timeout=1s",
        "wait --for=condition=Ready pod/pod1 -n {ns} --timeout=1s",
        "delete namespace {ns} --wait=false",
    ],
    "apply-replace-delete": [
        "create namespace {ns}",
        ("apply -n {ns} -f -", DEPLOYMENT),
        ("apply -n {ns} -f -", DEPLOYMENT),
        ("apply -n {ns} -f -", DEPLOYMENT.replace("replicas: 2", "replicas: 3").replace('"one"', '"two"')),
        "get deploy app -n {ns} -o jsonpath={.spec.replicas}/{.spec.template.spec.containers[0].env[0].value}",
        ("apply -n {ns} -f - --dry-run=server", DEPLOYMENT),
        ("apply -n {ns} -f - --dry-run=client", DEPLOYMENT),
        ("apply -n {ns} -f - --server-side --force-conflicts", DEPLOYMENT),
        ("apply -n {ns} -f - -o name", DEPLOYMENT.replace("name: app", "name: app2")),
        ("apply -n other-{ns} -f -", DEPLOYMENT.replace("name: app\n", "name: app\n  namespace: {ns}\n")),
        ("replace -n {ns} -f -", DEPLOYMENT.replace("replicas: 2", "replicas: 1")),
        ("replace -n {ns} -f -", DEPLOYMENT.replace("name: app", "name: ghost")),
        ("create -n {ns} -f -", DEPLOYMENT),
        ("create -n {ns} -f -", DEPLOYMENT.replace("name: app", "name: app3")),
        ("create -n {ns} -f -", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad}\nbogus: 1\n"),
        "create configmap c1 --from-literal=a=1 -n {ns}",
        "create configmap c2 --from-literal=a=1 -n {ns}",
        "label cm c1 c2 -n {ns} group=g",
        "delete cm -l group=g -n {ns} --dry-run=client",
        "delete cm -l group=g -n {ns} --dry-run=server",
        "delete cm c1 -n {ns} -o name",
        "delete cm c1 c2 -n {ns}",
        "delete cm c1 -n {ns} --ignore-not-found",
        "delete cm -n {ns}",
        "delete cm --all -n {ns}",
        "delete deploy app3 -n {ns} --cascade=orphan --wait=false",
        ("delete -n {ns} -f -", DEPLOYMENT),
        "delete deploy app2 -n {ns} --now",
        "delete namespace {ns} --wait=false",
    ],
    "describe": [
        "create namespace {ns}",
        ("apply -n {ns} -f -", DEPLOYMENT),
        "create service clusterip svc --tcp=80:8080 -n {ns}",
        "run pod1 --image=busybox -n {ns} --labels=a=b,c=d --env=X=1 --port=8080 -- sleep 100",
        "describe deploy app -n {ns}",
        "describe svc svc -n {ns}",
        "describe pod pod1 -n {ns}",
        "describe pods -n {ns}",
        "describe namespace {ns}",
        "describe deploy nope -n {ns}",
        ("apply -n {ns} -f -", DESCRIBED),
        "create configmap cm --from-literal=a=1 -n {ns}",
        "create secret generic sec --from-literal=k=value -n {ns}",
        "create secret generic pull1 --from-literal=k=v -n {ns}",
        "create serviceaccount sa -n {ns}",
        "create job job1 --image=busybox -n {ns} -- echo hi",
        "create cronjob cj --image=busybox --schedule=*/5_*_*_*_* -n {ns} -- echo hi",
        "create role reader --verb=get,list --resource=pods,deployments.apps --resource-name=x -n {ns}",
        "create rolebinding rb --role=reader --user=jane --serviceaccount={ns}:sa -n {ns}",
        "create clusterrole {p}-cr --verb=get --resource=nodes --non-resource-url=/x",
        "create clusterrolebinding {p}-crb --clusterrole={p}-cr --group=g",
        "describe cm cm -n {ns}",
        "describe secret sec -n {ns}",
        "describe sa sa withsecrets -n {ns}",
        "describe sts web -n {ns}",
        "describe ds ds -n {ns}",
        "describe job job1 -n {ns}",
        "describe cronjob cj -n {ns}",
        "describe pvc claim -n {ns}",
        "describe endpoints ep -n {ns}",
        "describe lease lease1 -n {ns}",
        "describe role reader -n {ns}",
        "describe rolebinding rb -n {ns}",
        "describe clusterrole {p}-cr",
        "describe clusterrolebinding {p}-crb",
        "delete clusterrolebinding {p}-crb",
        "delete clusterrole {p}-cr",
        "delete namespace {ns} --wait=false",
    ],
    "nodes": [
        ("apply -f -", NODE),
        "cordon {p}-node",
        "cordon {p}-node",
        "uncordon {p}-node",
        "uncordon {p}-node --dry-run=client",
        "taint nodes {p}-node dedicated=db:NoSchedule",
        "taint nodes {p}-node dedicated=db:NoSchedule",
        "taint nodes {p}-node dedicated=web:NoSchedule --overwrite",
        "taint node {p}-node dedicated:NoSchedule-",
        "taint node {p}-node missing-",
        "describe node {p}-node",
        "get node {p}-node -o jsonpath={.spec}",
        "create namespace {ns}",
        ("apply -n {ns} -f -", BARE_POD),
        "drain {p}-node",
        "uncordon {p}-node",
        "drain {p}-node --force --dry-run=server",
        "uncordon {p}-node",
        "delete pod bare -n {ns} --grace-period=0 --force",
        ("apply -n {ns} -f -", LOCAL_POD),
        "drain {p}-node --ignore-daemonsets",
        "uncordon {p}-node",
        "drain {p}-node --ignore-daemonsets --delete-emptydir-data --dry-run=client",
        "uncordon {p}-node",
        "delete pod scratch -n {ns} --grace-period=0 --force",
        "delete namespace {ns} --wait=false",
        "drain {p}-node --ignore-daemonsets",
        "delete node {p}-node",
    ],
    "info": [
        "api-resources",
        "api-resources -o wide",
        "api-resources --namespaced=false -o name",
        "api-resources --api-group=apps --no-headers",
        "api-versions",
        "version",
        "cluster-info",
        "explain pods",
        "explain deployment.spec.replicas",
        "explain svc.spec",
        "explain pods.spec.nope",
        "config current-context",
        "config get-contexts",
        "config view --minify",
        "config view -o jsonpath={.contexts[0].name}",
        "auth can-i get pods",
        "auth can-i create deployments.apps -n kube-system",
        "auth can-i --list",
        "auth whoami",
    ],
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiserverCluster]:
    root = tmp_path_factory.mktemp("tkctl-diff")
    procs = Processes(root / "logs")
    try:
        c = ApiserverCluster(procs, free_port, root, apiservers=1)
        c.start()
        yield c
    finally:
        procs.stop_all()


def _editors(tmp: Path) -> Path:
    folder = tmp / "editors"
    folder.mkdir(exist_ok=True)
    for name, script in EDITORS.items():
        (folder / name).write_text(f"#!/bin/sh\n{script}\n")
        (folder / name).chmod(0o755)
    return folder


def _play(cluster: ApiserverCluster, tmp: Path, name: str, client: str) -> list[Outcome]:
    binary, prefix = clients()[client]
    ns = f"{prefix}-{name}"
    editors = _editors(tmp)
    outcomes = []
    for step in SCENARIOS[name]:
        line, stdin = (step, None) if isinstance(step, str) else step
        line = line.replace("*/5_*_*_*_*", "'*/5 * * * *'")
        if stdin is not None:
            stdin = stdin.replace("{p}", prefix).replace("{ns}", ns)
        line = line.replace("{pki}", str(cluster.pki)).replace("{editors}", str(editors))
        env = {}
        if line.startswith("KUBE_EDITOR="):
            assignment, line = line.split(" ", 1)
            env["KUBE_EDITOR"] = assignment.partition("=")[2]
        outcomes.append(run(binary, line, ns=ns, prefix=prefix, kubeconfig=cluster.apiservers[0].kubeconfig,
                            cache_dir=tmp / f"{client}-cache", home=cluster.home, stdin=stdin, extra_env=env))
    return outcomes


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_output(cluster: ApiserverCluster, tmp_path: Path, name: str) -> None:
    cluster.home.mkdir(parents=True, exist_ok=True)
    expected = _play(cluster, tmp_path, name, "kubectl")
    got = _play(cluster, tmp_path, name, "tkctl")
    mismatches = []
    for step, want, have in zip(SCENARIOS[name], expected, got, strict=True):
        line = step if isinstance(step, str) else step[0]
        if (want.stdout, want.code) != (have.stdout, have.code) or _first_line(want.stderr) != \
                _first_line(have.stderr):
            mismatches.append(f"$ {line}\n--- kubectl (exit {want.code})\n{want.stdout}{want.stderr}"
                              f"--- tkctl (exit {have.code})\n{have.stdout}{have.stderr}")
    assert not mismatches, "\n\n".join(mismatches)


def _first_line(text: str) -> str:
    """The error line (kubectl's later hint lines name its own help pages)."""
    return text.split("\n", 1)[0]
