"""Projected service account tokens: which tokens a pod needs, and when they are rotated."""

from __future__ import annotations

import pytest

from kubelet.tokens import Token, TokenKey, token_keys


def test_token_keys_from_projected_volumes() -> None:
    pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "u"},
           "spec": {"serviceAccountName": "builder", "volumes": [
               {"name": "api", "projected": {"sources": [
                   {"serviceAccountToken": {"path": "token"}},
                   {"configMap": {"name": "kube-root-ca.crt"}}]}},
               {"name": "vault", "projected": {"sources": [
                   {"serviceAccountToken": {"audience": "vault", "expirationSeconds": 600, "path": "t"}}]}},
               {"name": "scratch", "emptyDir": {}}]}}
    assert list(token_keys(pod)) == [TokenKey("ns", "builder", "", 3607, "u"), TokenKey("ns", "builder", "vault",
                                                                                         600, "u")]
    assert next(token_keys({"metadata": {"uid": "u"}, "spec": {"volumes": [
        {"name": "v", "projected": {"sources": [{"serviceAccountToken": {}}]}}]}})).account == "default"


@pytest.mark.parametrize(("now", "refresh"), [(1000.0, False), (1079.9, False), (1080.0, True), (2000.0, True)])
def test_rotation_at_eighty_percent_of_lifetime(now: float, refresh: bool) -> None:
    assert Token("t", issued_at=1000.0, expires_at=1100.0).needs_refresh(now) is refresh
