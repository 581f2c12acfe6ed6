"""ServiceAccount: every pod runs as an existing ServiceAccount and, unless it or its account opts out, gets
the API credentials volume `kube-api-access-<suffix>` (a bound token, the cluster CA, its namespace).

Mirror pods (the kubelet's copies of static pods) may not use accounts or API objects at all.
"""

from __future__ import annotations

import secrets

from api.schema import JSON
from apiserver.admission.lookup import SERVICE_ACCOUNTS, Lookup
from apiserver.admission.request import CREATE, Request

DEFAULT_ACCOUNT = "default"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_PREFIX = "kube-api-access-"
TOKEN_SECONDS = 3607
ROOT_CA = "kube-root-ca.crt"
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def is_mirror(pod: dict[str, JSON]) -> bool:
    """Whether the pod is a mirror pod (created by a kubelet for a static pod)."""
    return MIRROR_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {})


def api_access_volume(name: str) -> dict[str, JSON]:
    """The projected volume kube-apiserver injects: token, CA bundle and namespace."""
    return {
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_SECONDS, "path": "token"}},
                {"configMap": {"name": ROOT_CA, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {
                    "downwardAPI": {
                        "items": [
                            {"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}
                        ]
                    }
                },
            ],
        },
    }


class ServiceAccount:
    """Defaults `serviceAccountName`, checks the account exists, mounts its token where wanted."""

    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup

    async def mutate(self, req: Request) -> None:
        """Admit a new pod."""
        if req.operation != CREATE or not req.is_kind("", "Pod") or req.obj is None:
            return
        pod = req.obj
        spec = pod.setdefault("spec", {})
        if is_mirror(pod):
            self._check_mirror(req, spec)
            return
        name = str(spec.get("serviceAccountName") or spec.get("serviceAccount") or DEFAULT_ACCOUNT)
        spec["serviceAccountName"] = name
        account = await self.lookup.get(f"{SERVICE_ACCOUNTS}{req.namespace}/", name)
        if account is None:
            raise req.forbidden(
                f'error looking up service account {req.namespace}/{name}: serviceaccount "{name}" not found'
            )
        automount = spec.get("automountServiceAccountToken")
        if automount is None:
            automount = account.get("automountServiceAccountToken")
        if automount is not False:
            self._mount_token(spec)
        if not spec.get("imagePullSecrets") and account.get("imagePullSecrets"):
            spec["imagePullSecrets"] = [{"name": s.get("name")} for s in account["imagePullSecrets"]]

    @staticmethod
    def _check_mirror(req: Request, spec: dict[str, JSON]) -> None:
        if spec.get("serviceAccountName") or spec.get("serviceAccount"):
            raise req.forbidden("a mirror pod may not reference service accounts")
        for volume in spec.get("volumes") or []:
            if "secret" in volume:
                raise req.forbidden(f"a mirror pod may not reference secrets (volume {volume.get('name')})")
            if "configMap" in volume or "projected" in volume:
                raise req.forbidden(f"a mirror pod may not reference configmaps (volume {volume.get('name')})")

    @staticmethod
    def _mount_token(spec: dict[str, JSON]) -> None:
        containers = [c for field in CONTAINER_LISTS for c in spec.get(field) or []]
        if any(m.get("mountPath") == MOUNT_PATH for c in containers for m in c.get("volumeMounts") or []):
            return  # the pod brings its own credentials at the well-known path
        volumes = spec.setdefault("volumes", [])
        taken = {v.get("name") for v in volumes}
        name = ""
        while not name or name in taken:
            name = VOLUME_PREFIX + "".join(secrets.choice(SUFFIX_ALPHABET) for _ in range(5))
        volumes.append(api_access_volume(name))
        for c in containers:
            c.setdefault("volumeMounts", []).append({"name": name, "readOnly": True, "mountPath": MOUNT_PATH})
