"""``tinykube runtime``: the CRI server (RuntimeService, and the image half's ImageService) on a unix socket."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

import grpc

from process import log as plog
from process.flags import ComponentParser
from process.shutdown import serve
from protos.cri import api_pb2_grpc
from runtime.cni import CNI
from runtime.engine import Runtime
from runtime.images.service import servicer_from_args
from runtime.images.store import ImageStore
from runtime.linux.cgroups import driver_for
from runtime.service import RuntimeServicer
from runtime.shimclient import close_zygote
from runtime.streaming import StreamingServer

log = plog.get_logger("runtime.main")


def parser() -> ComponentParser:
    """The daemon's flags (each also settable as ``TINYKUBE_RUNTIME_<FLAG>``)."""
    p = ComponentParser("runtime", description="tinykube's container runtime: CRI v1 over gRPC on a unix socket.")
    p.add_argument("--listen", default="unix:///run/tinykube/runtime.sock", help="CRI endpoint, unix://PATH")
    p.add_argument("--root", default="/var/lib/tinykube/runtime", help="images and container filesystems")
    p.add_argument("--state", default="/run/tinykube/runtime", help="sandbox and container records, shim files")
    p.add_argument("--cni-bin-dir", default="/usr/lib/cni", help="CNI plugin directories, colon-separated")
    p.add_argument("--cni-conf-dir", default="/etc/cni/net.d", help="CNI network configuration directory")
    p.add_argument("--registry-mirror", action="append", default=[], metavar="NAME=URL",
                   help="serve registry NAME (e.g. docker.io) from URL; repeatable")
    p.add_argument("--insecure-registry", action="append", default=[], metavar="HOST:PORT",
                   help="registry to reach over plain HTTP; repeatable")
    p.add_argument("--cgroup-root", default="tinykube", help="the project-owned parent of every cgroup we create")
    p.add_argument("--streaming-address", default="127.0.0.1:0",
                   help="HOST:PORT of the exec/port-forward streaming server (port 0: any free port)")
    p.add_argument("--cgroup-driver", default="auto", choices=("auto", "v1", "v2"), help="cgroup hierarchy to use")
    return p


def socket_path(listen: str) -> str:
    """The filesystem path of a ``unix://PATH`` endpoint."""
    if not listen.startswith("unix://"):
        raise argparse.ArgumentTypeError(f"--listen must be unix://PATH, not {listen!r}")
    return listen[len("unix://"):]


def build(args: argparse.Namespace) -> tuple[Runtime, ImageStore]:
    """The engine over the directories and cgroup driver the flags name, reconciled with what is on disk."""
    for directory in (args.root, args.state, os.path.dirname(socket_path(args.listen))):
        Path(directory).mkdir(parents=True, exist_ok=True)
    cgroups = driver_for(args.cgroup_driver)
    images = ImageStore(Path(args.root) / "images")
    runtime = Runtime(args.state, args.root, cgroups, images, CNI(args.cni_bin_dir.split(":"), args.cni_conf_dir),
                      cgroup_root=args.cgroup_root, cgroup_driver_name="v2" if cgroups.name.endswith("v2") else "v1")
    runtime.reconcile()
    return runtime, images


def _unlink_stale(path: str) -> None:
    if os.path.exists(path):
        os.unlink(path)


async def run(args: argparse.Namespace, stop: asyncio.Event) -> int:
    """Serve CRI until ``stop`` is set; containers keep running after the daemon exits."""
    path = socket_path(args.listen)
    runtime, images = await asyncio.to_thread(build, args)
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 32 << 20),
                                      ("grpc.max_send_message_length", 32 << 20)])
    streaming = StreamingServer(runtime, args.streaming_address)
    await streaming.start()
    api_pb2_grpc.add_RuntimeServiceServicer_to_server(RuntimeServicer(runtime, streaming), server)
    image_servicer = servicer_from_args(images, args)
    api_pb2_grpc.add_ImageServiceServicer_to_server(image_servicer, server)
    await asyncio.to_thread(_unlink_stale, path)
    server.add_insecure_port(f"unix://{path}")
    await server.start()
    log.info("serving CRI", endpoint=args.listen, root=args.root, state=args.state, cgroups=runtime.cgroups.name,
             sandboxes=len(runtime.sandboxes.records()), containers=len(runtime.containers.records()))
    await stop.wait()
    # Containers keep running: their shims hold them, and the next daemon picks them up.
    await server.stop(grace=2)
    await streaming.stop()
    await asyncio.to_thread(close_zygote)
    await image_servicer.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tinykube runtime``."""
    args = parser().parse_args(argv)
    plog.configure("runtime", args.verbosity)
    try:
        socket_path(args.listen)
    except argparse.ArgumentTypeError as exc:
        parser().error(str(exc))
    return serve(lambda stop: run(args, stop))
