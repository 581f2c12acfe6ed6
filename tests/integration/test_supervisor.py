"""The supervisor against real processes: restarts after crashes, stops whole process groups."""

import asyncio
import os
import subprocess

from tinykube.supervisor import Component, Supervisor, read_state


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()
    return not stat.startswith("Z")


async def wait_for(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def test_crashed_component_is_restarted_and_state_is_published(tmp_path):
    sup = Supervisor(tmp_path / "logs", tmp_path / "supervisor.json")
    sup.start(Component("node1", "sleeper", ("sleep", "600")))
    try:
        await wait_for(lambda: sup.pid("node1", "sleeper") is not None)
        first = sup.pid("node1", "sleeper")
        assert sup.kill("node1", "sleeper") == first
        await wait_for(lambda: sup.pid("node1", "sleeper") not in (None, first))
        [status] = read_state(tmp_path / "supervisor.json")
        assert (status.node, status.name, status.state, status.restarts) == ("node1", "sleeper", "running", 1)
        assert status.last_exit == -9
        assert "starting sleep 600" in (tmp_path / "logs" / "node1" / "sleeper.log").read_text()
    finally:
        await sup.shutdown(grace=2)
    assert read_state(tmp_path / "supervisor.json")[0].state == "stopped"


async def test_stop_takes_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    sup = Supervisor(tmp_path / "logs", tmp_path / "s.json")
    # The child ignores SIGTERM, so only the SIGKILL of the group can end it.
    sup.start(Component("node1", "parent", ("sh", "-c", f"sh -c 'trap \"\" TERM; echo $$ > {pidfile}; "
                                                        f"while :; do sleep 1; done' & wait")))
    await wait_for(pidfile.exists)
    await wait_for(lambda: pidfile.read_text().strip() != "")
    child = int(pidfile.read_text())
    assert alive(child)
    await sup.stop("node1", "parent", grace=1)
    await wait_for(lambda: not alive(child), timeout=5)


async def test_a_component_that_cannot_start_backs_off_instead_of_spinning(tmp_path):
    sup = Supervisor(tmp_path / "logs", tmp_path / "s.json")
    sup.start(Component("node1", "broken", ("/nonexistent/binary",)))
    await asyncio.sleep(1.2)
    [status] = sup.statuses()
    assert status.state == "backoff"
    assert 1 <= status.restarts <= 2  # 0.5 s, then 1 s: no tight loop
    await sup.shutdown()


async def test_components_run_with_two_malloc_arenas_unless_their_spec_says_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    sup = Supervisor(tmp_path / "logs", tmp_path / "s.json")
    for name, env in (("default", ()), ("own", (("MALLOC_ARENA_MAX", "4"),))):
        out = tmp_path / name
        sup.start(Component("node1", name, ("sh", "-c", f'echo "$MALLOC_ARENA_MAX" > {out}.tmp && mv {out}.tmp {out}; '
                                                        "sleep 600"), env=env))
    try:
        await wait_for(lambda: (tmp_path / "default").exists() and (tmp_path / "own").exists())
        assert (tmp_path / "default").read_text() == "2\n"
        assert (tmp_path / "own").read_text() == "4\n"
    finally:
        await sup.shutdown(grace=2)
