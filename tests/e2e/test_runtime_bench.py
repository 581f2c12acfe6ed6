"""``bench/runtime_bench.py`` with tiny counts: its measuring functions still work and still clean up after themselves.

The bench runs rarely and by hand, so without this it would rot unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import runtime_bench
from tests.e2e.runtime_support import leaks


@pytest.fixture
def workdir(tmp_path: Path, prefix: str) -> Iterator[Path]:
    """The bench's scratch directory (not created: the bench must make its own); swept whatever happens."""
    path = tmp_path / "bench"
    try:
        yield path
    finally:
        runtime_bench.sweep(path, prefix)


def test_measure_returns_sane_figures_and_leaves_nothing(workdir: Path, tmp_path: Path, prefix: str) -> None:
    results = runtime_bench.measure(3, 3, workdir, prefix)

    for samples in (results.start, results.run_to_exit):
        assert set(samples) == {"tinykube", "runc"}
        for runtime, seconds in samples.items():
            assert len(seconds) == 3, runtime
            assert all(0 < s < 10 for s in seconds), (runtime, seconds)
    assert len(results.shims) == 3
    assert all(0 < s.pss_kib <= s.rss_kib for s in results.shims)
    assert {"daemon", "shim zygote"} <= set(results.node)
    table = runtime_bench.render(results, runtime_bench.runc_version())
    assert "create+start -> running p50" in table
    assert "idle shim RSS" in table

    assert not leaks(prefix, tmp_path)
    assert not runtime_bench.leftovers(workdir, prefix)


def test_a_failure_mid_run_still_removes_running_containers_of_both(workdir: Path, tmp_path: Path,
                                                                  prefix: str) -> None:
    with pytest.raises(RuntimeError, match="failure mid-run"), runtime_bench.Bench(workdir, prefix) as bench:
        bench.tinykube.start_to_running()
        bench.runc.start_to_running()
        live = runtime_bench.leftovers(workdir, prefix)
        assert any(item.startswith("mount ") for item in live)  # runc's rootfs: the check below proves a removal
        assert any(item.startswith("process ") for item in live)
        raise RuntimeError("failure mid-run")

    assert not leaks(prefix, tmp_path)
    assert not runtime_bench.leftovers(workdir, prefix)


def test_the_bench_never_adopts_an_existing_directory(tmp_path: Path, prefix: str) -> None:
    existing = tmp_path / "mine"
    (existing / "keep").mkdir(parents=True)
    with pytest.raises(runtime_bench.BenchError, match="already exist"), runtime_bench.Bench(existing, prefix):
        pass
    assert (existing / "keep").is_dir()


def test_percentiles_are_nearest_rank() -> None:
    samples = [float(i) for i in range(100, 0, -1)]
    assert runtime_bench.percentile(samples, 50) == 50.0
    assert runtime_bench.percentile(samples, 99) == 99.0
    assert runtime_bench.percentile([7.0], 99) == 7.0
    assert runtime_bench.percentile([1.0, 2.0, 3.0], 50) == 2.0
