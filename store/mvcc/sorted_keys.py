"""An ordered set of keys in bounded chunks, so inserts, removals and rank queries stay cheap at 100k keys.

A single sorted list would memmove the whole key array on every insert of a new key; chunks of at most
``2 * _LOAD`` keys bound that work, and a parallel list of chunk maxima finds the chunk by bisection.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from itertools import islice

_LOAD = 1000


class SortedKeys:
    """Ordered set of byte-string keys. ``add`` must get a new key and ``remove`` a present one."""

    __slots__ = ("_chunks", "_maxes", "_size")

    def __init__(self, keys: Iterable[bytes] = ()) -> None:
        """``keys`` must already be sorted and unique (restore builds the set in one pass)."""
        ordered = list(keys)
        self._chunks = [ordered[i : i + _LOAD] for i in range(0, len(ordered), _LOAD)]
        self._maxes = [chunk[-1] for chunk in self._chunks]
        self._size = len(ordered)

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            yield from chunk

    def add(self, key: bytes) -> None:
        """Insert a key not yet present."""
        maxes = self._maxes
        self._size += 1
        if not maxes:
            self._chunks.append([key])
            maxes.append(key)
            return
        i = bisect_left(maxes, key)
        if i == len(maxes):
            i -= 1
            chunk = self._chunks[i]
            chunk.append(key)
            maxes[i] = key
        else:
            chunk = self._chunks[i]
            insort(chunk, key)
        if len(chunk) > 2 * _LOAD:
            tail = chunk[_LOAD:]
            del chunk[_LOAD:]
            self._chunks.insert(i + 1, tail)
            maxes.insert(i, chunk[-1])

    def remove(self, key: bytes) -> None:
        """Remove a present key."""
        maxes = self._maxes
        chunks = self._chunks
        i = bisect_left(maxes, key)
        chunk = chunks[i]
        del chunk[bisect_left(chunk, key)]
        self._size -= 1
        if not chunk:
            del chunks[i]
            del maxes[i]
            return
        maxes[i] = chunk[-1]
        # Merge a shrunken chunk into its successor so mass deletions do not leave many tiny chunks.
        if len(chunk) < _LOAD // 4 and i + 1 < len(chunks):
            chunk.extend(chunks[i + 1])
            del chunks[i + 1]
            del maxes[i]
            if len(chunk) > 2 * _LOAD:
                tail = chunk[_LOAD:]
                del chunk[_LOAD:]
                chunks.insert(i + 1, tail)
                maxes.insert(i, chunk[-1])

    def rank(self, key: bytes) -> int:
        """How many keys sort before ``key``."""
        maxes = self._maxes
        i = bisect_left(maxes, key)
        if i == len(maxes):
            return self._size
        return sum(map(len, islice(self._chunks, i))) + bisect_left(self._chunks[i], key)

    def count(self, start: bytes, end: bytes) -> int:
        """How many keys lie in [start, end); an empty ``end`` means no upper bound."""
        upper = self.rank(end) if end else self._size
        return max(0, upper - self.rank(start))

    def irange(self, start: bytes, end: bytes) -> Iterator[bytes]:
        """Keys in [start, end) in order, lazily; an empty ``end`` means no upper bound.

        The set must not change while the iterator is in use.
        """
        maxes = self._maxes
        chunks = self._chunks
        i = bisect_left(maxes, start)
        if i == len(maxes):
            return
        j = bisect_left(chunks[i], start)
        while i < len(chunks):
            chunk = chunks[i]
            if end and maxes[i] >= end:
                yield from islice(chunk, j, bisect_left(chunk, end))
                return
            yield from (islice(chunk, j, None) if j else chunk)
            j = 0
            i += 1
