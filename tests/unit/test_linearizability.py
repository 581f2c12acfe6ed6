"""The checker accepts every history a real atomic register could produce and rejects known anomalies."""

from __future__ import annotations

import random

import pytest

from tests.support.linearizability import History, Operation, OpKind, Status, check

_ids = iter(range(10**9))


def op(kind: OpKind, key: str, value: object, call: int, ret: int, output: object = None, status: Status = "ok",
       process: int = 0) -> Operation:
    return Operation(next(_ids), process, kind, key, value, call, ret if status == "ok" else None, status, output)


def w(value: object, call: int, ret: int, key: str = "k", status: Status = "ok", process: int = 0) -> Operation:
    return op("write", key, value, call, ret, status=status, process=process)


def r(output: object, call: int, ret: int, key: str = "k", status: Status = "ok", process: int = 0) -> Operation:
    return op("read", key, None, call, ret, output=output, status=status, process=process)


def cas(expected: object, new: object, swapped: bool | None, call: int, ret: int, key: str = "k",
        status: Status = "ok", process: int = 0) -> Operation:
    return op("cas", key, (expected, new), call, ret, output=swapped, status=status, process=process)


def test_sequential_history_is_linearizable():
    assert check([w(1, 0, 10), r(1, 20, 30), w(2, 40, 50), r(2, 60, 70)]).linearizable is True


def test_concurrent_read_may_see_old_or_new_value():
    assert check([w(1, 0, 10), w(2, 20, 50), r(1, 30, 40)]).linearizable is True
    assert check([w(1, 0, 10), w(2, 20, 50), r(2, 30, 40)]).linearizable is True


def test_stale_read_is_rejected():
    result = check([w(1, 0, 10), w(2, 20, 30), r(1, 40, 50)])
    assert result.linearizable is False
    assert "read 'k' -> 1" in result.explain() or "write 'k' := 2" in result.explain()


def test_lost_acknowledged_write_is_rejected():
    assert check([w(1, 0, 10), r(None, 20, 30)]).linearizable is False


def test_read_of_a_value_never_written_is_rejected():
    assert check([w(1, 0, 10), r(3, 5, 30)]).linearizable is False


def test_two_cas_from_the_same_value_cannot_both_succeed():
    history = [w(0, 0, 1), cas(0, 1, True, 10, 30, process=1), cas(0, 2, True, 12, 28, process=2)]
    assert check(history).linearizable is False
    history[2] = cas(0, 2, False, 12, 28, process=2)
    assert check(history).linearizable is True


def test_cas_that_swapped_against_a_different_value_is_rejected():
    assert check([w(1, 0, 10), cas(2, 3, True, 20, 30)]).linearizable is False
    assert check([w(1, 0, 10), cas(1, 3, False, 20, 30)]).linearizable is False


def test_cas_chain_is_linearizable():
    assert check([w(0, 0, 1), cas(0, 1, True, 2, 3), cas(1, 2, True, 4, 5), r(2, 6, 7)]).linearizable is True


def test_indeterminate_write_may_take_effect_later_or_never():
    assert check([w(1, 0, 0, status="info"), r(None, 5, 6), r(1, 10, 20)]).linearizable is True
    assert check([w(1, 0, 0, status="info"), r(None, 5, 6)]).linearizable is True
    # once seen, it has happened: a later read cannot find the key absent again
    assert check([w(1, 0, 0, status="info"), r(1, 5, 6), r(None, 10, 20)]).linearizable is False


def test_indeterminate_write_cannot_take_effect_before_it_was_invoked():
    assert check([r(1, 0, 5), w(1, 10, 0, status="info")]).linearizable is False


def test_indeterminate_cas_only_matters_if_it_swapped():
    assert check([w(0, 0, 1), cas(0, 5, None, 2, 0, status="info"), r(5, 10, 11)]).linearizable is True
    assert check([w(7, 0, 1), cas(0, 5, None, 2, 0, status="info"), r(5, 10, 11)]).linearizable is False


def test_failed_operations_never_took_effect():
    assert check([w(1, 0, 10, status="fail"), r(1, 20, 30)]).linearizable is False
    assert check([w(1, 0, 10, status="fail"), r(None, 20, 30)]).linearizable is True


def test_keys_are_checked_separately_and_the_bad_one_is_named():
    result = check([w(1, 0, 10, key="a"), r(1, 20, 30, key="a"), w(1, 0, 10, key="b"), r(2, 20, 30, key="b")])
    assert result.linearizable is False
    assert [f.key for f in result.failures()] == ["b"]
    assert result.keys["a"].linearizable is True
    assert "key 'b' is not linearizable" in result.explain()


def test_step_budget_exhaustion_is_unknown_not_a_verdict():
    history = [w(i, 0, 100, process=i) for i in range(12)] + [r(99, 200, 300)]
    result = check(history, max_steps=50)
    assert result.linearizable is None


def _simulated_register(seed: int, processes: int = 8, ops_per_process: int = 40, keys: int = 3) -> list[Operation]:
    """Concurrent ops on a real atomic register: each takes effect at a random instant inside its interval."""
    rng = random.Random(seed)
    planned: list[tuple[float, int, str, str, int, int]] = []
    for p in range(processes):
        t = rng.randint(0, 5)
        for _ in range(ops_per_process):
            call = t + rng.randint(0, 3)
            ret = call + rng.randint(1, 12)
            point = rng.uniform(call, ret)
            kind = rng.choice(["read", "read", "write", "cas"])
            planned.append((point, p, kind, f"k{rng.randrange(keys)}", call, ret))
            t = ret + 1
    state: dict[str, object] = {}
    ops: list[Operation] = []
    for point, p, kind, key, call, ret in sorted(planned):
        del point
        if kind == "read":
            ops.append(r(state.get(key), call, ret, key=key, process=p))
        elif kind == "write":
            value = rng.randrange(5)
            state[key] = value
            ops.append(w(value, call, ret, key=key, process=p))
        else:
            expected, new = rng.randrange(5), rng.randrange(5)
            swapped = state.get(key) == expected
            if swapped:
                state[key] = new
            ops.append(cas(expected, new, swapped, call, ret, key=key, process=p))
    return ops


@pytest.mark.parametrize("seed", range(5))
def test_histories_of_a_real_register_pass_and_a_corrupted_read_fails(seed):
    ops = _simulated_register(seed)
    assert check(ops).linearizable is True
    # corrupt one read to a value no one ever wrote: no order can explain it
    victim = next(o for o in ops if o.kind == "read")
    victim.output = "never-written"
    assert check(ops).linearizable is False


def test_recorder_timestamps_statuses_and_pending_as_info():
    history = History()
    a = history.invoke("c1", "write", "k", 1)
    history.ok(a)
    b = history.invoke("c2", "read", "k")
    history.ok(b, 1)
    c = history.invoke("c3", "write", "k", 2)
    history.info(c)
    d = history.invoke("c4", "cas", "k", (2, 3))
    history.fail(d)
    history.invoke("c5", "write", "k", 9)  # never completed
    assert [o.status for o in history.operations] == ["ok", "ok", "info", "fail", "pending"]
    assert a.ret is not None and a.call <= a.ret <= b.call
    assert check(history.operations).linearizable is True
    with pytest.raises(ValueError, match="already completed"):
        history.ok(a)
    with pytest.raises(ValueError, match="reports whether it swapped"):
        history.ok(history.invoke("c6", "cas", "k", (1, 2)), "yes")
