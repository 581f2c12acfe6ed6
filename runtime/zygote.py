"""A pre-imported process that forks shims on request, so a container start pays no interpreter start-up.

The daemon runs one (``python -S -m runtime.zygote FD``) and sends it one datagram per start on the
``SOCK_SEQPACKET`` socket FD: a bundle path, with the write end of a pipe attached (``SCM_RIGHTS``). The
zygote forks a shim on it (in a session of its own) and moves on at once; the shim writes its ready line to
that pipe, straight to the daemon thread that asked. So many pods start side by side instead of queueing
behind one another's whole container set-up. One fork, not a detaching double fork: each fork of this
interpreter costs about a millisecond and a half of CPU per container, and the kernel reaps the zygote's
exited shims itself (``SIGCHLD`` ignored). The zygote exits with the daemon (at the end of its socket);
shims do not: they are re-parented to init then, as a double fork would have done at once.
"""

from __future__ import annotations

import os
import signal
import socket
import sys

from runtime import launch, shim, spec  # noqa: F401 - imported here so every forked shim has them already

REQUEST_LIMIT = 65536


def _become_shim(bundle: str, ready_fd: int) -> None:
    """In the forked child: detach from the daemon's session and stdio, then run the shim."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the shim waits for its container: no auto-reaping
        log_fd = os.open(os.path.join(bundle, "shim.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(null)
        os.close(log_fd)
        os.setsid()
        code = shim.run(bundle, ready_fd)
    except BaseException as exc:
        os.write(2, f"zygote: shim for {bundle} failed: {exc}\n".encode())
    os._exit(code)


def _start(bundle: str, ready_fd: int, sock: socket.socket) -> None:
    if os.fork() == 0:
        sock.close()  # the shim must not keep the daemon's end of the conversation open
        _become_shim(bundle, ready_fd)
    os.close(ready_fd)


def serve(sock: socket.socket) -> int:
    """Fork a shim for each request until the daemon closes its end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a ^C to the daemon's terminal is the daemon's to handle
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # shims that exit are reaped by the kernel, not waited for
    while True:
        request, fds, _, _ = socket.recv_fds(sock, REQUEST_LIMIT, 1)
        if not request:
            return 0
        if not fds:
            continue
        os.set_inheritable(fds[0], False)  # received descriptors are inheritable: the container must not hold it
        _start(request.decode(), fds[0], sock)


def main(argv: list[str]) -> int:
    """``python -S -m runtime.zygote FD``."""
    return serve(socket.socket(fileno=int(argv[0])))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
