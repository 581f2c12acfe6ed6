"""Record concurrent key-value histories and check them for linearizability.

Clients record each operation's invocation and completion (``ok``: it took effect with this output;
``fail``: it certainly did not take effect; ``info``: unknown, e.g. a timeout) with monotonic
timestamps. ``check`` then searches for a total order of the operations that respects real time
(an operation that completed before another was invoked comes first) and the sequential
specification of a register per key (read returns the last written value; compare-and-swap
writes only if the value matches).

The search is Wing & Gong's with Lowe's memoization, as in Knossos and Porcupine: walk the
history in time order, tentatively linearize any pending operation the model accepts, backtrack
when an operation's return is reached before it was linearized, and never revisit a (set of
linearized operations, register value) pair. Linearizability is compositional (Herlihy & Wing),
so each key is checked on its own. ``info`` operations have no return: they may take effect at
any point after their invocation, or never.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, cast

OpKind = Literal["read", "write", "cas"]
Status = Literal["ok", "fail", "info", "pending"]


@dataclass(slots=True)
class Operation:
    """One client operation on one key.

    ``value`` is what a write writes, or ``(expected, new)`` for a CAS; ``output`` is the value a
    read saw (``None`` for an absent key) or whether a CAS swapped.
    """

    id: int
    process: Hashable
    kind: OpKind
    key: Hashable
    value: object
    call: int
    ret: int | None = None
    status: Status = "pending"
    output: object = None

    def describe(self) -> str:
        """A one-line rendering for failure reports."""
        if self.kind == "read":
            what = f"read {self.key!r} -> {self.output!r}"
        elif self.kind == "write":
            what = f"write {self.key!r} := {self.value!r}"
        else:
            expected, new = _cas_args(self)
            what = f"cas {self.key!r} {expected!r} -> {new!r} = {self.output!r}"
        return f"#{self.id} p={self.process} {what} [{self.status}] t={self.call}..{self.ret}"


class History:
    """Collects operations as clients run them; timestamps come from ``time.monotonic_ns``."""

    def __init__(self) -> None:
        self._ops: list[Operation] = []
        self._ids = itertools.count()

    def invoke(self, process: Hashable, kind: OpKind, key: Hashable, value: object = None) -> Operation:
        """Record the start of an operation; complete it with ``ok``, ``fail`` or ``info``."""
        if kind == "cas" and not (isinstance(value, tuple) and len(value) == 2):
            raise ValueError(f"a cas takes (expected, new), got {value!r}")
        op = Operation(next(self._ids), process, kind, key, value, time.monotonic_ns())
        self._ops.append(op)
        return op

    def _complete(self, op: Operation, status: Status, output: object) -> None:
        if op.status != "pending":
            raise ValueError(f"operation {op.describe()} was already completed")
        op.ret = time.monotonic_ns()
        op.status = status
        op.output = output

    def ok(self, op: Operation, output: object = None) -> None:
        """The operation took effect: a read saw ``output``; a cas swapped iff ``output`` is true."""
        if op.kind == "cas" and not isinstance(output, bool):
            raise ValueError(f"a completed cas reports whether it swapped, got {output!r}")
        self._complete(op, "ok", output)

    def fail(self, op: Operation) -> None:
        """The operation certainly did not take effect (e.g. refused before reaching the leader)."""
        self._complete(op, "fail", None)

    def info(self, op: Operation) -> None:
        """The outcome is unknown (timeout, lost connection): it may have taken effect, or not."""
        self._complete(op, "info", None)

    @property
    def operations(self) -> list[Operation]:
        return list(self._ops)


@dataclass(slots=True)
class KeyResult:
    """The verdict for one key; on failure, the operation no valid order could get past, and the ops seen."""

    key: Hashable
    linearizable: bool | None
    blocked_by: Operation | None = None
    linearized_before_block: list[Operation] = field(default_factory=list)
    steps: int = 0


@dataclass(slots=True)
class CheckResult:
    """``linearizable`` is None when the search gave up (step budget) without finding a violation."""

    linearizable: bool | None
    keys: dict[Hashable, KeyResult]

    def failures(self) -> list[KeyResult]:
        return [r for r in self.keys.values() if r.linearizable is False]

    def explain(self) -> str:
        """A readable account of the first violation, for an assertion message."""
        lines = []
        for result in self.failures():
            lines.append(f"key {result.key!r} is not linearizable")
            if result.blocked_by is not None:
                lines.append(f"  no order of the operations can reach the return of {result.blocked_by.describe()}")
            lines.append("  longest valid order found:")
            lines.extend(f"    {op.describe()}" for op in result.linearized_before_block)
        return "\n".join(lines) if lines else "linearizable"



class _Node:
    __slots__ = ("is_call", "match", "next", "op", "prev")

    def __init__(self, op: int, is_call: bool) -> None:
        self.op = op
        self.is_call = is_call
        self.match: _Node | None = None
        self.prev: _Node | None = None
        self.next: _Node | None = None


def _cas_args(op: Operation) -> tuple[object, object]:
    expected, new = cast("tuple[object, object]", op.value)
    return expected, new


def _step(op: Operation, state: object) -> tuple[bool, object]:
    """Apply ``op`` to a register holding ``state``: (allowed, next state)."""
    if op.kind == "write":
        return True, op.value
    if op.kind == "read":
        return op.output == state, state
    expected, new = _cas_args(op)
    if op.status == "info":  # a cas of unknown outcome matters only if it swapped
        return state == expected, new
    if op.output:
        return state == expected, new
    return state != expected, state


def _check_key(key: Hashable, ops: Sequence[Operation], initial: object, max_steps: int) -> KeyResult:
    # An unknown read changes nothing, and a failed op never happened: neither constrains the order.
    ops = [op for op in ops if op.status in ("ok", "info") and not (op.kind == "read" and op.status == "info")]
    events: list[tuple[float, int, _Node]] = []
    for i, op in enumerate(ops):
        call = _Node(i, True)
        events.append((op.call, 0, call))
        if op.status == "ok":
            assert op.ret is not None
            ret = _Node(i, False)
            call.match = ret
            events.append((op.ret, 1, ret))
    # Ties put invocations first: operations that touch at the same instant count as concurrent.
    events.sort(key=lambda e: (e[0], e[1]))
    head = _Node(-1, False)
    prev: _Node = head
    for _, _, event in events:
        prev.next = event
        event.prev = prev
        prev = event

    def lift(call: _Node) -> None:
        assert call.prev is not None
        call.prev.next = call.next
        if call.next is not None:
            call.next.prev = call.prev
        ret = call.match
        if ret is not None:
            assert ret.prev is not None
            ret.prev.next = ret.next
            if ret.next is not None:
                ret.next.prev = ret.prev

    def unlift(call: _Node) -> None:
        ret = call.match
        if ret is not None:
            assert ret.prev is not None
            ret.prev.next = ret
            if ret.next is not None:
                ret.next.prev = ret
        assert call.prev is not None
        call.prev.next = call
        if call.next is not None:
            call.next.prev = call

    remaining_ok = sum(1 for op in ops if op.status == "ok")
    linearized = 0
    state = initial
    stack: list[tuple[_Node, object]] = []
    seen: set[tuple[int, object]] = set()
    result = KeyResult(key, False)
    deepest = -1
    node: _Node | None = head.next
    steps = 0
    while remaining_ok:
        steps += 1
        if steps > max_steps:
            result.linearizable = None
            result.steps = steps
            return result
        if node is not None and node.is_call:
            op = ops[node.op]
            allowed, new_state = _step(op, state)
            if allowed:
                bits = linearized | (1 << node.op)
                if (bits, new_state) not in seen:
                    seen.add((bits, new_state))
                    stack.append((node, state))
                    state, linearized = new_state, bits
                    lift(node)
                    if op.status == "ok":
                        remaining_ok -= 1
                    node = head.next
                    continue
            node = node.next
            continue
        # A return reached before its op was linearized (or the end): undo the last choice.
        if node is not None and len(stack) > deepest:
            deepest = len(stack)
            result.blocked_by = ops[node.op]
            result.linearized_before_block = [ops[n.op] for n, _ in stack]
        if not stack:
            result.steps = steps
            return result
        top, state = stack.pop()
        linearized &= ~(1 << top.op)
        unlift(top)
        if ops[top.op].status == "ok":
            remaining_ok += 1
        node = top.next
    result.linearizable = True
    result.blocked_by = None
    result.linearized_before_block = []
    result.steps = steps
    return result


def check(operations: Iterable[Operation], initial: object = None, max_steps: int = 5_000_000) -> CheckResult:
    """Check a history against a register per key starting at ``initial`` (None: the key is absent).

    Operations still pending count as ``info``. Returns per-key verdicts; the history is linearizable
    only if every key is.
    """
    by_key: dict[Hashable, list[Operation]] = defaultdict(list)
    for recorded in operations:
        op = recorded
        if op.status == "pending":
            op = Operation(op.id, op.process, op.kind, op.key, op.value, op.call, None, "info", None)
        by_key[op.key].append(op)
    keys = {key: _check_key(key, ops, initial, max_steps) for key, ops in by_key.items()}
    verdicts = [r.linearizable for r in keys.values()]
    overall: bool | None = False if False in verdicts else (None if None in verdicts else True)
    return CheckResult(overall, keys)
