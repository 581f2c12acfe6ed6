"""The ConfigMaps, Secrets and PersistentVolumeClaims a pod refers to (volumes, projected sources, env,
envFrom, image pull secrets), by name: what the Node authorizer lets this node read (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Name = tuple[str, str]
"""(namespace, name)"""


@dataclass(frozen=True)
class References:
    """A pod's references, each as (namespace, name)."""

    config_maps: frozenset[Name] = field(default_factory=frozenset)
    secrets: frozenset[Name] = field(default_factory=frozenset)
    claims: frozenset[Name] = field(default_factory=frozenset)


def _containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or []),
            *(spec.get("ephemeralContainers") or [])]


def references(pod: Mapping[str, Any]) -> References:
    """Everything ``pod`` reads by name before its containers can start."""
    ns = str((pod.get("metadata") or {}).get("namespace") or "")
    spec = pod.get("spec") or {}
    cms: set[str] = set()
    secrets: set[str] = {str(s.get("name")) for s in spec.get("imagePullSecrets") or [] if s.get("name")}
    claims: set[str] = set()
    for volume in spec.get("volumes") or []:
        if (src := volume.get("configMap")) is not None:
            cms.add(str(src.get("name", "")))
        if (src := volume.get("secret")) is not None:
            secrets.add(str(src.get("secretName", "")))
        if (src := volume.get("persistentVolumeClaim")) is not None:
            claims.add(str(src.get("claimName", "")))
        for source in (volume.get("projected") or {}).get("sources") or []:
            if (ref := source.get("configMap")) is not None:
                cms.add(str(ref.get("name", "")))
            if (ref := source.get("secret")) is not None:
                secrets.add(str(ref.get("name", "")))
    for container in _containers(spec):
        for source in container.get("envFrom") or []:
            if (ref := source.get("configMapRef")) is not None:
                cms.add(str(ref.get("name", "")))
            if (ref := source.get("secretRef")) is not None:
                secrets.add(str(ref.get("name", "")))
        for var in container.get("env") or []:
            value_from = var.get("valueFrom") or {}
            if (ref := value_from.get("configMapKeyRef")) is not None:
                cms.add(str(ref.get("name", "")))
            if (ref := value_from.get("secretKeyRef")) is not None:
                secrets.add(str(ref.get("name", "")))
    return References(frozenset((ns, n) for n in cms if n), frozenset((ns, n) for n in secrets if n),
                      frozenset((ns, n) for n in claims if n))
