"""The per-container shim: starts the container, holds its stdio, writes its log, records how it ended.

Forked by the zygote (``runtime.zygote``) or run as ``python -S -m runtime.shim DIR READY_FD``. It
detaches (own session, re-parented to init), so the container outlives the daemon; it is a child
subreaper, so it waits for the container's init directly. Once the container runs it execs the
compiled pump (``shim_pump.c``, well under 1 MiB resident) when the bundle names one, and otherwise
pumps in Python, importing little beyond the standard library's basics.

``DIR`` holds ``config.json`` (a ``runtime.spec.ContainerSpec``); the shim writes ``status.json``
(``pid``, ``shim_pid``, ``started_at``, then ``finished_at``, ``exit_code``, ``reason``, ``oom_killed``)
and answers on READY_FD with one JSON line: ``{"pid": N}`` or ``{"error": "..."}``.
SIGUSR1 reopens the log file; SIGWINCH reads ``DIR/winsize`` ("rows cols") and resizes the tty.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import time

from runtime import atomicfile, containerlog
from runtime.linux import syscalls

TYPE_CHECKING = False  # not typing's: importing typing would cost every idle shim memory
if TYPE_CHECKING:
    from typing import Any

DRAIN_AFTER_EXIT = 2.0  # seconds to keep reading pipes a background process may still hold open


class _Flags:
    reopen = False
    resize = False


def _status_path(bundle: str) -> str:
    return os.path.join(bundle, "status.json")


def _write_status(bundle: str, status: dict[str, Any]) -> None:
    atomicfile.write_atomic(_status_path(bundle), json.dumps(status))


def _start(bundle: str, config: dict[str, Any]) -> tuple[int, dict[int, str], int | None, int]:
    """Fork the container; return its PID, the read ends of its output by stream name, the pty master,
    and the fd that feeds its stdin (-1 without ``stdin``; the master itself with a tty)."""
    tty = bool(config["process"].get("tty"))
    want_stdin = bool(config["process"].get("stdin"))
    if tty:
        master, slave = os.openpty()
        stdio = (slave, slave, slave)
        outputs = {master: "stdout"}
        to_close = [slave]
        stdin_w = master if want_stdin else -1
    else:
        if want_stdin:
            stdin_r, stdin_w = os.pipe()
        else:
            stdin_r, stdin_w = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC), -1
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        stdio = (stdin_r, out_w, err_w)
        outputs = {out_r: "stdout", err_r: "stderr"}
        to_close = [stdin_r, out_w, err_w]
        master = None
    read_fd, write_fd = os.pipe()
    try:
        child = os.fork()
        if child == 0:
            os.close(read_fd)
            _become_intermediate(config, stdio, write_fd)
        os.close(write_fd)
        pid = _read_report(read_fd, child)
    finally:
        for fd in to_close:
            os.close(fd)
    return pid, outputs, master, stdin_w


def _become_intermediate(config: dict[str, Any], stdio: tuple[int, int, int], report_fd: int) -> None:
    """In the forked child: only here are the launch machinery's imports paid, so the shim stays small."""
    try:
        from runtime import launch  # noqa: PLC0415
        from runtime.spec import ContainerSpec  # noqa: PLC0415

        launch.intermediate(ContainerSpec.from_dict(config), stdio, report_fd)
    except BaseException as exc:
        os.write(report_fd, f"error setup: {exc}\n".encode())
    os._exit(127)


def _read_report(read_fd: int, child: int) -> int:
    """The container init's PID, once every copy of the report pipe is closed (by exit or by execve)."""
    chunks = []
    while chunk := os.read(read_fd, 4096):
        chunks.append(chunk)
    os.close(read_fd)
    os.waitpid(child, 0)
    lines = b"".join(chunks).decode(errors="replace").splitlines()
    errors = [line[6:] for line in lines if line.startswith("error ")]
    pids = [int(line[4:]) for line in lines if line.startswith("pid ")]
    if pids and errors:
        os.waitpid(pids[0], 0)  # the init failed before exec and is now our (re-parented) child
    if errors or not pids:
        raise RuntimeError(errors[0] if errors else "container init vanished before exec")
    return pids[0]


def _resize(bundle: str, master: int) -> None:
    import fcntl  # noqa: PLC0415 - resizes are rare
    import struct  # noqa: PLC0415
    import termios  # noqa: PLC0415

    try:
        with open(os.path.join(bundle, "winsize")) as f:
            rows, cols = (int(x) for x in f.read().split()[:2])
    except (OSError, ValueError):
        return
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _oom_file(config: dict[str, Any]) -> str:
    path, mount = config.get("cgroup_path", ""), config.get("cgroup_mount", "/sys/fs/cgroup")
    if not path:
        return ""
    if config.get("cgroup_driver", "v1") == "v2":
        return f"{mount}/{path}/memory.events"
    return f"{mount}/memory/{path}/memory.oom_control"


def _exec_pump(pump: str, bundle: str, config: dict[str, Any], state: dict[str, Any], outputs: dict[int, str], *,
               master: int | None, stdin_w: int) -> None:
    """Hand the container over to the C pump (same PID, still its subreaper parent): a fraction of our memory.

    The pump also serves attach (``attach.sock`` in the bundle), which the Python pump does not.
    """
    argv = ["runtime.shim", bundle, str(state["pid"]), str(state["started_at"]), config.get("log_path") or "",
            str(config.get("log_max_size", 10 << 20)), str(config.get("log_max_files", 5)), _oom_file(config),
            "1" if master is not None else "0", str(stdin_w),
            "1" if config["process"].get("stdin_once") else "0"]
    passed = [*outputs, *([stdin_w] if stdin_w >= 0 else [])]
    for fd in passed:
        os.set_inheritable(fd, True)
    argv.extend(f"{fd}:{name}" for fd, name in outputs.items())
    try:
        os.execv(pump, argv)
    except OSError as exc:
        sys.stderr.write(f"shim: exec {pump} failed ({exc}); pumping in Python\n")
        for fd in passed:
            os.set_inheritable(fd, False)


def _oom_kills(config: dict[str, Any]) -> int:
    if not config.get("cgroup_path"):
        return 0
    from runtime.linux.cgroups import driver_for  # noqa: PLC0415 - only needed once, at exit

    try:
        return driver_for(config.get("cgroup_driver", "v1"), config.get("cgroup_mount", "/sys/fs/cgroup")).oom_kills(
            config["cgroup_path"])
    except OSError:
        return 0


def _pump(bundle: str, config: dict[str, Any], pid: int, outputs: dict[int, str], master: int | None) -> int:
    """Copy output to the log until the container has exited and its pipes are drained; return its wait status."""
    log = containerlog.LogWriter(config["log_path"], config.get("log_max_size", 10 << 20),
                                 config.get("log_max_files", 5)) if config.get("log_path") else None
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGUSR1, lambda *_: setattr(_Flags, "reopen", True))
    signal.signal(signal.SIGWINCH, lambda *_: setattr(_Flags, "resize", True))
    status: int | None = None
    deadline = 0.0
    while True:
        while True:
            try:
                reaped, wstatus = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if reaped == 0:
                break
            if reaped == pid:
                status, deadline = wstatus, time.monotonic() + DRAIN_AFTER_EXIT
        if status is not None and (not outputs or time.monotonic() > deadline):
            break
        timeout = None if status is None else max(0.0, deadline - time.monotonic())
        try:
            ready, _, _ = select.select([*outputs, wake_r], [], [], timeout)
        except InterruptedError:
            continue
        if _Flags.reopen and log is not None:
            _Flags.reopen = False
            log.reopen()
        if _Flags.resize and master is not None:
            _Flags.resize = False
            _resize(bundle, master)
        for fd in ready:
            if fd == wake_r:
                os.read(wake_r, 4096)
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO from a pty master once the last slave is closed
                data = b""
            if not data:
                if log is not None:
                    log.flush(outputs[fd])
                os.close(fd)
                del outputs[fd]
            elif log is not None:
                log.write(outputs[fd], data)
    if log is not None:
        log.close()
    assert status is not None
    return status


def run(bundle: str, ready_fd: int) -> int:
    """Start the container described in ``bundle``, report on ``ready_fd``, then pump until it exits."""
    with open(os.path.join(bundle, "config.json")) as f:
        config = json.load(f)
    syscalls.set_child_subreaper()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the shim outlives a stop: it must record the exit
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        pid, outputs, master, stdin_w = _start(bundle, config)
    except Exception as exc:
        now = time.time_ns()
        _write_status(bundle, {"pid": 0, "shim_pid": os.getpid(), "shim_start": 0, "started_at": 0, "finished_at": now,
                               "exit_code": 128, "reason": "StartError", "message": str(exc),
                               "oom_killed": False})
        os.write(ready_fd, (json.dumps({"error": str(exc)}) + "\n").encode())
        os.close(ready_fd)
        return 1
    with open("/proc/self/stat", "rb") as f:
        shim_start = int(f.read().rsplit(b")", 1)[1].split()[19])
    state: dict[str, Any] = {"pid": pid, "shim_pid": os.getpid(), "shim_start": shim_start,
                             "started_at": time.time_ns()}
    _write_status(bundle, state)
    os.write(ready_fd, (json.dumps({"pid": pid}) + "\n").encode())
    os.close(ready_fd)
    pump = config.get("pump", "")
    if pump and os.access(pump, os.X_OK):
        _exec_pump(pump, bundle, config, state, outputs, master=master, stdin_w=stdin_w)  # returns only on failure
    if stdin_w >= 0 and stdin_w != master:
        os.close(stdin_w)  # nothing can attach to a Python-pumped container: its stdin ends now
    wstatus = _pump(bundle, config, pid, outputs, master)
    code = os.WEXITSTATUS(wstatus) if os.WIFEXITED(wstatus) else 128 + os.WTERMSIG(wstatus)
    oom = _oom_kills(config) > 0
    state.update(finished_at=time.time_ns(), exit_code=code, oom_killed=oom,
                 reason="OOMKilled" if oom else ("Completed" if code == 0 else "Error"))
    _write_status(bundle, state)
    return 0


def main(argv: list[str]) -> int:
    """``python -S -m runtime.shim DIR READY_FD``: detach, then ``run``."""
    bundle, ready_fd = argv[0], int(argv[1])
    os.set_inheritable(ready_fd, False)  # the container must not hold the daemon's pipe open
    if os.fork() > 0:
        os._exit(0)  # the daemon reaps this at once; the real shim is re-parented away from the daemon
    os.setsid()
    return run(bundle, ready_fd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
