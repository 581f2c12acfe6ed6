"""Invoking a CNI plugin chain as the CNI spec describes: config on stdin, parameters in CNI_* variables.

A network is the first ``*.conflist`` (or single-plugin ``*.conf``/``*.json``) in ``--cni-conf-dir`` in
lexical order, as libcni picks it. ADD runs the plugins in order, feeding each the previous result
as ``prevResult``; DEL runs them in reverse with the cached ADD result; CHECK in order. The network
config used at ADD is kept with the sandbox, so DEL still works after the conf dir changed or the
runtime crashed.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from process.log import get_logger

log = get_logger("runtime.cni")

PLUGIN_TIMEOUT = 60.0


class CNIError(Exception):
    """A plugin failed; carries the plugin's name and its CNI error code and message."""


def load_network(conf_dir: str) -> dict[str, Any] | None:
    """The network list to use, normalised to conflist form; None when the directory has no config."""
    path = Path(conf_dir)
    if not path.is_dir():
        return None
    for entry in sorted(path.iterdir()):
        if entry.suffix not in (".conflist", ".conf", ".json"):
            continue
        try:
            raw = json.loads(entry.read_text())
        except (OSError, ValueError) as exc:
            log.warning("skipping unreadable CNI config", file=str(entry), err=str(exc))
            continue
        if entry.suffix == ".conflist" or "plugins" in raw:
            if raw.get("plugins"):
                return dict(raw)
            continue
        return {"cniVersion": raw.get("cniVersion", "0.4.0"), "name": raw.get("name", entry.stem), "plugins": [raw]}
    return None


def pod_ips(result: dict[str, Any]) -> list[str]:
    """Addresses from a CNI result (0.3.0 and later ``ips``; 0.1/0.2 ``ip4``/``ip6``), without prefix length."""
    ips = [str(ip.get("address", "")).split("/")[0] for ip in result.get("ips", []) if ip.get("address")]
    for key in ("ip4", "ip6"):
        if key in result and result[key].get("ip"):
            ips.append(str(result[key]["ip"]).split("/")[0])
    return ips


class CNI:
    """Runs a network list's plugins from ``bin_dirs`` for one sandbox at a time."""

    def __init__(self, bin_dirs: list[str], conf_dir: str) -> None:
        self.bin_dirs = bin_dirs
        self.conf_dir = conf_dir

    def network(self) -> dict[str, Any] | None:
        """The network list in effect now (None: no config, so no pod networking)."""
        return load_network(self.conf_dir)

    def _find(self, plugin_type: str) -> str:
        for directory in self.bin_dirs:
            candidate = os.path.join(directory, plugin_type)
            if os.access(candidate, os.X_OK):
                return candidate
        raise CNIError(f"CNI plugin {plugin_type!r} not found in {':'.join(self.bin_dirs)}")

    def _invoke(self, command: str, net: dict[str, Any], plugin: dict[str, Any], *, container_id: str, netns: str,
                ifname: str, args: dict[str, str], runtime_config: dict[str, Any],
                prev_result: dict[str, Any] | None) -> dict[str, Any]:
        conf = dict(plugin)
        conf["cniVersion"] = net.get("cniVersion", "0.4.0")
        conf["name"] = net["name"]
        if prev_result is not None:
            conf["prevResult"] = prev_result
        wanted = {k for k, v in (plugin.get("capabilities") or {}).items() if v}
        chosen = {k: v for k, v in runtime_config.items() if k in wanted}
        if chosen:
            conf["runtimeConfig"] = chosen
        env = {
            "CNI_COMMAND": command, "CNI_CONTAINERID": container_id, "CNI_NETNS": netns, "CNI_IFNAME": ifname,
            "CNI_PATH": ":".join(self.bin_dirs), "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "CNI_ARGS": ";".join(["IgnoreUnknown=1", *(f"{k}={v}" for k, v in args.items())]),
        }
        binary = self._find(str(plugin["type"]))
        try:
            proc = subprocess.run([binary], input=json.dumps(conf).encode(), env=env, capture_output=True,
                                  timeout=PLUGIN_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise CNIError(f"CNI {command} {plugin['type']}: timed out after {PLUGIN_TIMEOUT:.0f}s") from None
        if proc.returncode != 0:
            detail = proc.stdout.decode(errors="replace").strip() or proc.stderr.decode(errors="replace").strip()
            try:
                err = json.loads(detail)
                detail = f"code {err.get('code')}: {err.get('msg')} {err.get('details', '')}".strip()
            except ValueError:
                pass
            raise CNIError(f"CNI {command} {plugin['type']} for {container_id[:12]}: {detail}")
        out = proc.stdout.strip()
        result: dict[str, Any] = json.loads(out) if out else {}
        return result

    def add(self, net: dict[str, Any], container_id: str, netns: str, *, ifname: str = "eth0",
            args: dict[str, str] | None = None, runtime_config: dict[str, Any] | None = None) -> dict[str, Any]:
        """ADD through the whole chain; returns the last plugin's result."""
        result: dict[str, Any] | None = None
        for plugin in net["plugins"]:
            result = self._invoke("ADD", net, plugin, container_id=container_id, netns=netns, ifname=ifname,
                                  args=args or {}, runtime_config=runtime_config or {}, prev_result=result)
        return result or {}

    def delete(self, net: dict[str, Any], container_id: str, netns: str, *, ifname: str = "eth0",
               args: dict[str, str] | None = None, runtime_config: dict[str, Any] | None = None,
               prev_result: dict[str, Any] | None = None) -> None:
        """Every plugin gets its DEL even if an earlier one failed; the first failure is raised at the end."""
        first: CNIError | None = None
        for plugin in reversed(net["plugins"]):
            try:
                self._invoke("DEL", net, plugin, container_id=container_id, netns=netns, ifname=ifname,
                             args=args or {}, runtime_config=runtime_config or {}, prev_result=prev_result or None)
            except CNIError as exc:
                first = first or exc
        if first is not None:
            raise first

    def check(self, net: dict[str, Any], container_id: str, netns: str, prev_result: dict[str, Any], *,
              ifname: str = "eth0", args: dict[str, str] | None = None,
              runtime_config: dict[str, Any] | None = None) -> None:
        """CHECK through the chain with the cached ADD result."""
        for plugin in net["plugins"]:
            self._invoke("CHECK", net, plugin, container_id=container_id, netns=netns, ifname=ifname,
                         args=args or {}, runtime_config=runtime_config or {}, prev_result=prev_result)
