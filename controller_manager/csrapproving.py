"""csrapproving: kubelet client CSRs are approved when the requester may ask for them (kube-controller-manager's
sarapprove).

A CSR for ``kubernetes.io/kube-apiserver-client-kubelet`` that a kubelet may be issued is approved if a
``SubjectAccessReview`` for its requester allows ``create`` on ``certificatesigningrequests/selfnodeclient``
(a node renewing its own certificate: requester = subject) or ``certificatesigningrequests/nodeclient`` (a
bootstrap token asking for a new node's). Anything else waits for an administrator (``kubectl certificate
approve``). Pure: ``review_for`` says what to ask, ``approve`` writes the answer.
"""

from __future__ import annotations

import datetime
from typing import Any, Final

from controller_manager.actions import Action, Update
from controller_manager.csrsigning import (
    KUBELET_CLIENT_SIGNER,
    conditions,
    decoded_request,
    subject_of,
    validation_error,
)
from controller_manager.view import CERTIFICATE_SIGNING_REQUESTS, Obj

APPROVAL_MESSAGE: Final = "Auto approving kubelet client certificate after SubjectAccessReview."


def review_for(csr: Obj | None) -> dict[str, Any] | None:
    """The SubjectAccessReview spec that decides ``csr``; None when it is not ours to approve."""
    if csr is None:
        return None
    spec = csr.get("spec") or {}
    conds = conditions(csr)
    if spec.get("signerName") != KUBELET_CLIENT_SIGNER or "Approved" in conds or "Denied" in conds:
        return None
    try:
        request = decoded_request(csr)
    except ValueError:
        return None  # the signer reports it as failed
    if validation_error(KUBELET_CLIENT_SIGNER, request, [str(u) for u in spec.get("usages") or []]):
        return None
    common_name, _ = subject_of(request)
    subresource = "selfnodeclient" if spec.get("username") == common_name else "nodeclient"
    review: dict[str, Any] = {
        "user": spec.get("username", ""), "groups": list(spec.get("groups") or []),
        "resourceAttributes": {"group": "certificates.k8s.io", "resource": "certificatesigningrequests",
                               "verb": "create", "subresource": subresource},
    }
    if spec.get("uid"):
        review["uid"] = spec["uid"]
    if spec.get("extra"):
        review["extra"] = spec["extra"]
    return review


def approve(csr: Obj, now: datetime.datetime) -> list[Action]:
    """The ``/approval`` update that approves ``csr``."""
    now_text = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    status = {**(csr.get("status") or {})}
    status["conditions"] = [*(status.get("conditions") or []), {
        "type": "Approved", "status": "True", "reason": "AutoApproved", "message": APPROVAL_MESSAGE,
        "lastUpdateTime": now_text, "lastTransitionTime": now_text}]
    return [Update(CERTIFICATE_SIGNING_REQUESTS, {**csr, "status": status}, subresource="approval")]
