"""Components as systemd units: the supervisor of a node that is a real machine (a Vagrant VM).

`tinykube up` supervises every node's processes itself; on a VM, systemd does that job. Each component
becomes one unit, ``tinykube-<component>.service``, whose ExecStart is the very command line that
`tinykube up` runs (tinykube/components.py), with the same log file. Rendering is pure; the
supervisor below writes the units and asks systemctl to start them.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tinykube.supervisor import COMPONENT_ENV, Component, ComponentStatus, Supervisor

UNIT_DIR = Path("/etc/systemd/system")
UNIT_PREFIX = "tinykube-"

# Containers outlive their runtime on purpose (their shims hold them): stopping or restarting the runtime's
# unit must not kill them, as containerd's unit does it.
KEEP_CHILDREN = frozenset({"runtime"})

_PLAIN = re.compile(r"^[A-Za-z0-9_@%+=:,./-]+$")


def unit_name(spec: Component) -> str:
    return f"{UNIT_PREFIX}{spec.name}.service"


def quote(arg: str) -> str:
    """One ExecStart word: systemd expands ``%`` specifiers and ``$`` variables, so both are doubled."""
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if _PLAIN.match(arg):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_unit(spec: Component, log_path: Path, cluster: str, after: Sequence[str] = ()) -> str:
    """The unit file of one component: restarted whenever it exits, output appended to its log file."""
    lines = [
        "[Unit]",
        f"Description=tinykube {spec.name} of cluster {cluster}",
        f"After=network-online.target {' '.join(after)}".rstrip(),
        "Wants=network-online.target",
        "StartLimitIntervalSec=0",
        "",
        "[Service]",
        f"ExecStart={' '.join(quote(a) for a in spec.argv)}",
        *(f"Environment={quote(f'{k}={v}')}" for k, v in {**COMPONENT_ENV, **dict(spec.env)}.items()),
        "Restart=always",
        "RestartSec=2",
        "LimitNOFILE=1048576",
        *(("KillMode=process",) if spec.name in KEEP_CHILDREN else ()),
        f"StandardOutput=append:{log_path}",
        f"StandardError=append:{log_path}",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines)


class SystemdSupervisor(Supervisor):
    """Starts this machine's components as enabled systemd units; those of other nodes are not ours to run.

    Specs for ``node`` (and for the per-machine infrastructure, the apiserver load balancer and the image
    registry, which every VM runs for itself) become units; systemd restarts them and starts them at boot.
    """

    def __init__(self, node: str, cluster: str, log_dir: Path, state_file: Path, *, unit_dir: Path = UNIT_DIR,
                 systemctl: str = "systemctl") -> None:
        super().__init__(log_dir, state_file)
        self.node = node
        self.cluster = cluster
        self.unit_dir = unit_dir
        self.systemctl = systemctl
        self._started: dict[str, Component] = {}

    def runs_here(self, spec: Component) -> bool:
        return spec.node in (self.node, "infra")

    def start(self, spec: Component) -> None:
        if not self.runs_here(spec):
            return
        log_path = self.log_path(spec)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.unit_dir.mkdir(parents=True, exist_ok=True)
        path = self.unit_dir / unit_name(spec)
        text = render_unit(spec, log_path, self.cluster)
        changed = not path.exists() or path.read_text() != text
        if changed:
            path.write_text(text)
            self._systemctl("daemon-reload")
        self._systemctl("enable", unit_name(spec))
        # A changed command line takes effect now; an unchanged running unit is left alone (idempotent).
        self._systemctl("restart" if changed else "start", unit_name(spec))
        self._started[spec.key] = spec

    def _systemctl(self, *args: str) -> None:
        result = subprocess.run([self.systemctl, *args], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"systemctl {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")

    def pid(self, node: str, name: str) -> int | None:
        spec = self._started.get(f"{node}/{name}")
        if spec is None:
            return None
        out = subprocess.run([self.systemctl, "show", "-p", "MainPID", "--value", unit_name(spec)],
                             capture_output=True, text=True)
        pid = int(out.stdout.strip() or 0)
        return pid or None

    def statuses(self) -> list[ComponentStatus]:
        return [ComponentStatus(s.node, s.name, pid=self.pid(s.node, s.name), state="running")
                for s in self._started.values()]

    async def stop(self, node: str, name: str, grace: float = 10.0) -> None:
        spec = self._started.pop(f"{node}/{name}", None)
        if spec is not None:
            self._systemctl("disable", "--now", unit_name(spec))

    def kill(self, node: str, name: str) -> int | None:
        pid = self.pid(node, name)
        spec = self._started.get(f"{node}/{name}")
        if pid is None or spec is None:
            return None
        self._systemctl("kill", "--signal=SIGKILL", unit_name(spec))
        return pid

    async def shutdown(self, grace: float = 10.0) -> None:
        for key in reversed(list(self._started)):
            node, name = key.split("/", 1)
            await self.stop(node, name, grace)
