"""The forks between a shim and a container's execve: namespaces, cgroups, rootfs, identity, privileges.

``intermediate`` runs in a process the shim forked: it joins the sandbox's namespaces and the
container's cgroups, unshares new ones, forks the container's init (PID 1 of a new PID namespace),
reports that init's host PID on the report pipe and exits; the shim, a child subreaper, inherits
the init. Failures anywhere before execve travel back over the same close-on-exec pipe as an
``error`` line, so "the container started" means execve succeeded.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import struct
import sys
import termios
from collections.abc import Sequence

from runtime.linux import capabilities, rootfs, seccomp
from runtime.linux import syscalls as sc
from runtime.linux.cgroups import driver_for
from runtime.spec import ContainerSpec, ProcessSpec

# unlockpt() and ptsname() as ioctls (x86_64 values; Python's termios does not export them).
TIOCSPTLCK = 0x40045431
TIOCGPTN = 0x80045430

# setns order: the mount namespace last, since joining it changes how later paths resolve.
JOIN_ORDER = ("user", "ipc", "uts", "net", "pid", "cgroup", "mnt")


def _report(fd: int, line: str) -> None:
    os.write(fd, (line.replace("\n", " ") + "\n").encode())


def _fail(fd: int, step: str, exc: BaseException, code: int = 127) -> None:
    try:
        _report(fd, f"error {step}: {exc}")
    finally:
        os._exit(code)


def _env_dict(env: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env:
        key, _, value = item.partition("=")
        out[key] = value
    out.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    return out


def _reset_signals() -> None:
    """Ignored dispositions survive execve: the shim's (and Python's SIGPIPE) must not reach the container."""
    for sig in signal.valid_signals():
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            with contextlib.suppress(OSError, ValueError):
                signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def drop_privileges_and_exec(proc: ProcessSpec, report_fd: int) -> None:
    """The last steps of every process we start in a container, init or exec: never returns."""
    step = "chdir"
    try:
        os.chdir(proc.cwd or "/")
        env = _env_dict(proc.env)
        if proc.seccomp:
            step = "seccomp"
            # Loaded while we still hold CAP_SYS_ADMIN, so it works without no_new_privs.
            seccomp.load(seccomp.program())
        step = "capabilities"
        capabilities.apply(proc.caps, proc.uid, proc.gid, proc.groups, proc.ambient_caps)
        if proc.no_new_privs:
            sc.set_no_new_privs()
        step = "exec"
        _reset_signals()
        os.execvpe(proc.args[0], proc.args, env)
    except BaseException as exc:
        # A shell's convention: 127 for a command not found, 126 for one that cannot run.
        code = 127 if isinstance(exc, FileNotFoundError) or step != "exec" else 126
        _fail(report_fd, f"{step} {proc.args[0] if proc.args else ''}".strip(), exc, code)


def _container_init(spec: ContainerSpec, stdio: tuple[int, int, int], report_fd: int) -> None:
    step = "stdio"
    try:
        os.setsid()
        for target, fd in enumerate(stdio):
            os.dup2(fd, target)
        if spec.process.tty:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        if spec.process.oom_score_adj is not None:
            step = "oom_score_adj"
            # Lowering it needs CAP_SYS_RESOURCE, which a nested runtime may lack: a preference, not a must.
            with contextlib.suppress(PermissionError), open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(spec.process.oom_score_adj))
        step = "rootfs"
        rootfs.prepare(spec.rootfs)
        if spec.hostname and "uts" in spec.new_namespaces:
            step = "hostname"
            sc.sethostname(spec.hostname)
        step = "pivot_root"
        rootfs.enter(spec.rootfs)
    except BaseException as exc:
        _fail(report_fd, step, exc)
    drop_privileges_and_exec(spec.process, report_fd)


def intermediate(spec: ContainerSpec, stdio: tuple[int, int, int], report_fd: int) -> None:
    """Join, unshare and fork the container init; report its PID and exit (never returns)."""
    step = "cgroup"
    try:
        if spec.cgroup_path:
            driver_for(spec.cgroup_driver, spec.cgroup_mount).add_process(spec.cgroup_path, os.getpid())
        for kind in JOIN_ORDER:
            if kind in spec.join_namespaces:
                step = f"join {kind} namespace"
                sc.setns_path(spec.join_namespaces[kind], sc.NAMESPACE_FLAGS[kind])
        flags = 0
        for kind in spec.new_namespaces:
            flags |= sc.NAMESPACE_FLAGS[kind]
        step = "unshare"
        sc.unshare(flags)
        pid = os.fork()
        if pid == 0:
            _container_init(spec, stdio, report_fd)
        _report(report_fd, f"pid {pid}")
    except BaseException as exc:
        _fail(report_fd, step, exc)
    os._exit(0)


def exit_code(status: int) -> int:
    """A wait status as a shell reports it: the exit code, or 128+N for death by signal N."""
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


class ContainerExited(Exception):
    """The container's process is gone: there are no namespaces left to join."""


def exec_in(target_pid: int, spec: ContainerSpec, args: list[str], tty: bool = False, resize_fd: int = -1) -> int:
    """Run ``args`` inside a running container (ExecSync): join its namespaces and cgroup, fork, exec.

    Returns the exit status as a shell would (128+N for a signal). stdio is the caller's.
    """
    fds: dict[str, int] = {}
    own = {kind: os.stat(f"/proc/self/ns/{kind}").st_ino for kind in JOIN_ORDER if kind != "user"}
    for kind in JOIN_ORDER:
        if kind == "user":
            continue
        path = f"/proc/{target_pid}/ns/{kind}"
        try:
            if os.stat(path).st_ino != own[kind]:
                fds[kind] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:  # it exited after the daemon saw it running
            raise ContainerExited(f"cannot exec in a stopped container: its process {target_pid} has exited") from None
    if spec.cgroup_path:
        driver_for(spec.cgroup_driver, spec.cgroup_mount).add_process(spec.cgroup_path, os.getpid())
    for kind in JOIN_ORDER:
        if kind in fds:
            sc.setns(fds[kind], sc.NAMESPACE_FLAGS[kind])
            os.close(fds[kind])
    env = list(spec.process.env) + (["TERM=xterm"] if tty and not any(e.startswith("TERM=") for e in
                                                                      spec.process.env) else [])
    proc = ProcessSpec(**{**spec.process.__dict__, "args": args, "tty": tty, "env": env})
    # A terminal comes from the container's own devpts (we are in its mount namespace now), so that
    # ttyname() and job control work inside; we relay between it and our stdio.
    master, slave_path = _container_pty() if tty else (-1, "")
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        if tty:
            os.close(master)
            os.setsid()
            slave = os.open(slave_path, os.O_RDWR)
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for target in (0, 1, 2):
                os.dup2(slave, target)
            os.close(slave)
        drop_privileges_and_exec(proc, write_fd)
    os.close(write_fd)
    message = b""
    while chunk := os.read(read_fd, 4096):
        message += chunk
    if message.startswith(b"error "):
        sys.stderr.write(message[6:].decode(errors="replace"))
    status = _relay_tty(master, pid, resize_fd) if tty else None
    if status is None:
        _, status = os.waitpid(pid, 0)
    return exit_code(status)


def _container_pty() -> tuple[int, str]:
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
    number = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0\0\0\0"))[0]
    return master, f"/dev/pts/{number}"


def _relay_tty(master: int, pid: int, resize_fd: int) -> int | None:
    """Copy stdin to the terminal and the terminal to stdout until the command is gone.

    ``resize_fd``, when given, carries ``ROWS COLS`` lines: window resizes forwarded by the streaming server.
    Returns the command's wait status if it was reaped here.
    """
    status: int | None = None
    inputs = [0, master] + ([resize_fd] if resize_fd >= 0 else [])
    pending = b""
    while master in inputs:
        ready, _, _ = select.select(inputs, [], [], 0.2)
        if not ready and status is None:
            reaped, wstatus = os.waitpid(pid, os.WNOHANG)
            if reaped == pid:
                # Exited while something else holds the terminal: take what is buffered, then stop.
                status, ready, inputs = wstatus, [master], [master]
        elif not ready:
            break
        for fd in ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the last slave is closed
                data = b""
            if fd == master:
                if not data:
                    inputs.remove(master)
                else:
                    os.write(1, data)
            elif fd == 0:
                if data:
                    os.write(master, data)
                else:
                    inputs.remove(0)
                    os.write(master, b"\x04")  # end of input, as a terminal says it
            else:
                pending += data
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    rows, cols = (int(x) for x in line.split()[:2])
                    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
                if not data:
                    inputs.remove(resize_fd)
    os.close(master)
    return status


def main(argv: Sequence[str]) -> int:
    """``python -m runtime.launch exec CONFIG PID [--tty] [--resize-fd=N] -- ARGS...``: the daemon's exec helper."""
    dash = list(argv).index("--") if "--" in argv else len(argv)
    head, args = list(argv[:dash]), list(argv[dash + 1:])
    tty = "--tty" in head
    resize = [int(h.split("=", 1)[1]) for h in head if h.startswith("--resize-fd=")]
    head = [h for h in head if h != "--tty" and not h.startswith("--resize-fd=")]
    if len(head) != 3 or head[0] != "exec" or not args:
        sys.stderr.write("usage: python -m runtime.launch exec CONFIG PID [--tty] [--resize-fd=N] -- ARGS...\n")
        return 2
    try:
        return exec_in(int(head[2]), ContainerSpec.load(head[1]), args, tty, resize[0] if resize else -1)
    except ContainerExited as exc:
        sys.stderr.write(f"{exc}\n")
        return 126


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
