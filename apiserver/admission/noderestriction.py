"""NodeRestriction: a kubelet (user `system:node:<name>` in group `system:nodes`) writes only what is its own:
its Node (without touching restricted labels or its taints), mirror pods bound to it, the status of pods
bound to it, and its Lease in kube-node-lease.

Runs on the User the authenticator put on the request; requests from anyone else pass untouched.
"""

from __future__ import annotations

from api.schema import JSON
from apiserver.admission.request import CREATE, DELETE, UPDATE, Request
from apiserver.admission.serviceaccount import is_mirror
from apiserver.auth import User

NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
LEASE_NAMESPACE = "kube-node-lease"
ALLOWED_LABELS = frozenset(
    {
        "kubernetes.io/hostname",
        "kubernetes.io/arch",
        "kubernetes.io/os",
        "beta.kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "beta.kubernetes.io/instance-type",
        "node.kubernetes.io/instance-type",
        "failure-domain.beta.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "topology.kubernetes.io/zone",
    }
)
ALLOWED_LABEL_DOMAINS = ("kubelet.kubernetes.io", "node.kubernetes.io")
RESTRICTED_DOMAINS = ("kubernetes.io", "k8s.io")


def node_name(user: User | None) -> str | None:
    """The node a user speaks for, or None if it is not a node identity."""
    if user is None or not user.name.startswith(NODE_USER_PREFIX) or NODES_GROUP not in user.groups:
        return None
    return user.name[len(NODE_USER_PREFIX) :] or None


def label_forbidden(key: str) -> bool:
    """Whether a kubelet may not set or change this label on its own Node (Kubernetes' kubelet label rules)."""
    if key in ALLOWED_LABELS:
        return False
    domain = key.split("/", 1)[0] if "/" in key else ""
    if domain.startswith("node-restriction.kubernetes.io"):
        return True
    if any(domain == d or domain.endswith("." + d) for d in ALLOWED_LABEL_DOMAINS):
        return False
    return any(domain == d or domain.endswith("." + d) for d in RESTRICTED_DOMAINS)


def _labels(obj: dict[str, JSON] | None) -> dict[str, JSON]:
    return dict(((obj or {}).get("metadata") or {}).get("labels") or {})


def _bound_node(obj: dict[str, JSON] | None) -> str:
    return str(((obj or {}).get("spec") or {}).get("nodeName") or "")


class NodeRestriction:
    """Limits node identities to their own objects."""

    async def validate(self, req: Request) -> None:
        """Refuse a node's write to anything that is not its own."""
        node = node_name(req.user)
        if node is None:
            return
        res = req.resource
        if (res.group, res.kind) == ("", "Pod"):
            self._pod(req, node)
        elif (res.group, res.kind) == ("", "Node"):
            self._node(req, node)
        elif (res.group, res.kind, req.namespace) == ("coordination.k8s.io", "Lease", LEASE_NAMESPACE) and (
            req.name != node
        ):
            raise req.forbidden(f'node "{node}" is not allowed to modify lease "{req.namespace}/{req.name}"')

    @staticmethod
    def _pod(req: Request, node: str) -> None:
        if req.operation == CREATE and not req.subresource:
            pod = req.obj or {}
            if not is_mirror(pod):
                raise req.forbidden(
                    f'pod does not have "kubernetes.io/config.mirror" annotation, node "{node}" can only create '
                    "mirror pods"
                )
            if _bound_node(pod) != node:
                raise req.forbidden(f'node "{node}" can only create pods with spec.nodeName set to itself')
            for owner in (pod.get("metadata") or {}).get("ownerReferences") or []:
                if owner.get("kind") != "Node" or owner.get("name") != node:
                    raise req.forbidden(f'node "{node}" can only create pods with an owner reference set to itself')
            return
        if req.operation == CREATE and req.subresource == "eviction":
            if _bound_node(req.old) != node:
                raise req.forbidden(f'node "{node}" can only evict pods with spec.nodeName set to itself')
            return
        if req.operation == UPDATE and req.subresource != "status":
            raise req.forbidden(f'node "{node}" can only update pod status')
        if _bound_node(req.old) != node:
            action = "delete" if req.operation == DELETE else "update"
            raise req.forbidden(f'node "{node}" can only {action} pods with spec.nodeName set to itself')

    @staticmethod
    def _node(req: Request, node: str) -> None:
        if req.name != node:
            raise req.forbidden(f'node "{node}" is not allowed to modify node "{req.name}"')
        if req.operation == CREATE:
            bad = sorted(k for k in _labels(req.obj) if label_forbidden(k))
            if bad:
                raise req.forbidden(f'node "{node}" is not allowed to set the following labels: {", ".join(bad)}')
        elif req.operation == UPDATE:
            old, new = _labels(req.old), _labels(req.obj)
            changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k) and label_forbidden(k))
            if changed:
                raise req.forbidden(f'node "{node}" is not allowed to modify labels: {", ".join(changed)}')
            if req.subresource == "" and ((req.obj or {}).get("spec") or {}).get("taints") != (
                (req.old or {}).get("spec") or {}
            ).get("taints"):
                raise req.forbidden(f'node "{node}" is not allowed to modify taints')
