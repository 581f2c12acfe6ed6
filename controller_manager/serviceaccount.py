"""Per-namespace defaults: the ``default`` ServiceAccount and the ``kube-root-ca.crt`` ConfigMap; and
cleanup of legacy token Secrets whose ServiceAccount is gone.

Pods get the default ServiceAccount when they name none, and mount the root CA from this
ConfigMap to verify the apiserver, so both must exist in every active namespace. A
``kubernetes.io/service-account-token`` Secret is only valid with the ServiceAccount (name and uid)
it was made for; once that is gone the Secret is deleted, as the token controller does.
"""

from __future__ import annotations

import copy
from typing import Final

from controller_manager.actions import Action, Create, Delete, Update
from controller_manager.view import CONFIG_MAPS, NAMESPACES, SECRETS, SERVICE_ACCOUNTS, Obj, View, meta

DEFAULT_SERVICE_ACCOUNT: Final = "default"
ROOT_CA_CONFIG_MAP: Final = "kube-root-ca.crt"
ROOT_CA_KEY: Final = "ca.crt"
TOKEN_SECRET_TYPE: Final = "kubernetes.io/service-account-token"
SA_NAME_ANNOTATION: Final = "kubernetes.io/service-account.name"
SA_UID_ANNOTATION: Final = "kubernetes.io/service-account.uid"
DESCRIPTION: Final = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
                      "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
                      "guaranteed across distributions of Kubernetes clusters.")


def _active(view: View, namespace: str) -> bool:
    ns = view.get(NAMESPACES, None, namespace)
    return ns is not None and meta(ns).get("deletionTimestamp") is None and \
        (ns.get("status") or {}).get("phase", "Active") == "Active"


def reconcile_service_accounts(view: View, namespace: str) -> list[Action]:
    """Create the ``default`` ServiceAccount of an active namespace if it is missing."""
    if not _active(view, namespace) or view.get(SERVICE_ACCOUNTS, namespace, DEFAULT_SERVICE_ACCOUNT) is not None:
        return []
    return [Create(SERVICE_ACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                      "metadata": {"name": DEFAULT_SERVICE_ACCOUNT, "namespace": namespace}})]


def reconcile_root_ca(view: View, namespace: str, ca_pem: str) -> list[Action]:
    """Create ``kube-root-ca.crt`` with the cluster CA, or put the CA back if someone changed it."""
    if not _active(view, namespace):
        return []
    current = view.get(CONFIG_MAPS, namespace, ROOT_CA_CONFIG_MAP)
    data = {ROOT_CA_KEY: ca_pem}
    annotations = {"kubernetes.io/description": DESCRIPTION}
    if current is None:
        return [Create(CONFIG_MAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                     "metadata": {"name": ROOT_CA_CONFIG_MAP, "namespace": namespace,
                                                  "annotations": annotations},
                                     "data": data})]
    have_ann = meta(current).get("annotations") or {}
    if current.get("data") == data and all(have_ann.get(k) == v for k, v in annotations.items()):
        return []
    updated: Obj = copy.deepcopy(current)
    updated["data"] = data
    updated.pop("binaryData", None)
    updated["metadata"]["annotations"] = {**have_ann, **annotations}
    return [Update(CONFIG_MAPS, updated)]


def reconcile_token_secret(view: View, namespace: str, name: str) -> list[Action]:
    """Delete a service-account token Secret whose ServiceAccount no longer exists (or was recreated)."""
    secret = view.get(SECRETS, namespace, name)
    if secret is None or secret.get("type") != TOKEN_SECRET_TYPE or meta(secret).get("deletionTimestamp"):
        return []
    ann = meta(secret).get("annotations") or {}
    sa = view.get(SERVICE_ACCOUNTS, namespace, ann.get(SA_NAME_ANNOTATION, ""))
    if sa is not None and ann.get(SA_UID_ANNOTATION) in (None, meta(sa).get("uid")):
        return []
    return [Delete(SECRETS, namespace, name, meta(secret).get("uid"))]
