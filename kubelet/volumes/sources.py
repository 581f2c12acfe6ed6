"""What a configMap, secret, downwardAPI or projected volume contains, computed from API objects (pure).

Kubernetes' rules: all keys unless ``items`` picks some (a listed key that is missing is an error unless the
source is optional); file modes from the item's ``mode``, else ``defaultMode``, else 0644; downward API
label/annotation files are ``key="value"`` lines in sorted order.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any, Final

from kubelet.env import field_ref_value, resource_field_value
from kubelet.volumes.atomic_writer import FileProjection

DEFAULT_MODE: Final = 0o644

Lookup = Callable[[str, str], Mapping[str, Any] | None]
# token_request(namespace, service_account, audience, expiration_seconds, pod_uid) -> token text
TokenRequest = Callable[[str, str, str, int, str], str]


class VolumeSourceError(Exception):
    """The volume cannot be set up yet; the message is the one kubelet puts in its FailedMount event."""


def _project(data: Mapping[str, bytes], items: list[Mapping[str, Any]] | None, default_mode: int,
             kind: str, optional: bool) -> dict[str, FileProjection]:
    if not items:
        return {key: FileProjection(value, default_mode) for key, value in data.items()}
    out: dict[str, FileProjection] = {}
    for item in items:
        key = item.get("key", "")
        if key not in data:
            if optional:
                continue
            raise VolumeSourceError(f"{kind} references non-existent config key: {key}")
        mode = item.get("mode")
        out[item.get("path", key)] = FileProjection(data[key], int(mode) if mode is not None else default_mode)
    return out


def config_map_payload(source: Mapping[str, Any], namespace: str, lookup: Lookup,
                       default_mode: int | None = None) -> dict[str, FileProjection]:
    """A configMap volume (or projected source)."""
    name = source.get("name", "")
    optional = bool(source.get("optional"))
    mode = int(source.get("defaultMode", default_mode if default_mode is not None else DEFAULT_MODE))
    cm = lookup(namespace, name)
    if cm is None:
        if optional:
            return {}
        raise VolumeSourceError(f'configmap "{name}" not found')
    data = {k: str(v).encode() for k, v in (cm.get("data") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (cm.get("binaryData") or {}).items()})
    return _project(data, source.get("items"), mode, "configMap", optional)


def secret_payload(source: Mapping[str, Any], namespace: str, lookup: Lookup,
                   default_mode: int | None = None) -> dict[str, FileProjection]:
    """A secret volume (``secretName``) or projected secret source (``name``)."""
    name = source.get("secretName", source.get("name", ""))
    optional = bool(source.get("optional"))
    mode = int(source.get("defaultMode", default_mode if default_mode is not None else DEFAULT_MODE))
    secret = lookup(namespace, name)
    if secret is None:
        if optional:
            return {}
        raise VolumeSourceError(f'secret "{name}" not found')
    data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    data.update({k: str(v).encode() for k, v in (secret.get("stringData") or {}).items()})
    return _project(data, source.get("items"), mode, "secret", optional)


def downward_api_payload(source: Mapping[str, Any], pod: Mapping[str, Any], node_allocatable: Mapping[str, str],
                         default_mode: int | None = None) -> dict[str, FileProjection]:
    """A downwardAPI volume: fieldRef and resourceFieldRef files."""
    mode = int(source.get("defaultMode", default_mode if default_mode is not None else DEFAULT_MODE))
    out: dict[str, FileProjection] = {}
    containers = {c.get("name"): c for c in (pod.get("spec") or {}).get("containers") or []}
    for item in source.get("items") or []:
        item_mode = int(item["mode"]) if item.get("mode") is not None else mode
        if (ref := item.get("fieldRef")) is not None:
            value = field_ref_value(pod, ref.get("fieldPath", ""))
        elif (ref := item.get("resourceFieldRef")) is not None:
            container = containers.get(ref.get("containerName"), {})
            value = resource_field_value(container, ref.get("resource", ""), ref.get("divisor"), node_allocatable)
        else:
            continue
        out[item.get("path", "")] = FileProjection(value.encode(), item_mode)
    return out


def projected_payload(source: Mapping[str, Any], pod: Mapping[str, Any], *, config_maps: Lookup, secrets: Lookup,
                      node_allocatable: Mapping[str, str],
                      token_request: TokenRequest | None) -> dict[str, FileProjection]:
    """A projected volume: the union of its sources, later ones winning on the same path."""
    namespace = (pod.get("metadata") or {}).get("namespace", "default")
    mode = int(source.get("defaultMode", DEFAULT_MODE))
    out: dict[str, FileProjection] = {}
    for item in source.get("sources") or []:
        if "configMap" in item:
            out.update(config_map_payload(item["configMap"], namespace, config_maps, mode))
        elif "secret" in item:
            out.update(secret_payload(item["secret"], namespace, secrets, mode))
        elif "downwardAPI" in item:
            out.update(downward_api_payload(item["downwardAPI"], pod, node_allocatable, mode))
        elif "serviceAccountToken" in item:
            spec = item["serviceAccountToken"]
            if token_request is None:
                raise VolumeSourceError("serviceAccountToken projection needs the TokenRequest API "
                                        "(serviceaccounts/token), which this kubelet has no client for")
            account = (pod.get("spec") or {}).get("serviceAccountName") or "default"
            token = token_request(namespace, account, spec.get("audience", ""),
                                  int(spec.get("expirationSeconds", 3607)),
                                  (pod.get("metadata") or {}).get("uid", ""))
            out[spec.get("path", "token")] = FileProjection(token.encode(), mode)
    return out
