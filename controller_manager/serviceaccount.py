"""Per-namespace defaults: the ``default`` ServiceAccount and the ``kube-root-ca.crt`` ConfigMap; and
legacy token Secrets: filled with a signed token, or deleted once their ServiceAccount is gone.

Pods get the default ServiceAccount when they name none, and mount the root CA from this
ConfigMap to verify the apiserver, so both must exist in every active namespace. A
``kubernetes.io/service-account-token`` Secret is only valid with the ServiceAccount (name and uid)
it was made for; once that is gone the Secret is deleted, as the token controller does. While it
lives, the token controller fills its ``token`` (signed legacy JWT), ``ca.crt`` and ``namespace`` keys.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Final

from controller_manager.actions import Action, Create, Delete, Update
from controller_manager.legacy_tokens import legacy_claims
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


Signer = Callable[[dict[str, str]], str]
"""Turns legacy token claims into a signed token (``legacy_tokens.TokenSigner.sign``)."""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def reconcile_token_secret(view: View, namespace: str, name: str, sign: Signer | None = None,
                           ca_pem: str | None = None) -> list[Action]:
    """Delete a service-account token Secret whose ServiceAccount no longer exists (or was recreated);
    otherwise, with a signer, fill in its missing token, stale ``ca.crt`` or ``namespace`` and the account's uid."""
    secret = view.get(SECRETS, namespace, name)
    if secret is None or secret.get("type") != TOKEN_SECRET_TYPE or meta(secret).get("deletionTimestamp"):
        return []
    ann = meta(secret).get("annotations") or {}
    sa = view.get(SERVICE_ACCOUNTS, namespace, ann.get(SA_NAME_ANNOTATION, ""))
    if sa is None or ann.get(SA_UID_ANNOTATION) not in (None, meta(sa).get("uid")):
        return [Delete(SECRETS, namespace, name, meta(secret).get("uid"))]
    if sign is None:
        return []
    data = dict(secret.get("data") or {})
    wanted = {"namespace": _b64(namespace), **({ROOT_CA_KEY: _b64(ca_pem)} if ca_pem is not None else {})}
    stale = {k: v for k, v in wanted.items() if data.get(k) != v}
    if not data.get("token"):
        sa_meta = meta(sa)
        stale["token"] = _b64(sign(legacy_claims(namespace, sa_meta["name"], str(sa_meta.get("uid", "")), name)))
    if not stale and ann.get(SA_UID_ANNOTATION) == meta(sa).get("uid"):
        return []
    updated: Obj = copy.deepcopy(secret)
    updated["data"] = {**data, **stale}
    updated["metadata"]["annotations"] = {**ann, SA_NAME_ANNOTATION: meta(sa)["name"],
                                          SA_UID_ANNOTATION: meta(sa).get("uid")}
    return [Update(SECRETS, updated)]
