from tinykube.supervisor import BACKOFF_MAX, restart_delay


def test_backoff_doubles_from_half_a_second_and_is_capped():
    assert [restart_delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert restart_delay(50) == BACKOFF_MAX
