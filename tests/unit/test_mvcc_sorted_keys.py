"""The chunked ordered key set against a plain sorted list, with tiny chunks so splits and merges happen."""

from __future__ import annotations

import bisect

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.mvcc import sorted_keys
from store.mvcc.sorted_keys import SortedKeys


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.binary(min_size=1, max_size=2)), max_size=120),
    st.binary(max_size=2),
    st.binary(max_size=2),
)
def test_matches_a_sorted_list(ops: list[tuple[bool, bytes]], start: bytes, end: bytes) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sorted_keys, "_LOAD", 8)
        check_against_a_sorted_list(ops, start, end)


def check_against_a_sorted_list(ops: list[tuple[bool, bytes]], start: bytes, end: bytes) -> None:
    keys = SortedKeys()
    reference: list[bytes] = []
    for add, key in ops:
        present = key in reference
        if add and not present:
            keys.add(key)
            bisect.insort(reference, key)
        elif not add and present:
            keys.remove(key)
            reference.remove(key)
        assert len(keys) == len(reference)
    assert list(keys) == reference
    expected = [k for k in reference if k >= start and (not end or k < end)]
    assert list(keys.irange(start, end)) == expected
    assert keys.count(start, end) == len(expected)
    assert keys.rank(start) == bisect.bisect_left(reference, start)


def test_bulk_construction_from_sorted_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sorted_keys, "_LOAD", 8)
    ordered = [b"%03d" % i for i in range(50)]
    keys = SortedKeys(ordered)
    assert list(keys) == ordered
    assert list(keys.irange(b"010", b"013")) == [b"010", b"011", b"012"]
    keys.add(b"0105")
    assert keys.rank(b"011") == 12
    for i in range(8, 16):
        keys.remove(b"%03d" % i)  # shrinks the second chunk below a quarter: merged into the third
    assert list(keys.irange(b"007", b"017")) == [b"007", b"0105", b"016"]
