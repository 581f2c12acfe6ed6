"""The node's CNI plugin server: runs tinykube-cni's calls in one long-lived process, each on its own thread.

An interpreter's start-up and imports were most of what each pod's ADD and DEL cost (about 17 of 25 ms of
CPU). flanneld serves this socket on a cluster node; the executable the runtime runs is then a small C
client (``cni/plugin_client.c``) that forwards its call here and prints the answer, and that runs the
Python plugin itself when nothing listens. The calls are the plugin's own (``cni.plugin.run``), so the
spec's semantics are unchanged: steps inside a pod's namespace move only the serving thread
(``cni.netns.Inside``), and IPAM's file lock orders concurrent calls as it orders processes.

    python -m cni.plugin_server SOCKET     # what tests and benches run beside a runtime
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
from collections.abc import Mapping

from cni import plugin
from cni.spec import IO_FAILURE, CniError, dump
from process import log as process_log
from process.log import get_logger

log = get_logger("cni.plugin_server")

REQUEST_LIMIT = 4 << 20  # a network config with a prevResult is a few KiB


def decode_request(data: bytes) -> tuple[dict[str, str], bytes]:
    """The client's request: ``NAME=VALUE\\0`` per CNI_* variable, an empty ``\\0``, then the config."""
    env: dict[str, str] = {}
    pos = 0
    while True:
        end = data.find(b"\0", pos)
        if end < 0:
            raise ValueError("request ends inside its environment")
        if end == pos:
            return env, data[end + 1:]
        name, sep, value = data[pos:end].decode(errors="replace").partition("=")
        if not sep or not name.startswith("CNI_"):
            raise ValueError(f"not a CNI variable: {name!r}")
        env[name] = value
        pos = end + 1


def encode_answer(code: int, out: str) -> bytes:
    """The exit code in decimal, a newline, then the plugin's stdout (newline-terminated when not empty)."""
    return f"{code}\n{out}\n".encode() if out else f"{code}\n".encode()


def answer(env: Mapping[str, str], stdin: bytes) -> bytes:
    """Run one call as the standalone plugin would; an unexpected failure is the spec's I/O error."""
    try:
        code, out = plugin.run(env, stdin)
    except Exception as exc:  # a bug must not take the node's other calls down with it
        log.error("CNI call failed", command=env.get("CNI_COMMAND", ""), err=f"{type(exc).__name__}: {exc}")
        code, out = 1, dump(CniError(IO_FAILURE, f"{type(exc).__name__}: {exc}").to_json("1.0.0"))
    return encode_answer(code, out)


def _read_request(conn: socket.socket) -> bytes:
    chunks, size = [], 0
    while chunk := conn.recv(65536):
        size += len(chunk)
        if size > REQUEST_LIMIT:
            raise ValueError(f"request larger than {REQUEST_LIMIT} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class PluginServer:
    """Listens on ``path`` (root only) and serves each connection on a thread of its own until closed."""

    def __init__(self, path: str) -> None:
        self.path = path
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # left by a server that was killed: nothing can be listening on it
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            old = os.umask(0o177)
            try:
                self._sock.bind(path)
            finally:
                os.umask(old)
            self._sock.listen(128)
        except BaseException:
            self._sock.close()
            raise
        self._thread = threading.Thread(target=self._accept, name="cni-plugin-server", daemon=True)

    def start(self) -> PluginServer:
        self._thread.start()
        return self

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._serve, args=(conn,), name="cni-call", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                env, stdin = decode_request(_read_request(conn))
            except (OSError, ValueError) as exc:
                log.warning("bad CNI request", err=str(exc))
                return  # no answer: the client reports "try again later"
            with contextlib.suppress(OSError):  # the client is gone: its runtime will retry or DEL
                conn.sendall(answer(env, stdin))

    def close(self) -> None:
        """Stop accepting and remove the socket; calls in progress finish on their threads."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self._thread.join(timeout=5)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m cni.plugin_server SOCKET\n")
        return 2
    process_log.configure("cni-plugin-server")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        server = PluginServer(argv[0]).start()
    except OSError as exc:
        sys.stderr.write(f"cni.plugin_server: {argv[0]}: {exc.strerror or exc}\n")
        return 1
    try:
        stop.wait()
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
