"""A pre-imported process that forks shims on request, so a container start pays no interpreter start-up.

The daemon runs one (``python -S -m runtime.zygote FD``) and writes bundle paths, one per line, to
the socket FD; for each, the zygote forks a shim (double fork and setsid, exactly as ``runtime.shim``
detaches itself) and answers with the shim's ready line. The zygote exits with the daemon (at the
end of its socket); shims do not: they are already re-parented away from it.
"""

from __future__ import annotations

import os
import signal
import socket
import sys

from runtime import launch, shim, spec  # noqa: F401 - imported here so every forked shim has them already

REPLY_LIMIT = 65536


def _become_shim(bundle: str, ready_fd: int) -> None:
    """In the forked child: detach exactly like ``shim.main`` does, then run the shim."""
    code = 1
    try:
        log_fd = os.open(os.path.join(bundle, "shim.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(null)
        os.close(log_fd)
        os.setsid()
        if os.fork() > 0:
            os._exit(0)
        code = shim.run(bundle, ready_fd)
    except BaseException as exc:
        os.write(2, f"zygote: shim for {bundle} failed: {exc}\n".encode())
    os._exit(code)


def _start(bundle: str, sock: socket.socket) -> bytes:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        sock.close()  # the shim must not keep the daemon's end of the conversation open
        _become_shim(bundle, write_fd)
    os.close(write_fd)
    os.waitpid(pid, 0)
    reply = b""
    while b"\n" not in reply and len(reply) < REPLY_LIMIT:
        chunk = os.read(read_fd, 4096)
        if not chunk:
            break
        reply += chunk
    os.close(read_fd)
    return reply.split(b"\n")[0] or b'{"error": "shim exited without reporting; see its shim.log"}'


def serve(sock: socket.socket) -> int:
    """Answer start requests until the daemon closes its end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a ^C to the daemon's terminal is the daemon's to handle
    requests = sock.makefile("rb")
    for line in requests:
        bundle = line.decode().strip()
        if bundle:
            sock.sendall(_start(bundle, sock) + b"\n")
    return 0


def main(argv: list[str]) -> int:
    """``python -S -m runtime.zygote FD``."""
    return serve(socket.socket(fileno=int(argv[0])))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
