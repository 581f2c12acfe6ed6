import socket

import pytest

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
