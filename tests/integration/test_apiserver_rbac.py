"""Authorization with real kubectl 1.32 against an apiserver run with --authorization-mode=Node,RBAC: several
identities (static tokens), namespaced Roles, can-i (--list, --as), escalation attempts, the Node authorizer,
the default policy (discovery and health stay reachable; reconciled at start without undoing edits), and the
controller-manager and scheduler working under their own identities."""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from apiserver.authz.bootstrap_policy import cluster_roles
from tests.support.apiserver_cluster import BIN, ApiserverCluster
from tests.support.names import unique_prefix
from tests.support.ports import free_port
from tests.support.processes import Processes
from tinykube.certs_cmd import component_kubeconfig

TOKENS = {
    "jane": ("jane-token", "jane", '"devs"'),
    "bob": ("bob-token", "bob", '""'),
    "n1": ("node1-token", "system:node:n1", '"system:nodes"'),
    "n2": ("node2-token", "system:node:n2", '"system:nodes"'),
}
MANAGER_CONTROLLERS = "clusterrole-aggregation,namespace,serviceaccount,garbagecollector"
"""Run under the controller-manager's own identity: aggregation for the default roles, and controllers
whose reach (every namespaced resource) tests the per-controller roles."""
LAST_DEFAULT = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system:controller:certificate-controller"


class Identities:
    """The cluster plus one kubeconfig per static-token identity; kubectl with a per-test cache dir."""

    def __init__(self, cluster: ApiserverCluster, root: Path) -> None:
        self.cluster = cluster
        self.root = root
        self.configs: dict[str, Path] = {}
        base = yaml.safe_load(cluster.apiservers[0].kubeconfig.read_text())
        for who, (token, _, _) in TOKENS.items():
            config = json.loads(json.dumps(base))
            config["users"][0]["user"] = {"token": token}
            path = root / f"{who}.kubeconfig"
            path.write_text(yaml.safe_dump(config))
            self.configs[who] = path

    def kubectl(self, who: str, *args: str, stdin: str | None = None, check: bool = True) -> tuple[int, str, str]:
        """kubectl as `who` ("admin" for the cluster admin)."""
        extra = ["--kubeconfig", str(self.configs[who])] if who != "admin" else []
        result = self.cluster.kubectl(
            *extra, "--cache-dir", str(self.root / f"cache-{who}"), *args, stdin=stdin, check=check
        )
        return result.returncode, result.stdout, result.stderr

    def raw(self, who: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """The HTTP code and body of a GET as `who` (anything not in TOKENS: anonymous)."""
        ctx = ssl.create_default_context(cafile=str(self.cluster.pki / "ca.crt"))
        sent = {**({"Authorization": f"Bearer {TOKENS[who][0]}"} if who in TOKENS else {}), **(headers or {})}
        req = urllib.request.Request(self.cluster.apiservers[0].url + path, headers=sent)
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
                return int(resp.status), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()


@pytest.fixture(scope="module")
def ids(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Identities]:
    root = tmp_path_factory.mktemp("rbac")
    tokens = root / "tokens.csv"
    tokens.write_text("".join(f"{t},{user},uid-{user},{groups}\n" for t, user, groups in TOKENS.values()))
    procs = Processes(root / "logs")
    try:
        cluster = ApiserverCluster(procs, free_port, root, apiservers=0)
        cluster.start()
        cluster.add_apiserver("apiserver1", "--authorization-mode=Node,RBAC", "--token-auth-file", str(tokens))
        deadline = time.monotonic() + 60
        while cluster.request("GET", LAST_DEFAULT)[0] != 200:
            assert time.monotonic() < deadline, procs.log("apiserver1")[-3000:]
            time.sleep(0.2)
        manager = component_kubeconfig(
            cluster.pki,
            "kcm",
            user="system:kube-controller-manager",
            server=cluster.apiservers[0].url,
            cluster="tinykube",
        )
        procs.start(
            "controller-manager",
            [
                str(BIN / "tinykube"),
                "controller-manager",
                "--kubeconfig",
                str(manager),
                "--secure-port",
                "0",
                "--root-ca-file",
                str(cluster.pki / "ca.crt"),
                "--controllers",
                MANAGER_CONTROLLERS,
                "--leader-elect=false",
            ],
        )
        scheduler = component_kubeconfig(
            cluster.pki, "scheduler", user="system:kube-scheduler", server=cluster.apiservers[0].url, cluster="tinykube"
        )
        procs.start(
            "scheduler",
            [
                str(BIN / "tinykube"),
                "scheduler",
                "--kubeconfig",
                str(scheduler),
                "--secure-port",
                "0",
                "--leader-elect=true",
            ],
        )
        yield Identities(cluster, root)
        for component in ("controller-manager", "scheduler"):
            assert "Forbidden" not in procs.log(component), procs.log(component)[-3000:]
    finally:
        procs.stop_all()


@pytest.fixture
def ns(ids: Identities) -> Iterator[str]:
    name = unique_prefix().lower().replace("_", "-")[:40].strip("-")
    ids.kubectl("admin", "create", "namespace", name)
    ids.kubectl("admin", "create", "serviceaccount", "default", "-n", name, check=False)
    try:
        yield name
    finally:
        ids.kubectl("admin", "delete", "namespace", name, "--wait=false")


def test_namespaced_role_grants_what_it_says_and_403_elsewhere(ids: Identities, ns: str) -> None:
    ids.kubectl("admin", "create", "role", "pod-reader", "-n", ns, "--verb=get,list,watch", "--resource=pods")
    ids.kubectl("admin", "create", "rolebinding", "jane-reads", "-n", ns, "--role=pod-reader", "--user=jane")
    code, _, _ = ids.kubectl("jane", "get", "pods", "-n", ns)
    assert code == 0
    code, _, err = ids.kubectl("jane", "get", "pods", "-n", "default", check=False)
    assert code == 1
    assert err.strip() == (
        'Error from server (Forbidden): pods is forbidden: User "jane" cannot list resource '
        '"pods" in API group "" in the namespace "default"'
    )
    code, _, err = ids.kubectl("jane", "get", "secrets", "-n", ns, check=False)
    assert code == 1 and 'cannot list resource "secrets"' in err
    code, _, err = ids.kubectl("jane", "run", "x", "--image=busybox", "-n", ns, check=False)
    assert code == 1 and 'cannot create resource "pods"' in err
    code, _, err = ids.kubectl("bob", "get", "pods", "-n", ns, check=False)
    assert code == 1 and 'User "bob" cannot list' in err
    code, _, err = ids.kubectl("jane", "get", "nodes", check=False)
    assert code == 1 and 'cannot list resource "nodes" in API group "" at the cluster scope' in err


def test_can_i_list_matches_the_rules_and_as_works_for_cluster_admin(ids: Identities, ns: str) -> None:
    ids.kubectl(
        "admin",
        "create",
        "role",
        "cm-editor",
        "-n",
        ns,
        "--verb=get,create",
        "--resource=configmaps",
        "--resource-name=settings",
    )
    ids.kubectl("admin", "create", "rolebinding", "devs-edit", "-n", ns, "--role=cm-editor", "--group=devs")
    _, out, _ = ids.kubectl("jane", "auth", "can-i", "--list", "-n", ns)
    rows = [line.split() for line in out.splitlines()[1:]]
    assert ["configmaps", "[]", "[settings]", "[get", "create]"] in rows
    assert ["selfsubjectaccessreviews.authorization.k8s.io", "[]", "[]", "[create]"] in rows
    assert not any(r[0] == "pods" for r in rows)
    assert ids.kubectl("jane", "auth", "can-i", "get", "configmaps/settings", "-n", ns)[1].strip() == "yes"
    assert ids.kubectl("jane", "auth", "can-i", "get", "configmaps/other", "-n", ns, check=False)[1].strip() == "no"
    assert (
        ids.kubectl(
            "admin", "auth", "can-i", "create", "configmaps/settings", "-n", ns, "--as", "jane", "--as-group", "devs"
        )[1].strip()
        == "yes"
    )
    assert (
        ids.kubectl("admin", "auth", "can-i", "get", "configmaps/settings", "-n", ns, "--as", "bob", check=False)[
            1
        ].strip()
        == "no"
    )
    assert ids.kubectl("admin", "auth", "can-i", "delete", "nodes")[1].strip() == "yes"
    code, _, err = ids.kubectl("admin", "get", "configmaps", "-n", ns, "--as", "bob", check=False)
    assert code == 1 and 'User "bob" cannot list resource "configmaps"' in err
    # With a cold discovery cache kubectl reports its failed discovery as "Forbidden: unknown"; the Status says who.
    code, _, err = ids.kubectl("bob", "get", "pods", "--as", "jane", check=False)
    assert code == 1 and "Forbidden" in err
    code, body = ids.raw("bob", "/api/v1/namespaces/default/pods", {"Impersonate-User": "jane"})
    assert code == 403
    assert json.loads(body)["message"] == (
        'users "jane" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope'
    )


def test_escalation_attempts_fail(ids: Identities, ns: str) -> None:
    ids.kubectl(
        "admin",
        "create",
        "role",
        "rbac-manager",
        "-n",
        ns,
        "--verb=get,list,create,update",
        "--resource=roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io,pods",
    )
    ids.kubectl("admin", "create", "rolebinding", "jane-manages", "-n", ns, "--role=rbac-manager", "--user=jane")
    code, _, err = ids.kubectl(
        "jane", "create", "role", "secret-reader", "-n", ns, "--verb=get", "--resource=secrets", check=False
    )
    assert code == 1
    assert (
        'roles.rbac.authorization.k8s.io "secret-reader" is forbidden: user "jane" (groups=["devs" '
        '"system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}'
    ) in err
    ids.kubectl("jane", "create", "role", "pod-getter", "-n", ns, "--verb=get", "--resource=pods")
    ids.kubectl("jane", "create", "rolebinding", "bob-gets", "-n", ns, "--role=pod-getter", "--user=bob")
    wait_until(
        "the aggregation controller fills ClusterRole admin",
        lambda: ids.cluster.request("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin")[1].get("rules"),
    )
    code, _, err = ids.kubectl(
        "jane", "create", "rolebinding", "bob-admin", "-n", ns, "--clusterrole=admin", "--user=bob", check=False
    )
    assert code == 1 and 'rolebindings.rbac.authorization.k8s.io "bob-admin" is forbidden' in err
    code, _, err = ids.kubectl("jane", "create", "clusterrole", "mine", "--verb=get", "--resource=pods", check=False)
    assert code == 1 and 'cannot create resource "clusterroles"' in err
    ids.kubectl(
        "admin",
        "create",
        "role",
        "may-bind-view",
        "-n",
        ns,
        "--verb=bind",
        "--resource=clusterroles.rbac.authorization.k8s.io",
        "--resource-name=view",
    )
    ids.kubectl("admin", "create", "rolebinding", "jane-binds", "-n", ns, "--role=may-bind-view", "--user=jane")
    ids.kubectl("jane", "create", "rolebinding", "bob-views", "-n", ns, "--clusterrole=view", "--user=bob")
    assert ids.kubectl("bob", "auth", "can-i", "list", "deployments.apps", "-n", ns)[1].strip() == "yes"


def wait_until(what: str, check: Callable[[], object], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.2)


def pod_manifest(ns: str, name: str, node: str, secret: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "nodeName": node,
                "containers": [{"name": "c", "image": "busybox", "envFrom": [{"secretRef": {"name": secret}}]}],
            },
        }
    )


def test_node_reads_only_its_own_pods_secrets(ids: Identities, ns: str) -> None:
    for node, secret in (("n1", "s1"), ("n2", "s2")):
        ids.kubectl("admin", "create", "secret", "generic", secret, "-n", ns, "--from-literal=k=v")
        ids.kubectl("admin", "apply", "-f", "-", stdin=pod_manifest(ns, f"pod-{node}", node, secret))
    deadline = time.monotonic() + 30
    while ids.kubectl("n1", "get", "secret", "s1", "-n", ns, check=False)[0] != 0:
        assert time.monotonic() < deadline, "the node graph never saw pod-n1"
        time.sleep(0.2)
    code, _, err = ids.kubectl("n1", "get", "secret", "s2", "-n", ns, check=False)
    assert code == 1
    assert err.strip() == (
        'Error from server (Forbidden): secrets "s2" is forbidden: User "system:node:n1" cannot '
        f'get resource "secrets" in API group "" in the namespace "{ns}": '
        "no relationship found between node 'n1' and this object"
    )
    assert ids.kubectl("n2", "get", "secret", "s2", "-n", ns)[0] == 0
    assert ids.kubectl("n1", "get", "secrets", "-n", ns, check=False)[0] == 1
    assert ids.kubectl("n1", "get", "pods", "-n", ns, "--field-selector=spec.nodeName=n1")[0] == 0
    assert ids.kubectl("n1", "get", "pod", "pod-n2", "-n", ns, check=False)[0] == 1
    ids.kubectl("admin", "delete", "pod", "pod-n1", "-n", ns, "--grace-period=0", "--force")
    deadline = time.monotonic() + 30
    while ids.kubectl("n1", "get", "secret", "s1", "-n", ns, check=False)[0] == 0:
        assert time.monotonic() < deadline, "the node graph kept pod-n1 after its deletion"
        time.sleep(0.2)


def test_discovery_health_and_version_stay_reachable(ids: Identities) -> None:
    assert ids.raw("anonymous", "/version")[0] == 200
    assert ids.raw("anonymous", "/healthz")[0] == 200
    assert ids.raw("anonymous", "/readyz")[0] == 200
    assert ids.raw("anonymous", "/api")[0] == 401
    assert ids.raw("bob", "/api")[0] == 200 and ids.raw("bob", "/apis/apps/v1")[0] == 200
    code, body = ids.raw("bob", "/metrics")
    assert code == 403 and json.loads(body)["message"] == 'forbidden: User "bob" cannot get path "/metrics"'
    code, out, _ = ids.kubectl("bob", "api-resources", "--api-group=apps")
    assert code == 0 and "deployments" in out
    assert "Server Version" in ids.kubectl("bob", "version")[1]


def test_aggregated_default_roles_and_subject_access_review(ids: Identities, ns: str) -> None:
    body = json.dumps(
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": "system:kube-scheduler",
                "resourceAttributes": {"verb": "create", "resource": "pods", "subresource": "binding", "namespace": ns},
            },
        }
    ).encode()
    code, review = ids.cluster.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body)
    assert code == 201 and review["status"]["allowed"] is True
    assert 'ClusterRole "system:kube-scheduler"' in review["status"]["reason"]
    _, edit = ids.cluster.request("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/edit")
    assert edit["aggregationRule"]["clusterRoleSelectors"] == [
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}}
    ]


def test_scheduler_binds_under_its_own_identity(ids: Identities, ns: str) -> None:
    node = f"{ns}-node"
    ids.kubectl(
        "admin",
        "apply",
        "-f",
        "-",
        stdin=yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": node},
                "status": {
                    "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                    "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                    "conditions": [{"type": "Ready", "status": "True"}],
                },
            }
        ),
    )
    try:
        ids.kubectl("admin", "run", "sched", "--image=busybox", "-n", ns)
        wait_until(
            "the scheduler binds the pod",
            lambda: ids.kubectl("admin", "get", "pod", "sched", "-n", ns, "-o", "jsonpath={.spec.nodeName}")[1] == node,
        )
    finally:
        ids.kubectl("admin", "delete", "node", node)


def test_policy_reconcile_at_start_keeps_what_administrators_changed(ids: Identities) -> None:
    roles = "/apis/rbac.authorization.k8s.io/v1/clusterroles/"
    frozen = "rbac.authorization.kubernetes.io/autoupdate=false"
    no_rules = '[{"op": "replace", "path": "/rules", "value": []}]'
    ids.kubectl("admin", "annotate", "clusterrole", "system:monitoring", frozen, "--overwrite")
    ids.kubectl("admin", "patch", "clusterrole", "system:monitoring", "--type=json", "-p", no_rules)
    ids.kubectl("admin", "patch", "clusterrole", "system:public-info-viewer", "--type=json", "-p", no_rules)
    ids.kubectl("admin", "label", "clusterrole", "system:discovery", "site=ours")
    try:
        restarted = ids.cluster.add_apiserver(
            f"apiserver{len(ids.cluster.apiservers) + 1}",
            "--authorization-mode=Node,RBAC",
            "--token-auth-file",
            str(ids.root / "tokens.csv"),
        )
        index = ids.cluster.apiservers.index(restarted)
        wait_until(
            "the new apiserver restores system:public-info-viewer",
            lambda: ids.cluster.request("GET", roles + "system:public-info-viewer", server=index)[1].get("rules"),
        )
        assert ids.cluster.request("GET", roles + "system:monitoring")[1]["rules"] == []
        discovery = ids.cluster.request("GET", roles + "system:discovery")[1]
        assert discovery["metadata"]["labels"]["site"] == "ours" and discovery["rules"]
    finally:
        ids.kubectl("admin", "label", "clusterrole", "system:discovery", "site-")
        ids.kubectl(
            "admin", "annotate", "clusterrole", "system:monitoring", frozen.replace("false", "true"), "--overwrite"
        )
        rules = next(r for r in cluster_roles() if r["metadata"]["name"] == "system:monitoring")["rules"]
        restore = json.dumps([{"op": "replace", "path": "/rules", "value": rules}])
        ids.kubectl("admin", "patch", "clusterrole", "system:monitoring", "--type=json", "-p", restore)
