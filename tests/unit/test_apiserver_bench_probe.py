"""The apiserver bench's raw watch reader finds exactly the created objects' names, however the stream is cut."""

import json

from bench.watch_probe import AddedNames


def _chunk(event_type: str, name: str) -> bytes:
    line = json.dumps({"type": event_type, "object": {"metadata": {"name": name}}}, separators=(",", ":")) + "\n"
    return b"%x\r\n%b\r\n" % (len(line), line.encode())


def test_names_of_added_objects_are_found_across_arbitrary_read_boundaries() -> None:
    stream = b"".join(
        [
            _chunk("ADDED", "fan-10-0"),
            _chunk("MODIFIED", "fan-10-1"),
            _chunk("ADDED", "other-2"),
            _chunk("ADDED", "fan-10-3") + _chunk("ADDED", "fan-10-4"),  # two events in one chunk, as a flush writes
            _chunk("DELETED", "fan-10-0"),
        ]
    )
    for size in (1, 7, 64, len(stream)):
        names = AddedNames("fan-10-")
        found = [n for at in range(0, len(stream), size) for n in names.feed(stream[at : at + size])]
        assert found == ["fan-10-0", "fan-10-3", "fan-10-4"]
