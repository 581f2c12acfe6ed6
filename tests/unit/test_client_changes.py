import asyncio

from client.changes import ChangeTrigger, slices_by_service, sync_on_changes


async def test_a_burst_of_changes_is_one_sync_and_failures_are_retried():
    trigger, stop = ChangeTrigger(), asyncio.Event()
    calls: list[int] = []

    async def sync() -> None:
        calls.append(len(calls))
        if len(calls) == 2:
            raise RuntimeError("kernel said no")
        if len(calls) == 3:
            stop.set()

    async def burst() -> None:
        await asyncio.sleep(0.05)
        for _ in range(5):  # five events arriving together
            trigger.changed.set()

    await asyncio.wait_for(asyncio.gather(sync_on_changes(trigger, stop, sync, delay=0.02), burst()), 5)
    assert calls == [0, 1, 2]  # the initial sync, the burst's one sync (failed), its retry


async def test_periodic_resync_and_stop():
    trigger, stop = ChangeTrigger(), asyncio.Event()
    calls = 0

    async def sync() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            stop.set()

    await asyncio.wait_for(sync_on_changes(trigger, stop, sync, period=0.01), 5)
    assert calls == 3


def test_slices_are_grouped_by_their_service_label():
    a = {"metadata": {"namespace": "n", "labels": {"kubernetes.io/service-name": "web"}}}
    b = {"metadata": {"namespace": "m", "labels": {"kubernetes.io/service-name": "web"}}}
    stray = {"metadata": {"namespace": "n"}}
    assert slices_by_service([a, b, stray]) == {("n", "web"): [a], ("m", "web"): [b]}
