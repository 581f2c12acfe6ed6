"""``tinykube crictl``: crictl's commands, flags and table columns, against any CRI v1 endpoint.

The endpoint comes from ``-r/--runtime-endpoint`` or ``CONTAINER_RUNTIME_ENDPOINT``. Config files
for ``runp`` and ``create`` are crictl's JSON/YAML (CRI messages in protobuf-JSON form).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import termios
import time
import tty as tty_mode
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import grpc
import yaml
from google.protobuf import json_format
from google.protobuf.message import Message

from protos.cri import api_pb2 as cri
from protos.cri import api_pb2_grpc

DEFAULT_ENDPOINT = "unix:///run/tinykube/runtime.sock"
TRUNC = 13


class CrictlError(Exception):
    """A user-facing failure: printed as crictl prints it, exit status 1."""


def human_duration(seconds: float) -> str:
    """Docker's units.HumanDuration, as crictl's CREATED column uses it."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(s / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


def ago(ns: int) -> str:
    """crictl's CREATED column: a duration since ``ns`` (Unix nanoseconds)."""
    return human_duration(time.time() - ns / 1e9) + " ago"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Go's tabwriter(minwidth=20, tabwidth=1, padding=3), the layout of crictl's tables."""
    widths = [max([20, *(len(r[i]) + 3 for r in [headers, *rows])]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = [cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        lines.append("".join(cells).rstrip())
    return "\n".join(lines)


def to_dict(msg: Message) -> dict[str, Any]:
    """A CRI message as protobuf-JSON (camelCase), as crictl prints it."""
    return json_format.MessageToDict(msg)


def render(data: Any, output: str) -> str:
    """``-o json`` or ``-o yaml`` output."""
    if output == "yaml":
        return yaml.safe_dump(data, sort_keys=False).rstrip()
    return json.dumps(data, indent=2)


def load_config(path: str, message: Message) -> Message:
    """Fill ``message`` from a crictl JSON or YAML config file (unknown fields ignored)."""
    with open(path) as f:
        text = f.read()
    data = yaml.safe_load(text) if not path.endswith(".json") else json.loads(text)
    json_format.ParseDict(data or {}, message, ignore_unknown_fields=True)
    return message


def _state_name(value: int, enum: Any, prefix: str) -> str:
    name: str = enum.Name(value)
    return "".join(part.capitalize() for part in name[len(prefix):].split("_"))


class Client:
    """The two CRI stubs on one channel."""

    def __init__(self, endpoint: str, timeout: float) -> None:
        target = endpoint if endpoint.startswith("unix:") else f"unix://{endpoint}"
        self.channel = grpc.insecure_channel(target)
        self.runtime = api_pb2_grpc.RuntimeServiceStub(self.channel)
        self.images = api_pb2_grpc.ImageServiceStub(self.channel)
        self.timeout = timeout


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tinykube crictl", description="CRI command-line client (crictl's grammar).")
    p.add_argument("-r", "--runtime-endpoint", default=os.environ.get("CONTAINER_RUNTIME_ENDPOINT", DEFAULT_ENDPOINT))
    p.add_argument("-t", "--timeout", type=float, default=120.0, help="per-call timeout in seconds")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def cmd(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text)

    def out(sp: argparse.ArgumentParser, default: str = "table") -> None:
        sp.add_argument("-o", "--output", choices=("json", "yaml", "table"), default=default)

    sp = cmd("version", "runtime version")
    sp = cmd("info", "runtime status and configuration")
    out(sp, "json")
    sp = cmd("pods", "list pod sandboxes")
    sp.add_argument("-q", "--quiet", action="store_true")
    sp.add_argument("--name", default="")
    sp.add_argument("--namespace", default="")
    sp.add_argument("-s", "--state", default="")
    sp.add_argument("--id", default="")
    sp.add_argument("--label", action="append", default=[])
    sp.add_argument("--no-trunc", action="store_true")
    out(sp)
    sp = cmd("ps", "list containers")
    sp.add_argument("-a", "--all", action="store_true")
    sp.add_argument("-q", "--quiet", action="store_true")
    sp.add_argument("-p", "--pod", default="")
    sp.add_argument("--name", default="")
    sp.add_argument("-s", "--state", default="")
    sp.add_argument("--id", default="")
    sp.add_argument("--label", action="append", default=[])
    sp.add_argument("--no-trunc", action="store_true")
    out(sp)
    sp = cmd("images", "list images")
    sp.add_argument("-q", "--quiet", action="store_true")
    sp.add_argument("--digests", action="store_true")
    sp.add_argument("--no-trunc", action="store_true")
    sp.add_argument("image", nargs="?", default="")
    out(sp)
    sp = cmd("pull", "pull an image")
    sp.add_argument("image")
    sp.add_argument("--creds", default="")
    sp = cmd("rmi", "remove images")
    sp.add_argument("images", nargs="+")
    sp = cmd("runp", "run a pod sandbox from a config file")
    sp.add_argument("config")
    sp.add_argument("--runtime", default="")
    sp = cmd("create", "create a container")
    sp.add_argument("pod")
    sp.add_argument("container_config")
    sp.add_argument("pod_config")
    sp.add_argument("--no-pull", action="store_true")
    for name in ("start", "stopp"):
        sp = cmd(name, f"{name} one or more {'containers' if name == 'start' else 'pods'}")
        sp.add_argument("ids", nargs="+")
    sp = cmd("stop", "stop containers")
    sp.add_argument("ids", nargs="+")
    sp.add_argument("-t", "--timeout", dest="stop_timeout", type=int, default=0)
    for name in ("rm", "rmp"):
        sp = cmd(name, f"remove {'containers' if name == 'rm' else 'pods'}")
        sp.add_argument("ids", nargs="+")
        sp.add_argument("-f", "--force", action="store_true")
    for name, what in (("inspect", "containers"), ("inspectp", "pods"), ("inspecti", "images")):
        sp = cmd(name, f"status of {what}")
        sp.add_argument("ids", nargs="+")
        out(sp, "json")
    sp = cmd("logs", "print a container's log")
    sp.add_argument("id")
    sp.add_argument("-f", "--follow", action="store_true")
    sp.add_argument("--tail", type=int, default=-1)
    sp.add_argument("--timestamps", action="store_true")
    sp = cmd("exec", "run a command in a container")
    sp.add_argument("-s", "--sync", action="store_true")
    sp.add_argument("-i", "--interactive", action="store_true")
    sp.add_argument("-t", "--tty", action="store_true")
    sp.add_argument("--timeout", dest="exec_timeout", type=int, default=0)
    sp.add_argument("id")
    sp.add_argument("cmd", nargs=argparse.REMAINDER)
    sp = cmd("attach", "attach to a running container's stdio")
    sp.add_argument("-i", "--stdin", action="store_true")
    sp.add_argument("-t", "--tty", action="store_true")
    sp.add_argument("id")
    sp = cmd("stats", "container resource usage")
    sp.add_argument("id", nargs="?", default="")
    sp.add_argument("-p", "--pod", default="")
    out(sp)
    return p


def _labels(items: list[str]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in items if "=" in item)


def _resolve_container(c: Client, cid: str) -> str:
    found = c.runtime.ListContainers(cri.ListContainersRequest(filter=cri.ContainerFilter(id=cid)),
                                     timeout=c.timeout).containers
    if len(found) != 1:
        raise CrictlError(f"container {cid!r} {'is ambiguous' if found else 'not found'}")
    return found[0].id


def _resolve_pod(c: Client, sid: str) -> str:
    found = c.runtime.ListPodSandbox(cri.ListPodSandboxRequest(filter=cri.PodSandboxFilter(id=sid)),
                                     timeout=c.timeout).items
    if len(found) != 1:
        raise CrictlError(f"pod sandbox {sid!r} {'is ambiguous' if found else 'not found'}")
    return found[0].id


def cmd_version(c: Client, a: argparse.Namespace) -> None:
    v = c.runtime.Version(cri.VersionRequest(version="v1"), timeout=c.timeout)
    print(f"Version:  {v.version}\nRuntimeName:  {v.runtime_name}\nRuntimeVersion:  {v.runtime_version}\n"
          f"RuntimeApiVersion:  {v.runtime_api_version}")


def cmd_info(c: Client, a: argparse.Namespace) -> None:
    resp = c.runtime.Status(cri.StatusRequest(verbose=True), timeout=c.timeout)
    data: dict[str, Any] = {"status": to_dict(resp.status)}
    for key, value in resp.info.items():
        try:
            data[key] = json.loads(value)
        except ValueError:
            data[key] = value
    print(render(data, a.output))


def cmd_pods(c: Client, a: argparse.Namespace) -> None:
    f = cri.PodSandboxFilter(id=a.id, label_selector=_labels(a.label))
    if a.state:
        f.state.state = cri.SANDBOX_READY if a.state.lower() == "ready" else cri.SANDBOX_NOTREADY
    items = [p for p in c.runtime.ListPodSandbox(cri.ListPodSandboxRequest(filter=f), timeout=c.timeout).items
             if (not a.name or a.name in p.metadata.name) and (not a.namespace or a.namespace == p.metadata.namespace)]
    items.sort(key=lambda p: -p.created_at)
    if a.quiet:
        print("\n".join(p.id for p in items))
        return
    if a.output != "table":
        print(render({"items": [to_dict(p) for p in items]}, a.output))
        return
    rows = [[p.id if a.no_trunc else p.id[:TRUNC], ago(p.created_at),
             _state_name(p.state, cri.PodSandboxState, "SANDBOX_"), p.metadata.name, p.metadata.namespace,
             str(p.metadata.attempt), p.runtime_handler or "(default)"] for p in items]
    print(table(["POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME"], rows))


def cmd_ps(c: Client, a: argparse.Namespace) -> None:
    f = cri.ContainerFilter(id=a.id, pod_sandbox_id=a.pod, label_selector=_labels(a.label))
    if a.state:
        f.state.state = cri.ContainerState.Value("CONTAINER_" + a.state.upper())
    elif not a.all:
        f.state.state = cri.CONTAINER_RUNNING
    items = [x for x in c.runtime.ListContainers(cri.ListContainersRequest(filter=f), timeout=c.timeout).containers
             if not a.name or a.name in x.metadata.name]
    items.sort(key=lambda x: -x.created_at)
    if a.quiet:
        print("\n".join(x.id for x in items))
        return
    if a.output != "table":
        print(render({"containers": [to_dict(x) for x in items]}, a.output))
        return
    pods = {p.id: p.metadata.name for p in c.runtime.ListPodSandbox(cri.ListPodSandboxRequest(),
                                                                      timeout=c.timeout).items}
    rows = [[x.id if a.no_trunc else x.id[:TRUNC], x.image.image if a.no_trunc else x.image.image[:TRUNC + 40],
             ago(x.created_at), _state_name(x.state, cri.ContainerState, "CONTAINER_"), x.metadata.name,
             str(x.metadata.attempt), x.pod_sandbox_id if a.no_trunc else x.pod_sandbox_id[:TRUNC],
             pods.get(x.pod_sandbox_id, "unknown")] for x in items]
    print(table(["CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID", "POD"], rows))


def _size(n: int) -> str:
    """Docker's units.HumanSize (decimal, 3 significant digits), as crictl's SIZE column."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000:
            return f"{value:.4g}{unit}"
        value /= 1000
    return f"{value:.4g}PB"


def cmd_images(c: Client, a: argparse.Namespace) -> None:
    f = cri.ImageFilter(image=cri.ImageSpec(image=a.image)) if a.image else None
    items = c.images.ListImages(cri.ListImagesRequest(filter=f), timeout=c.timeout).images
    if a.quiet:
        print("\n".join(i.id for i in items))
        return
    if a.output != "table":
        print(render({"images": [to_dict(i) for i in items]}, a.output))
        return
    rows = []
    for i in items:
        short_id = i.id if a.no_trunc else i.id.removeprefix("sha256:")[:TRUNC]
        tags = list(i.repo_tags) or ["<none>:<none>"]
        for tag in tags:
            repo, _, t = tag.rpartition(":")
            rows.append([repo, t, short_id, _size(i.size)])
    print(table(["IMAGE", "TAG", "IMAGE ID", "SIZE"], rows))


def cmd_pull(c: Client, a: argparse.Namespace) -> None:
    auth = None
    if a.creds:
        user, _, password = a.creds.partition(":")
        auth = cri.AuthConfig(username=user, password=password)
    ref = c.images.PullImage(cri.PullImageRequest(image=cri.ImageSpec(image=a.image), auth=auth),
                             timeout=c.timeout).image_ref
    print(f"Image is up to date for {ref}")


def cmd_rmi(c: Client, a: argparse.Namespace) -> None:
    for image in a.images:
        c.images.RemoveImage(cri.RemoveImageRequest(image=cri.ImageSpec(image=image)), timeout=c.timeout)
        print(f"Deleted: {image}")


def cmd_runp(c: Client, a: argparse.Namespace) -> None:
    config = load_config(a.config, cri.PodSandboxConfig())
    assert isinstance(config, cri.PodSandboxConfig)
    resp = c.runtime.RunPodSandbox(cri.RunPodSandboxRequest(config=config, runtime_handler=a.runtime),
                                   timeout=c.timeout)
    print(resp.pod_sandbox_id)


def cmd_create(c: Client, a: argparse.Namespace) -> None:
    config = load_config(a.container_config, cri.ContainerConfig())
    pod_config = load_config(a.pod_config, cri.PodSandboxConfig())
    assert isinstance(config, cri.ContainerConfig) and isinstance(pod_config, cri.PodSandboxConfig)
    if not a.no_pull:
        status = c.images.ImageStatus(cri.ImageStatusRequest(image=config.image), timeout=c.timeout)
        if not status.HasField("image"):
            c.images.PullImage(cri.PullImageRequest(image=config.image, sandbox_config=pod_config), timeout=c.timeout)
    resp = c.runtime.CreateContainer(cri.CreateContainerRequest(pod_sandbox_id=_resolve_pod(c, a.pod), config=config,
                                                                sandbox_config=pod_config), timeout=c.timeout)
    print(resp.container_id)


def cmd_start(c: Client, a: argparse.Namespace) -> None:
    for cid in a.ids:
        c.runtime.StartContainer(cri.StartContainerRequest(container_id=_resolve_container(c, cid)), timeout=c.timeout)
        print(cid)


def cmd_stop(c: Client, a: argparse.Namespace) -> None:
    for cid in a.ids:
        c.runtime.StopContainer(cri.StopContainerRequest(container_id=_resolve_container(c, cid),
                                                         timeout=a.stop_timeout), timeout=c.timeout + a.stop_timeout)
        print(cid)


def cmd_rm(c: Client, a: argparse.Namespace) -> None:
    for cid in a.ids:
        full = _resolve_container(c, cid)
        state = c.runtime.ContainerStatus(cri.ContainerStatusRequest(container_id=full), timeout=c.timeout).status.state
        if state == cri.CONTAINER_RUNNING:
            if not a.force:
                raise CrictlError(f"container {cid} is running, please stop it first (or use --force)")
            c.runtime.StopContainer(cri.StopContainerRequest(container_id=full), timeout=c.timeout)
        c.runtime.RemoveContainer(cri.RemoveContainerRequest(container_id=full), timeout=c.timeout)
        print(cid)


def cmd_stopp(c: Client, a: argparse.Namespace) -> None:
    for sid in a.ids:
        c.runtime.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=_resolve_pod(c, sid)), timeout=c.timeout)
        print(f"Stopped sandbox {sid}")


def cmd_rmp(c: Client, a: argparse.Namespace) -> None:
    for sid in a.ids:
        full = _resolve_pod(c, sid)
        if a.force:
            c.runtime.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=full), timeout=c.timeout)
        c.runtime.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=full), timeout=c.timeout)
        print(f"Removed sandbox {sid}")


def _with_info(status: Message, info: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"status": to_dict(status)}
    for key, value in info.items():
        try:
            data[key] = json.loads(value)
        except ValueError:
            data[key] = value
    return data


def cmd_inspect(c: Client, a: argparse.Namespace) -> None:
    for cid in a.ids:
        resp = c.runtime.ContainerStatus(cri.ContainerStatusRequest(container_id=_resolve_container(c, cid),
                                                                    verbose=True), timeout=c.timeout)
        print(render(_with_info(resp.status, resp.info), "yaml" if a.output == "yaml" else "json"))


def cmd_inspectp(c: Client, a: argparse.Namespace) -> None:
    for sid in a.ids:
        resp = c.runtime.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=_resolve_pod(c, sid),
                                                                      verbose=True), timeout=c.timeout)
        print(render(_with_info(resp.status, resp.info), "yaml" if a.output == "yaml" else "json"))


def cmd_inspecti(c: Client, a: argparse.Namespace) -> None:
    for image in a.ids:
        resp = c.images.ImageStatus(cri.ImageStatusRequest(image=cri.ImageSpec(image=image), verbose=True),
                                    timeout=c.timeout)
        if not resp.HasField("image"):
            raise CrictlError(f"no such image {image!r} present")
        print(render(_with_info(resp.image, resp.info), "yaml" if a.output == "yaml" else "json"))


def _print_record(line: bytes, timestamps: bool) -> None:
    ts, _, rest = line.partition(b" ")
    stream, _, rest = rest.partition(b" ")
    tag, _, content = rest.partition(b" ")
    target = sys.stderr.buffer if stream == b"stderr" else sys.stdout.buffer
    prefix = ts + b" " if timestamps else b""
    target.write(prefix + content + (b"\n" if tag == b"F" else b""))
    target.flush()


def cmd_logs(c: Client, a: argparse.Namespace) -> None:
    full = _resolve_container(c, a.id)
    status = c.runtime.ContainerStatus(cri.ContainerStatusRequest(container_id=full), timeout=c.timeout).status
    if not status.log_path:
        raise CrictlError(f"container {a.id} has no log file")
    with open(status.log_path, "rb") as f:
        lines = f.read().splitlines()
        for line in lines[-a.tail:] if a.tail >= 0 else lines:
            _print_record(line, a.timestamps)
        if not a.follow:
            return
        pending = b""
        while True:
            chunk = f.read()
            if chunk:
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for line in complete:
                    _print_record(line, a.timestamps)
                continue
            st = c.runtime.ContainerStatus(cri.ContainerStatusRequest(container_id=full), timeout=c.timeout).status
            if st.state != cri.CONTAINER_RUNNING:
                return
            time.sleep(0.2)


def cmd_exec(c: Client, a: argparse.Namespace) -> int:
    if not a.cmd:
        raise CrictlError("exec needs a command")
    full = _resolve_container(c, a.id)
    if (a.interactive or a.tty) and not a.sync:
        url = c.runtime.Exec(cri.ExecRequest(container_id=full, cmd=a.cmd, tty=a.tty, stdin=a.interactive,
                                             stdout=True, stderr=not a.tty), timeout=c.timeout).url
        return asyncio.run(stream_exec(url, a.tty, a.interactive))
    resp = c.runtime.ExecSync(cri.ExecSyncRequest(container_id=full, cmd=a.cmd, timeout=a.exec_timeout),
                              timeout=(a.exec_timeout or c.timeout) + 5)
    sys.stdout.buffer.write(resp.stdout)
    sys.stdout.flush()
    sys.stderr.buffer.write(resp.stderr)
    return resp.exit_code


def status_exit_code(status: dict[str, Any]) -> int:
    """The exit code carried by the metav1.Status on the streaming error channel."""
    if status.get("status") == "Success":
        return 0
    for cause in status.get("details", {}).get("causes", []):
        if cause.get("reason") == "ExitCode":
            return int(cause.get("message", 1))
    return 1


async def stream_exec(url: str, tty: bool, interactive: bool, code: int = 1) -> int:
    """Speak the channel protocol to an Exec or Attach URL: stdin on 0, stdout 1, stderr 2, status 3, resize 4.

    Returns the exit code from the status channel, or ``code`` if none comes (attach sends none).
    """
    loop = asyncio.get_running_loop()
    saved = termios.tcgetattr(0) if tty and sys.stdin.isatty() else None
    async with aiohttp.ClientSession() as session, session.ws_connect(
            url, protocols=("v5.channel.k8s.io", "v4.channel.k8s.io")) as ws:
        v5 = ws.protocol == "v5.channel.k8s.io"
        outgoing: asyncio.Queue[bytes] = asyncio.Queue()

        def on_stdin() -> None:
            data = os.read(0, 4096)
            if data:
                outgoing.put_nowait(b"\x00" + data)
                return
            loop.remove_reader(0)
            if v5:  # v4 has no way to say "end of input"
                outgoing.put_nowait(b"\xff\x00")

        async def send_input() -> None:
            while True:
                await ws.send_bytes(await outgoing.get())

        sender = asyncio.create_task(send_input())

        try:
            if saved is not None:
                tty_mode.setraw(0)
            if tty and sys.stdout.isatty():
                size = os.get_terminal_size()
                await ws.send_bytes(b"\x04" + json.dumps({"Width": size.columns, "Height": size.lines}).encode())
            if interactive:
                loop.add_reader(0, on_stdin)
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.BINARY or not msg.data:
                    continue
                channel, payload = msg.data[0], msg.data[1:]
                if channel in (1, 2):
                    out = sys.stdout.buffer if channel == 1 else sys.stderr.buffer
                    out.write(payload)
                    out.flush()
                elif channel == 3:
                    code = status_exit_code(json.loads(payload))
        finally:
            sender.cancel()
            if interactive:
                loop.remove_reader(0)
            if saved is not None:
                termios.tcsetattr(0, termios.TCSADRAIN, saved)
    return code


def cmd_attach(c: Client, a: argparse.Namespace) -> int:
    full = _resolve_container(c, a.id)
    url = c.runtime.Attach(cri.AttachRequest(container_id=full, stdin=a.stdin, tty=a.tty, stdout=True,
                                             stderr=not a.tty), timeout=c.timeout).url
    return asyncio.run(stream_exec(url, a.tty, a.stdin, code=0))


def cmd_stats(c: Client, a: argparse.Namespace) -> None:
    f = cri.ContainerStatsFilter(id=a.id, pod_sandbox_id=a.pod)
    stats = c.runtime.ListContainerStats(cri.ListContainerStatsRequest(filter=f), timeout=c.timeout).stats
    if a.output != "table":
        print(render({"stats": [to_dict(s) for s in stats]}, a.output))
        return
    first = {s.attributes.id: (s.cpu.timestamp, s.cpu.usage_core_nano_seconds.value) for s in stats}
    time.sleep(1)
    later = {s.attributes.id: s for s in c.runtime.ListContainerStats(cri.ListContainerStatsRequest(filter=f),
                                                                       timeout=c.timeout).stats}
    rows = []
    for s in stats:
        now = later.get(s.attributes.id, s)
        t0, u0 = first[s.attributes.id]
        dt = max(1, now.cpu.timestamp - t0)
        cpu = 100.0 * (now.cpu.usage_core_nano_seconds.value - u0) / dt
        rows.append([s.attributes.id[:TRUNC], s.attributes.metadata.name, f"{cpu:.2f}",
                     _size(now.memory.working_set_bytes.value), _size(now.writable_layer.used_bytes.value),
                     str(now.writable_layer.inodes_used.value)])
    print(table(["CONTAINER", "NAME", "CPU %", "MEM", "DISK", "INODES"], rows))


COMMANDS: dict[str, Callable[[Client, argparse.Namespace], int | None]] = {
    "version": cmd_version, "info": cmd_info, "pods": cmd_pods, "ps": cmd_ps, "images": cmd_images,
    "pull": cmd_pull, "rmi": cmd_rmi, "runp": cmd_runp, "create": cmd_create, "start": cmd_start, "stop": cmd_stop,
    "rm": cmd_rm, "stopp": cmd_stopp, "rmp": cmd_rmp, "inspect": cmd_inspect, "inspectp": cmd_inspectp,
    "inspecti": cmd_inspecti, "logs": cmd_logs, "exec": cmd_exec, "attach": cmd_attach, "stats": cmd_stats,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tinykube crictl``."""
    args = _parser().parse_args(argv)
    client = Client(args.runtime_endpoint, args.timeout)
    try:
        code = COMMANDS[args.command](client, args)
    except grpc.RpcError as exc:
        print(f"{args.command}: rpc error: code = {exc.code().name} desc = {exc.details()}", file=sys.stderr)
        return 1
    except (CrictlError, OSError) as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        client.channel.close()
    return code or 0
