"""The default ClusterRoles and ClusterRoleBindings every apiserver reconciles at start, after Kubernetes'
bootstrappolicy (v1.32), limited to what tinykube's components do.

Differences, on purpose: our controller-manager runs every controller under its own identity (it has no
--use-service-account-credentials), so each `system:controller:*` binding names the user
`system:kube-controller-manager` besides the controller's ServiceAccount; the addon roles kubeadm and the
flannel manifest install (`system:coredns`, `flannel`) are part of the policy because tinykube ships
those components; flannel's role may patch Nodes (our overlay daemon writes its annotations on the Node);
`system:node-proxier` may also list and watch pods, namespaces and NetworkPolicies (our proxy enforces
NetworkPolicy too).
"""

from __future__ import annotations

from api.schema import JSON

READ = ("get", "list", "watch")
WRITE = ("create", "delete", "deletecollection", "patch", "update")
READ_WRITE = (*READ, *WRITE)
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAP_LABEL = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"
CORE, APPS, BATCH, RBAC = "", "apps", "batch", "rbac.authorization.k8s.io"
AUTHN, AUTHZ, CERTS = "authentication.k8s.io", "authorization.k8s.io", "certificates.k8s.io"
COORD, DISCOVERY, POLICY, NETWORKING = "coordination.k8s.io", "discovery.k8s.io", "policy", "networking.k8s.io"
STORAGE, AUTOSCALING, EVENTS, EXTENSIONS = "storage.k8s.io", "autoscaling", "events.k8s.io", "extensions"


def rule(
    verbs: tuple[str, ...] | str,
    groups: tuple[str, ...] | str,
    resources: tuple[str, ...] | str,
    names: tuple[str, ...] = (),
) -> dict[str, JSON]:
    """A resource PolicyRule (single strings allowed for one-element lists)."""

    def seq(v: tuple[str, ...] | str) -> list[JSON]:
        return [v] if isinstance(v, str) else list(v)

    out: dict[str, JSON] = {"verbs": seq(verbs), "apiGroups": seq(groups), "resources": seq(resources)}
    if names:
        out["resourceNames"] = list(names)
    return out


def urls(verbs: tuple[str, ...] | str, *paths: str) -> dict[str, JSON]:
    """A non-resource PolicyRule."""
    return {"verbs": [verbs] if isinstance(verbs, str) else list(verbs), "nonResourceURLs": list(paths)}


EVENTS_RULE = rule(("create", "update", "patch"), (CORE, EVENTS), "events")
DELEGATION = [rule("create", AUTHN, "tokenreviews"), rule("create", AUTHZ, "subjectaccessreviews")]


def _role(
    name: str, rules: list[dict[str, JSON]], *, labels: dict[str, str] | None = None, aggregate_from: str = ""
) -> dict[str, JSON]:
    obj: dict[str, JSON] = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": name,
            "labels": {**BOOTSTRAP_LABEL, **(labels or {})},
            "annotations": {AUTOUPDATE: "true"},
        },
        "rules": rules,
    }
    if aggregate_from:
        obj["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {AGGREGATE + aggregate_from: "true"}}]}
    return obj


def _binding(name: str, role: str, *subjects: tuple[str, str]) -> dict[str, JSON]:
    """`subjects`: (kind, name), a ServiceAccount as ("ServiceAccount", "namespace/name")."""
    out: list[JSON] = []
    for kind, subject in subjects:
        if kind == "ServiceAccount":
            ns, _, sa = subject.partition("/")
            out.append({"kind": kind, "name": sa, "namespace": ns})
        else:
            out.append({"kind": kind, "apiGroup": RBAC, "name": subject})
    obj: dict[str, JSON] = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": dict(BOOTSTRAP_LABEL), "annotations": {AUTOUPDATE: "true"}},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
    }
    if out:
        obj["subjects"] = out
    return obj


NODE_RULES: list[dict[str, JSON]] = [
    *DELEGATION,
    rule("create", AUTHZ, "localsubjectaccessreviews"),
    rule(READ, CORE, "services"),
    rule(("create", "get", "list", "watch", "patch", "update", "delete"), CORE, "nodes"),
    rule(("patch", "update"), CORE, "nodes/status"),
    EVENTS_RULE,
    rule(("get", "list", "watch", "create", "delete"), CORE, "pods"),
    rule(("update", "patch"), CORE, "pods/status"),
    rule("create", CORE, "pods/eviction"),
    rule(READ, CORE, ("secrets", "configmaps")),
    rule("get", CORE, ("persistentvolumeclaims", "persistentvolumes")),
    rule(("get", "update", "patch"), CORE, "persistentvolumeclaims/status"),
    rule(("create", "get", "list", "watch"), CERTS, "certificatesigningrequests"),
    rule(("get", "create", "update", "patch", "delete"), COORD, "leases"),
    rule("create", CORE, "serviceaccounts/token"),
    rule(READ, STORAGE, ("csidrivers", "csinodes", "volumeattachments")),
    rule(READ, "node.k8s.io", "runtimeclasses"),
]
"""system:node: what the Node authorizer lets a kubelet do outside its graph checks (Kubernetes' NodeRules)."""

VIEW_RULES = [
    rule(
        READ,
        CORE,
        (
            "pods",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "serviceaccounts",
            "services",
            "services/status",
            "endpoints",
            "persistentvolumeclaims",
            "persistentvolumeclaims/status",
            "configmaps",
        ),
    ),
    rule(
        READ,
        CORE,
        (
            "limitranges",
            "resourcequotas",
            "bindings",
            "events",
            "pods/status",
            "resourcequotas/status",
            "namespaces/status",
            "replicationcontrollers/status",
            "pods/log",
        ),
    ),
    rule(READ, CORE, "namespaces"),
    rule(READ, DISCOVERY, "endpointslices"),
    rule(
        READ,
        APPS,
        (
            "controllerrevisions",
            "statefulsets",
            "statefulsets/scale",
            "statefulsets/status",
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
        ),
    ),
    rule(READ, AUTOSCALING, ("horizontalpodautoscalers", "horizontalpodautoscalers/status")),
    rule(READ, BATCH, ("cronjobs", "cronjobs/status", "jobs", "jobs/status")),
    rule(READ, POLICY, ("poddisruptionbudgets", "poddisruptionbudgets/status")),
    rule(READ, NETWORKING, ("ingresses", "ingresses/status", "networkpolicies")),
]
EDIT_RULES = [
    rule(READ, CORE, ("pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets", "services/proxy")),
    rule("impersonate", CORE, "serviceaccounts"),
    rule(WRITE, CORE, ("pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward")),
    rule("create", CORE, "pods/eviction"),
    rule(
        WRITE,
        CORE,
        (
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "serviceaccounts",
            "services",
            "services/proxy",
            "persistentvolumeclaims",
            "configmaps",
            "secrets",
            "events",
        ),
    ),
    rule("create", CORE, "serviceaccounts/token"),
    rule(
        WRITE,
        APPS,
        (
            "statefulsets",
            "statefulsets/scale",
            "daemonsets",
            "deployments",
            "deployments/scale",
            "deployments/rollback",
            "replicasets",
            "replicasets/scale",
        ),
    ),
    rule(WRITE, AUTOSCALING, "horizontalpodautoscalers"),
    rule(WRITE, BATCH, ("cronjobs", "jobs")),
    rule(WRITE, POLICY, "poddisruptionbudgets"),
    rule(WRITE, NETWORKING, ("ingresses", "networkpolicies")),
    rule(READ_WRITE, COORD, "leases"),
]
ADMIN_RULES = [
    rule("create", AUTHZ, "localsubjectaccessreviews"),
    rule(READ_WRITE, RBAC, ("rolebindings", "roles")),
]

CONTROLLER_ROLES: dict[str, list[dict[str, JSON]]] = {
    "clusterrole-aggregation-controller": [
        rule(("escalate", "get", "list", "watch", "update", "patch"), RBAC, "clusterroles")
    ],
    "cronjob-controller": [
        rule(("get", "list", "watch", "update"), BATCH, "cronjobs"),
        rule(("get", "list", "watch", "create", "update", "delete", "patch"), BATCH, "jobs"),
        rule("update", BATCH, ("cronjobs/status", "cronjobs/finalizers")),
        rule(("list", "delete"), CORE, "pods"),
        EVENTS_RULE,
    ],
    "daemon-set-controller": [
        rule(READ, APPS, "daemonsets"),
        rule("update", APPS, ("daemonsets/status", "daemonsets/finalizers")),
        rule(("list", "watch"), CORE, "nodes"),
        rule(("list", "watch", "create", "delete", "patch"), CORE, "pods"),
        rule("create", CORE, "pods/binding"),
        rule(("get", "list", "watch", "create", "delete", "update", "patch"), APPS, "controllerrevisions"),
        EVENTS_RULE,
    ],
    "deployment-controller": [
        rule(("get", "list", "watch", "update"), APPS, "deployments"),
        rule("update", APPS, ("deployments/status", "deployments/finalizers")),
        rule(("get", "list", "watch", "create", "update", "patch", "delete"), APPS, "replicasets"),
        rule(("get", "list", "watch", "update"), CORE, "pods"),
        EVENTS_RULE,
    ],
    "disruption-controller": [
        rule(READ, APPS, ("deployments", "replicasets", "statefulsets")),
        rule(READ, CORE, "replicationcontrollers"),
        rule(READ, POLICY, "poddisruptionbudgets"),
        rule("update", POLICY, "poddisruptionbudgets/status"),
        rule("get", "*", "*/scale"),
        rule(("patch", "update"), CORE, "pods/status"),
        EVENTS_RULE,
    ],
    "endpoint-controller": [
        rule(READ, CORE, ("services", "pods", "nodes")),
        rule(("get", "list", "create", "update", "delete"), CORE, "endpoints"),
        rule("create", CORE, "endpoints/restricted"),
        EVENTS_RULE,
    ],
    "endpointslice-controller": [
        rule(READ, CORE, ("services", "pods", "nodes")),
        rule("update", CORE, "services/finalizers"),
        rule(("get", "list", "create", "update", "delete"), DISCOVERY, "endpointslices"),
        EVENTS_RULE,
    ],
    "generic-garbage-collector": [rule(("get", "list", "watch", "patch", "update", "delete"), "*", "*"), EVENTS_RULE],
    "horizontal-pod-autoscaler": [
        rule(READ, AUTOSCALING, "horizontalpodautoscalers"),
        rule("update", AUTOSCALING, "horizontalpodautoscalers/status"),
        rule(("get", "update"), "*", "*/scale"),
        rule("list", CORE, "pods"),
        rule("list", "metrics.k8s.io", "pods"),
        EVENTS_RULE,
    ],
    "job-controller": [
        rule(("get", "list", "watch", "update", "patch"), BATCH, "jobs"),
        rule(("update", "patch"), BATCH, "jobs/status"),
        rule("update", BATCH, "jobs/finalizers"),
        rule(("list", "watch", "create", "delete", "patch"), CORE, "pods"),
        EVENTS_RULE,
    ],
    "namespace-controller": [
        rule(("get", "list", "watch", "delete"), CORE, "namespaces"),
        rule("update", CORE, ("namespaces/finalize", "namespaces/status")),
        rule(("get", "list", "delete", "deletecollection"), "*", "*"),
    ],
    "node-controller": [
        rule(("get", "list", "watch", "update", "delete", "patch"), CORE, "nodes"),
        rule(("patch", "update"), CORE, "nodes/status"),
        rule(("list", "watch", "delete"), CORE, "pods"),
        rule("patch", CORE, "pods/status"),
        rule(READ, COORD, "leases"),
        EVENTS_RULE,
    ],
    "persistent-volume-binder": [
        rule(("get", "list", "watch", "update", "create", "delete"), CORE, "persistentvolumes"),
        rule("update", CORE, "persistentvolumes/status"),
        rule(("get", "list", "watch", "update"), CORE, "persistentvolumeclaims"),
        rule("update", CORE, "persistentvolumeclaims/status"),
        rule(("get", "list", "watch", "create", "delete"), CORE, "pods"),
        rule(READ, STORAGE, "storageclasses"),
        rule(READ, CORE, "nodes"),
        rule("get", CORE, "secrets"),
        EVENTS_RULE,
    ],
    "pod-garbage-collector": [
        rule(("list", "watch", "delete"), CORE, "pods"),
        rule(("get", "list"), CORE, "nodes"),
        rule("patch", CORE, "pods/status"),
    ],
    "replicaset-controller": [
        rule(("get", "list", "watch", "update"), APPS, "replicasets"),
        rule("update", APPS, ("replicasets/status", "replicasets/finalizers")),
        rule(("list", "watch", "patch", "create", "delete"), CORE, "pods"),
        EVENTS_RULE,
    ],
    "replication-controller": [
        rule(("get", "list", "watch", "update"), CORE, "replicationcontrollers"),
        rule("update", CORE, ("replicationcontrollers/status", "replicationcontrollers/finalizers")),
        rule(("list", "watch", "patch", "create", "delete"), CORE, "pods"),
        EVENTS_RULE,
    ],
    "resourcequota-controller": [
        rule(("list", "watch"), "*", "*"),
        rule("update", CORE, "resourcequotas/status"),
        EVENTS_RULE,
    ],
    "root-ca-cert-publisher": [rule(("create", "update"), CORE, "configmaps"), EVENTS_RULE],
    "service-account-controller": [rule("create", CORE, "serviceaccounts"), EVENTS_RULE],
    "statefulset-controller": [
        rule(("list", "watch"), CORE, "pods"),
        rule(READ, APPS, "statefulsets"),
        rule("update", APPS, ("statefulsets/status", "statefulsets/finalizers")),
        rule(("get", "create", "delete", "update", "patch"), CORE, "pods"),
        rule(("get", "create", "delete", "update", "patch", "list", "watch"), APPS, "controllerrevisions"),
        rule(("get", "create"), CORE, "persistentvolumeclaims"),
        EVENTS_RULE,
    ],
    "ttl-after-finished-controller": [rule(("get", "list", "watch", "delete"), BATCH, "jobs"), EVENTS_RULE],
    "certificate-controller": [
        rule(("get", "list", "watch", "delete"), CERTS, "certificatesigningrequests"),
        rule("update", CERTS, ("certificatesigningrequests/status", "certificatesigningrequests/approval")),
        rule(
            ("approve", "sign"),
            CERTS,
            "signers",
            (
                "kubernetes.io/kube-apiserver-client",
                "kubernetes.io/kube-apiserver-client-kubelet",
                "kubernetes.io/kubelet-serving",
                "kubernetes.io/legacy-unknown",
            ),
        ),
        rule("create", AUTHZ, "subjectaccessreviews"),
        EVENTS_RULE,
    ],
}
"""`system:controller:<name>` roles for the controllers tinykube's controller-manager runs."""

APPROVERS = {
    "kube-apiserver-client-approver": "kubernetes.io/kube-apiserver-client",
    "kube-apiserver-client-kubelet-approver": "kubernetes.io/kube-apiserver-client-kubelet",
    "kubelet-serving-approver": "kubernetes.io/kubelet-serving",
    "legacy-unknown-approver": "kubernetes.io/legacy-unknown",
}


def cluster_roles() -> list[dict[str, JSON]]:
    """Every default ClusterRole."""
    public_info = ("/healthz", "/livez", "/readyz", "/version", "/version/")
    roles = [
        _role("cluster-admin", [rule("*", "*", "*"), urls("*", "*")]),
        _role(
            "system:discovery",
            [
                urls(
                    "get",
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                    "/healthz",
                    "/livez",
                    "/openapi",
                    "/openapi/*",
                    "/readyz",
                    "/version",
                    "/version/",
                )
            ],
        ),
        _role(
            "system:monitoring",
            [
                urls(
                    "get",
                    "/healthz",
                    "/healthz/*",
                    "/livez",
                    "/livez/*",
                    "/metrics",
                    "/metrics/slis",
                    "/readyz",
                    "/readyz/*",
                )
            ],
        ),
        _role(
            "system:basic-user",
            [
                rule("create", AUTHZ, ("selfsubjectaccessreviews", "selfsubjectrulesreviews")),
                rule("create", AUTHN, "selfsubjectreviews"),
            ],
        ),
        _role("system:public-info-viewer", [urls("get", *public_info)]),
        _role("admin", [], aggregate_from="admin"),
        _role("edit", [], labels={AGGREGATE + "admin": "true"}, aggregate_from="edit"),
        _role("view", [], labels={AGGREGATE + "edit": "true"}, aggregate_from="view"),
        _role("system:aggregate-to-admin", ADMIN_RULES, labels={AGGREGATE + "admin": "true"}),
        _role("system:aggregate-to-edit", EDIT_RULES, labels={AGGREGATE + "edit": "true"}),
        _role("system:aggregate-to-view", VIEW_RULES, labels={AGGREGATE + "view": "true"}),
        _role("system:node", NODE_RULES),
        _role(
            "system:node-proxier",
            [
                rule(("list", "watch"), CORE, ("services", "endpoints")),
                rule(READ, CORE, "nodes"),
                EVENTS_RULE,
                rule(("list", "watch"), DISCOVERY, "endpointslices"),
                rule(("list", "watch"), NETWORKING, "networkpolicies"),
                rule(("list", "watch"), CORE, ("pods", "namespaces")),
            ],
        ),
        _role(
            "system:node-bootstrapper", [rule(("create", "get", "list", "watch"), CERTS, "certificatesigningrequests")]
        ),
        _role("system:auth-delegator", list(DELEGATION)),
        _role(
            "system:kubelet-api-admin",
            [
                rule(("get", "list", "watch"), CORE, "nodes"),
                rule("proxy", CORE, "nodes"),
                rule("*", CORE, ("nodes/proxy", "nodes/log", "nodes/stats", "nodes/metrics", "nodes/spec")),
            ],
        ),
        _role(
            "system:kube-scheduler",
            [
                EVENTS_RULE,
                rule("create", COORD, "leases"),
                rule(("get", "update"), COORD, "leases", ("kube-scheduler",)),
                rule(READ, CORE, "nodes"),
                rule((*READ, "delete"), CORE, "pods"),
                rule("create", CORE, ("pods/binding", "bindings")),
                rule(("patch", "update"), CORE, "pods/status"),
                rule(
                    READ,
                    CORE,
                    ("replicationcontrollers", "services", "namespaces", "persistentvolumeclaims", "persistentvolumes"),
                ),
                rule(READ, APPS, ("replicasets", "statefulsets")),
                rule(READ, POLICY, "poddisruptionbudgets"),
                *DELEGATION,
                rule(READ, STORAGE, ("csinodes", "csidrivers", "csistoragecapacities", "storageclasses")),
                rule(READ, "scheduling.k8s.io", "priorityclasses"),
            ],
        ),
        _role(
            "system:volume-scheduler",
            [
                rule(
                    ("get", "list", "patch", "update", "watch"), CORE, ("persistentvolumes", "persistentvolumeclaims")
                ),
                rule(READ, STORAGE, "storageclasses"),
            ],
        ),
        _role(
            "system:kube-controller-manager",
            [
                EVENTS_RULE,
                rule("create", COORD, "leases"),
                rule(("get", "update"), COORD, "leases", ("kube-controller-manager",)),
                rule("create", CORE, ("secrets", "serviceaccounts")),
                rule("delete", CORE, "secrets"),
                rule("get", CORE, ("namespaces", "secrets", "serviceaccounts")),
                rule("update", CORE, ("secrets", "serviceaccounts")),
                rule("create", CORE, "serviceaccounts/token"),
                *DELEGATION,
                rule(("list", "watch"), "*", "*"),
            ],
        ),
        _role("system:kube-dns", [rule(("list", "watch"), CORE, ("endpoints", "services"))]),
        _role(
            "system:coredns",
            [
                rule(("list", "watch"), CORE, ("endpoints", "services", "pods", "namespaces")),
                rule(("list", "watch"), DISCOVERY, "endpointslices"),
            ],
        ),
        _role(
            "flannel",
            [rule("get", CORE, "pods"), rule(READ, CORE, "nodes"), rule("patch", CORE, ("nodes", "nodes/status"))],
        ),
        _role(
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            [rule("create", CERTS, "certificatesigningrequests/nodeclient")],
        ),
        _role(
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            [rule("create", CERTS, "certificatesigningrequests/selfnodeclient")],
        ),
    ]
    roles += [
        _role(f"system:certificates.k8s.io:{name}", [rule("approve", CERTS, "signers", (signer,))])
        for name, signer in APPROVERS.items()
    ]
    roles += [_role(f"system:controller:{name}", rules) for name, rules in CONTROLLER_ROLES.items()]
    return roles


def cluster_role_bindings() -> list[dict[str, JSON]]:
    """Every default ClusterRoleBinding."""
    kcm = ("User", "system:kube-controller-manager")
    return [
        _binding("cluster-admin", "cluster-admin", ("Group", "system:masters")),
        _binding("system:discovery", "system:discovery", ("Group", "system:authenticated")),
        _binding("system:basic-user", "system:basic-user", ("Group", "system:authenticated")),
        _binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            ("Group", "system:authenticated"),
            ("Group", "system:unauthenticated"),
        ),
        _binding("system:monitoring", "system:monitoring", ("Group", "system:monitoring")),
        # Nodes get their rights from the Node authorizer; the binding exists without subjects, as upstream.
        _binding("system:node", "system:node"),
        _binding("system:node-proxier", "system:node-proxier", ("User", "system:kube-proxy")),
        _binding("system:kube-controller-manager", "system:kube-controller-manager", kcm),
        _binding("system:kube-scheduler", "system:kube-scheduler", ("User", "system:kube-scheduler")),
        _binding("system:volume-scheduler", "system:volume-scheduler", ("User", "system:kube-scheduler")),
        _binding("system:kube-dns", "system:kube-dns", ("ServiceAccount", "kube-system/kube-dns")),
        _binding("system:coredns", "system:coredns", ("ServiceAccount", "kube-system/coredns")),
        _binding("flannel", "flannel", ("ServiceAccount", "kube-system/flannel")),
        _binding("system:node-bootstrapper", "system:node-bootstrapper", ("Group", "system:bootstrappers")),
        _binding(
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            ("Group", "system:bootstrappers"),
        ),
        _binding(
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            ("Group", "system:nodes"),
        ),
        *(
            _binding(
                f"system:controller:{name}", f"system:controller:{name}", ("ServiceAccount", f"kube-system/{name}"), kcm
            )
            for name in CONTROLLER_ROLES
        ),
    ]
