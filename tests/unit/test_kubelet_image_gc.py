"""Image garbage collection's pure decisions: records, thresholds, order, minimum age, in-use and pinned images."""

from __future__ import annotations

from kubelet.image_gc import GcPolicy, ImageRecord, RuntimeImage, detect, plan, shortfall_message

GI = 1 << 30


def test_detect_tracks_first_seen_and_last_used() -> None:
    records = detect({}, [RuntimeImage("a", 10), RuntimeImage("b", 20, pinned=True)], {"a"}, now=100.0)
    assert records == {"a": ImageRecord(100.0, 100.0, 10), "b": ImageRecord(100.0, 0.0, 20, pinned=True)}
    records = detect(records, [RuntimeImage("a", 10), RuntimeImage("c", 5)], set(), now=200.0)
    assert records == {"a": ImageRecord(100.0, 100.0, 10), "c": ImageRecord(200.0, 0.0, 5)}


def test_nothing_happens_below_the_high_threshold() -> None:
    records = {"a": ImageRecord(0.0, 0.0, GI)}
    decided = plan(records, set(), capacity=100 * GI, available=16 * GI, policy=GcPolicy(85, 80), now=1000.0)
    assert not decided.remove
    assert decided.usage_percent == 84 and decided.to_free == 0


def test_frees_down_to_the_low_threshold_least_recently_used_first() -> None:
    records = {"new": ImageRecord(0.0, 900.0, 3 * GI), "old": ImageRecord(0.0, 100.0, 3 * GI),
               "never": ImageRecord(50.0, 0.0, 3 * GI), "busy": ImageRecord(0.0, 0.0, 50 * GI),
               "pause": ImageRecord(0.0, 0.0, 50 * GI, pinned=True)}
    # 90% used: to come down to 80% is 10 GiB; unused, unpinned images by last use: never, old, new.
    decided = plan(records, {"busy"}, capacity=100 * GI, available=10 * GI, policy=GcPolicy(85, 80), now=1000.0)
    assert decided.usage_percent == 90 and decided.to_free == 10 * GI
    assert list(decided.remove) == ["never", "old", "new"]
    assert decided.sizes == {"never": 3 * GI, "old": 3 * GI, "new": 3 * GI}
    assert shortfall_message(decided.to_free, sum(decided.sizes.values())) == (
        f"Failed to garbage collect required amount of images. Attempted to free {10 * GI} bytes, "
        f"but only found {9 * GI} bytes eligible to free.")
    # Enough after two: the third stays.
    smaller = plan(records, {"busy"}, capacity=100 * GI, available=14 * GI, policy=GcPolicy(85, 80), now=1000.0)
    assert list(smaller.remove) == ["never", "old"]


def test_images_younger_than_the_minimum_age_stay() -> None:
    records = {"young": ImageRecord(950.0, 0.0, GI), "aged": ImageRecord(800.0, 0.0, GI)}
    decided = plan(records, set(), capacity=10 * GI, available=0, policy=GcPolicy(0, 0, min_age=120.0), now=1000.0)
    assert list(decided.remove) == ["aged"]


def test_thresholds_at_zero_remove_every_unused_image() -> None:
    records = {"a": ImageRecord(0.0, 0.0, GI), "b": ImageRecord(0.0, 0.0, GI), "used": ImageRecord(0.0, 0.0, GI)}
    decided = plan(records, {"used"}, capacity=100 * GI, available=60 * GI, policy=GcPolicy(0, 0, 0.0), now=1.0)
    assert sorted(decided.remove) == ["a", "b"] and decided.to_free == 40 * GI


def test_bad_capacity_and_bad_flags_are_reported() -> None:
    assert plan({}, set(), capacity=0, available=0, policy=GcPolicy(), now=0.0).problem == (
        "invalid capacity 0 on image filesystem")
    assert GcPolicy().problem() == ""
    assert GcPolicy(101, 80).problem() == "invalid HighThresholdPercent 101, must be in range [0-100]"
    assert GcPolicy(80, 85).problem() == "LowThresholdPercent 85 can not be higher than HighThresholdPercent 80"
