"""A container's environment and argv as Kubernetes builds them (kubelet's makeEnvironmentVariables).

Order matters and is Kubernetes': ``envFrom`` sources first (later ones win), then ``env`` entries in order,
each able to refer to the ones before it with ``$(VAR)``. A missing ConfigMap/Secret or key is an error whose
text becomes the container's CreateContainerConfigError message, worded as the kubelet words it.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from api.quantity import Quantity

# Kubernetes' historical env name rule (IsEnvVarName); keys failing it are skipped with a warning event.
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_FIELD_LABEL = re.compile(r"^metadata\.(labels|annotations)\['(.*)'\]$")


class ContainerConfigError(Exception):
    """The container cannot be configured yet (missing ConfigMap/Secret/key); the message is the kubelet's."""


@dataclass
class EnvResult:
    """The environment in order, plus the invalid names that were skipped (reported as an event)."""

    env: list[tuple[str, str]]
    invalid_names: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, str]:
        """Name to value (later definitions win, as in the container)."""
        return dict(self.env)


# Lookups return None when the object does not exist. ConfigMap values are text, Secret values bytes.
ConfigMapLookup = Callable[[str, str], Mapping[str, Any] | None]
SecretLookup = Callable[[str, str], Mapping[str, Any] | None]


def expand(text: str, mapping: Mapping[str, str]) -> str:
    """``$(VAR)`` expansion: unknown references stay verbatim and ``$$`` escapes a dollar, as Kubernetes does."""
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    n = len(text)
    while cursor < n:
        if text[cursor] == "$" and cursor + 1 < n:
            out.append(text[checkpoint:cursor])
            nxt = text[cursor + 1]
            advance = 1
            if nxt == "$":
                out.append("$")
            elif nxt == "(":
                close = text.find(")", cursor + 2)
                if close == -1:
                    out.append("$(")
                else:
                    name = text[cursor + 2:close]
                    out.append(mapping.get(name, f"$({name})"))
                    advance = close - cursor
            else:
                out.append("$" + nxt)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def _config_map_data(cm: Mapping[str, Any]) -> dict[str, str]:
    data = dict(cm.get("data") or {})
    for key, b64 in (cm.get("binaryData") or {}).items():
        data.setdefault(key, base64.b64decode(b64).decode("utf-8", "replace"))
    return data


def _secret_data(secret: Mapping[str, Any]) -> dict[str, str]:
    data = {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (secret.get("data") or {}).items()}
    data.update(secret.get("stringData") or {})
    return data


def field_ref_value(pod: Mapping[str, Any], path: str) -> str:
    """The downward API's fieldRef for env (the same paths ``kubectl explain`` lists)."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": status.get("hostIP", ""),
        "status.podIP": status.get("podIP", ""),
        "status.hostIPs": ",".join(i.get("ip", "") for i in status.get("hostIPs") or []),
        "status.podIPs": ",".join(i.get("ip", "") for i in status.get("podIPs") or []),
    }
    if path in simple:
        return str(simple[path])
    if m := _FIELD_LABEL.match(path):
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        items = meta.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(items.items()))
    raise ContainerConfigError(f'unsupported fieldRef path "{path}"')


def resource_field_value(container: Mapping[str, Any], resource: str, divisor: str | None,
                         node_allocatable: Mapping[str, str]) -> str:
    """resourceFieldRef: the container's request/limit over ``divisor``, rounded up; unset limits read the node's.

    Kubernetes falls back to node allocatable for a missing limit so that a program sizing itself by its
    limit sees what it can actually use.
    """
    kind, _, name = resource.partition(".")
    resources = container.get("resources") or {}
    text = (resources.get(kind) or {}).get(name)
    if text is None and kind == "requests":
        text = (resources.get("limits") or {}).get(name)
    if text is None and kind == "limits":
        text = node_allocatable.get(name)
    if text is None:
        text = "0"
    value = Quantity.parse(str(text)).value
    div = Quantity.parse(divisor).value if divisor else Fraction(1)
    if div == 0:
        div = Fraction(1)
    return str(math.ceil(value / div))


def make_environment(pod: Mapping[str, Any], container: Mapping[str, Any], *,
                     config_maps: ConfigMapLookup, secrets: SecretLookup,
                     service_env: Mapping[str, str] | None = None,
                     node_allocatable: Mapping[str, str] | None = None) -> EnvResult:
    """The container's environment, or ContainerConfigError naming what is missing.

    ``service_env`` (the ``<SVC>_SERVICE_HOST`` variables) comes first and may be overridden, as upstream.
    """
    namespace = (pod.get("metadata") or {}).get("namespace", "default")
    env: dict[str, str] = dict(service_env or {})
    order: list[str] = list(env)
    invalid: list[str] = []

    def put(name: str, value: str) -> None:
        if name not in env:
            order.append(name)
        env[name] = value

    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if (ref := source.get("configMapRef")) is not None:
            cm = config_maps(namespace, ref.get("name", ""))
            if cm is None:
                if ref.get("optional"):
                    continue
                raise ContainerConfigError(f'configmap "{ref.get("name", "")}" not found')
            data = _config_map_data(cm)
        elif (ref := source.get("secretRef")) is not None:
            secret = secrets(namespace, ref.get("name", ""))
            if secret is None:
                if ref.get("optional"):
                    continue
                raise ContainerConfigError(f'secret "{ref.get("name", "")}" not found')
            data = _secret_data(secret)
        else:
            continue
        for key, value in data.items():
            name = prefix + key
            if not _ENV_NAME.match(name):
                invalid.append(name)
                continue
            put(name, value)

    for var in container.get("env") or []:
        name = var.get("name", "")
        if "value" in var or "valueFrom" not in var:
            put(name, expand(str(var.get("value", "")), env))
            continue
        source = var["valueFrom"]
        if (ref := source.get("configMapKeyRef")) is not None:
            cm_name, key = ref.get("name", ""), ref.get("key", "")
            cm = config_maps(namespace, cm_name)
            if cm is None:
                if ref.get("optional"):
                    continue
                raise ContainerConfigError(f'configmap "{cm_name}" not found')
            data = _config_map_data(cm)
            if key not in data:
                if ref.get("optional"):
                    continue
                raise ContainerConfigError(f"couldn't find key {key} in ConfigMap {namespace}/{cm_name}")
            put(name, data[key])
        elif (ref := source.get("secretKeyRef")) is not None:
            s_name, key = ref.get("name", ""), ref.get("key", "")
            secret = secrets(namespace, s_name)
            if secret is None:
                if ref.get("optional"):
                    continue
                raise ContainerConfigError(f'secret "{s_name}" not found')
            data = _secret_data(secret)
            if key not in data:
                if ref.get("optional"):
                    continue
                raise ContainerConfigError(f"couldn't find key {key} in Secret {namespace}/{s_name}")
            put(name, data[key])
        elif (ref := source.get("fieldRef")) is not None:
            put(name, field_ref_value(pod, ref.get("fieldPath", "")))
        elif (ref := source.get("resourceFieldRef")) is not None:
            target = container
            if ref.get("containerName"):
                spec = pod.get("spec") or {}
                target = next((c for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
                               if c.get("name") == ref["containerName"]), container)
            put(name, resource_field_value(target, ref.get("resource", ""), ref.get("divisor"),
                                           node_allocatable or {}))
    return EnvResult(env=[(n, env[n]) for n in order], invalid_names=invalid)


def expand_command(container: Mapping[str, Any], env: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """``command`` and ``args`` with ``$(VAR)`` references expanded, as sent in CRI CreateContainer."""
    command = [expand(str(part), env) for part in container.get("command") or []]
    args = [expand(str(part), env) for part in container.get("args") or []]
    return command, args


def effective_argv(command: list[str], args: list[str], entrypoint: list[str], cmd: list[str]) -> list[str]:
    """What runs: ``command`` replaces ENTRYPOINT and drops CMD; ``args`` alone replaces CMD only."""
    if command:
        return [*command, *args]
    if args:
        return [*entrypoint, *args]
    return [*entrypoint, *cmd]
