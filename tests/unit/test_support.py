import socket
import subprocess
import sys

import pytest

from tests.support import ports
from tests.support.cleanup import Cleanup
from tests.support.names import PREFIX_LEN, unique_prefix
from tests.support.ports import free_port


def test_cleanup_runs_everything_in_reverse_even_when_one_step_fails():
    done: list[str] = []
    stack = Cleanup()
    stack.add(done.append, "first")

    def broken() -> None:
        raise RuntimeError("boom")

    stack.add(broken)
    stack.add(done.append, "last")
    with pytest.raises(RuntimeError, match="boom"):
        stack.run()
    assert done == ["last", "first"]


def test_prefixes_are_short_and_distinct():
    prefixes = {unique_prefix() for _ in range(200)}
    assert len(prefixes) == 200
    assert all(len(p) == PREFIX_LEN and p.startswith("tk") for p in prefixes)


def test_free_ports_bind_and_do_not_repeat():
    ports = [free_port() for _ in range(20)]
    assert len(set(ports)) == 20
    assert all(10000 <= p < 32000 for p in ports)
    with socket.socket() as s:
        s.bind(("127.0.0.1", ports[0]))



def test_free_ports_skip_ports_another_test_run_claimed():
    """A second test run on the machine uses the same worker names: it must not get our ports."""
    other = subprocess.Popen(
        [sys.executable, "-c",
         "import sys\nfrom tests.support.ports import free_port\n"
         "print(*(free_port() for _ in range(5)), flush=True)\nsys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert other.stdout is not None
    try:
        theirs = {int(p) for p in other.stdout.readline().split()}
        ports._next.clear()  # start again from the slice's first port, as a fresh run would
        mine = {free_port() for _ in range(5)}
    finally:
        other.communicate("")
    assert len(theirs) == 5 and not mine & theirs
