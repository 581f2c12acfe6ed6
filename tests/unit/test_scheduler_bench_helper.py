"""The benchmark helper itself works (at a tiny scale): every pod of both workloads gets a node."""

from tests.unit.scheduler_bench import mixed_pod, plain_pod, run


def test_benchmark_workloads_schedule_completely():
    assert run(20, 60, plain_pod)[0] == 60
    assert run(20, 60, mixed_pod)[0] == 60
