"""The store bench's interleaved write rows: who goes first alternates, each row keeps its median round, and the
report prints every round's pair and the median of the rounds' ratios (of throughput, and of p99 latency)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bench import store_bench


def test_rows_alternate_between_implementations_and_keep_the_median_round(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[tuple[str, int, str]] = []
    tinykube_c1 = {"c1r0": 300.0, "c1r1": 100.0, "c1r2": 200.0}  # by tag: the concurrency and the round

    async def fake_writes(c: Any, concurrency: int, size: int, total: int, tag: str, *, via: str) -> dict[str, Any]:
        calls.append((c, concurrency, tag))
        rate = tinykube_c1.get(tag, 100.0) if c == "tinykube" else 100.0
        return {"ops_per_s": rate, "p50_ms": 1.0, "p99_ms": 1000 / rate, "cpu_us_per_op": 10.0, "client_cpu": 5.0,
                "load": "0.0 0.0 0.0"}

    monkeypatch.setattr(store_bench, "bench_writes", fake_writes)
    clients: Any = {"tinykube": "tinykube", "etcd": "etcd"}
    out = asyncio.run(store_bench.interleaved_writes(clients, quick=True, rounds=3))

    firsts = [calls[i][0] for i in range(0, len(calls), 2)]
    assert firsts == ["tinykube"] * 6 + ["etcd"] * 6 + ["tinykube"] * 6  # a round: 3 concurrencies x 2 clients
    assert len({tag for _, _, tag in calls}) == 18  # every row writes keys of its own
    assert [tag.endswith("_sc") for _, _, tag in calls[:4]] == [False, False, True, True]  # both clients per row
    c16 = out["tinykube"]["write_1k_c16"]
    assert [r["ops_per_s"] for r in c16["rounds"]] == [100.0, 100.0, 100.0]
    c1 = out["tinykube"]["write_1k_c1"]
    assert [r["ops_per_s"] for r in c1["rounds"]] == [300.0, 100.0, 200.0]
    assert c1["ops_per_s"] == 200.0  # the median round

    store_bench.report(out)
    printed = capsys.readouterr().out
    assert "write_1k_c1 #3" in printed and "write_1k_c64_sc #3" in printed
    assert "the rounds' rate ratios: 1.00x 2.00x 3.00x, median 2.00x; p99 ratios: 0.33x 0.50x 1.00x, median 0.50x" \
        in printed
