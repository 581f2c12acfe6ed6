"""The CNI protocol as the spec (1.0.0) defines it: environment, config on stdin, result or error on stdout.

Only the contract with the runtime lives here; what a plugin does with a network is elsewhere.
"""

from __future__ import annotations

import os

from cni import jsonwire

TYPE_CHECKING = False  # typing's (and dataclasses') imports cost every plugin call
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

SUPPORTED_VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0")
RESULT_VERSION = "1.0.0"

# Error codes reserved by the spec.
INCOMPATIBLE_VERSION = 1
UNSUPPORTED_FIELD = 2
UNKNOWN_CONTAINER = 3
INVALID_ENVIRONMENT = 4
IO_FAILURE = 5
DECODE_FAILURE = 6
INVALID_CONFIG = 7
TRY_AGAIN_LATER = 11


class CniError(Exception):
    """An error the runtime receives as the spec's error JSON, with one of the spec's codes."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.details = details

    def to_json(self, version: str) -> dict[str, Any]:
        out: dict[str, Any] = {"cniVersion": version, "code": self.code, "msg": self.msg}
        if self.details:
            out["details"] = self.details
        return out


class Invocation:
    """One call of the plugin: the command, the container it is about, and the network config."""

    __slots__ = ("args", "command", "config", "container_id", "ifname", "netns", "path")

    def __init__(self, command: str, *, container_id: str = "", netns: str = "", ifname: str = "",
                 args: dict[str, str] | None = None, path: str = "", config: dict[str, Any]) -> None:
        self.command, self.container_id, self.netns, self.ifname = command, container_id, netns, ifname
        self.args, self.path, self.config = args or {}, path, config

    @property
    def version(self) -> str:
        return str(self.config.get("cniVersion", RESULT_VERSION))


def _parse_args(raw: str) -> dict[str, str]:
    """``CNI_ARGS`` is ``K=V;K=V`` (the runtime passes e.g. ``K8S_POD_NAME`` there)."""
    out: dict[str, str] = {}
    for part in filter(None, raw.split(";")):
        key, sep, value = part.partition("=")
        if not sep:
            raise CniError(INVALID_ENVIRONMENT, f"invalid CNI_ARGS pair {part!r}")
        out[key] = value
    return out


def parse(env: Mapping[str, str], stdin: bytes) -> Invocation:
    command = env.get("CNI_COMMAND", "")
    if command not in ("ADD", "DEL", "CHECK", "VERSION"):
        raise CniError(INVALID_ENVIRONMENT, f"unknown CNI_COMMAND {command!r}")
    if command == "VERSION":
        config: dict[str, Any] = {}
        if stdin.strip():
            config = _decode(stdin)
        return Invocation(command, config=config)
    config = _decode(stdin)
    version = str(config.get("cniVersion", ""))
    if version not in SUPPORTED_VERSIONS:
        raise CniError(INCOMPATIBLE_VERSION, f"incompatible CNI version {version!r}",
                       f"supported: {', '.join(SUPPORTED_VERSIONS)}")
    for required in ("name", "type"):
        if not config.get(required):
            raise CniError(INVALID_CONFIG, f"network config has no {required!r}")
    container_id = env.get("CNI_CONTAINERID", "")
    ifname = env.get("CNI_IFNAME", "")
    netns = env.get("CNI_NETNS", "")
    if not container_id:
        raise CniError(INVALID_ENVIRONMENT, "CNI_CONTAINERID is required")
    if not ifname:
        raise CniError(INVALID_ENVIRONMENT, "CNI_IFNAME is required")
    if command != "DEL" and not netns:
        raise CniError(INVALID_ENVIRONMENT, "CNI_NETNS is required")
    return Invocation(command, container_id=container_id, netns=netns, ifname=ifname,
                      args=_parse_args(env.get("CNI_ARGS", "")), path=env.get("CNI_PATH", ""), config=config)


def _decode(stdin: bytes) -> dict[str, Any]:
    try:
        config = jsonwire.loads(stdin)
    except ValueError as exc:
        raise CniError(DECODE_FAILURE, f"network config is not JSON: {exc}") from None
    if not isinstance(config, dict):
        raise CniError(DECODE_FAILURE, "network config must be a JSON object")
    return config


def version_result() -> dict[str, Any]:
    return {"cniVersion": RESULT_VERSION, "supportedVersions": list(SUPPORTED_VERSIONS)}


def netns_exists(path: str) -> bool:
    return bool(path) and os.path.exists(path)


def dump(obj: Mapping[str, Any]) -> str:
    return jsonwire.dumps(obj)
