"""The local spool on a real file system: framing, torn tails, corruption, bounds, locking, disk errors."""

from __future__ import annotations

import logging
import os
import resource
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.metrics import SPOOL_BYTES, SPOOL_MESSAGES
from ingest.spool import HEADER, RawMessage, Segment, Spool, SpoolLockedError, decode_body, encode_frame

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def batch(first: int, n: int, size: int = 40) -> list[RawMessage]:
    return [
        RawMessage(
            f"plantwatch/v1/s/l/m{i % 3}/telemetry", f"{i:0{size}d}".encode(), T0 + timedelta(seconds=i)
        )
        for i in range(first, first + n)
    ]


def drain(spool: Spool) -> Iterator[RawMessage]:
    """Everything in the spool, oldest first, removing each segment once read (as the drainer does)."""
    while (segment := spool.next_segment()) is not None:
        for frame in spool.read(segment):
            yield from frame
        spool.remove(segment)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "spool" / "plantwatch-ingest-1"


def test_append_read_remove(folder: Path) -> None:
    spool = Spool(folder, 1 << 20)
    assert spool.is_empty() and spool.next_segment() is None
    assert spool.append(batch(1, 10)) and spool.append(batch(11, 5))
    assert spool.messages == 15 and SPOOL_MESSAGES._value.get() == 15
    assert spool.bytes == sum(f.stat().st_size for f in folder.glob("*.seg")) == SPOOL_BYTES._value.get()
    assert list(drain(spool)) == batch(1, 15)
    assert spool.is_empty() and spool.bytes == 0 and not list(folder.glob("*.seg"))
    assert SPOOL_MESSAGES._value.get() == 0
    spool.close()


def test_what_was_appended_survives_a_restart_and_a_torn_tail_is_ignored(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(folder, 1 << 20)
    for first in (1, 11, 21):
        assert spool.append(batch(first, 10))
    (segment,) = folder.glob("*.seg")
    # kill -9 in the middle of the third frame: cut the file there (the lock dies with the process).
    spool._lock_file.close()
    size = segment.stat().st_size
    with open(segment, "r+b") as file:
        file.truncate(size - 17)

    with caplog.at_level(logging.WARNING, logger="ingest.spool"):
        reopened = Spool(folder, 1 << 20)
    assert reopened.messages == 20
    assert "torn frame" in caplog.text and f"last {size - 17 - 2 * (size // 3)} bytes" in caplog.text
    assert reopened.append(batch(31, 5))  # after a restart, appends go to a new segment
    assert len(list(folder.glob("*.seg"))) == 2
    assert list(drain(reopened)) == batch(1, 20) + batch(31, 5)
    reopened.close()


def test_a_corrupt_frame_ends_its_segment(folder: Path) -> None:
    spool = Spool(folder, 1 << 20)
    for first in (1, 11, 21):
        spool.append(batch(first, 10))
    spool.close()
    (segment,) = folder.glob("*.seg")
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a bit flip inside the second frame: its CRC fails
    segment.write_bytes(bytes(data))
    reopened = Spool(folder, 1 << 20)
    assert list(drain(reopened)) == batch(1, 10)
    reopened.close()


def test_a_segment_with_nothing_valid_is_deleted(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "000000000007.seg").write_bytes(b"PWS1\x00")
    spool = Spool(folder, 1 << 20)
    assert spool.is_empty() and not list(folder.glob("*.seg"))
    spool.append(batch(1, 1))
    assert [p.name for p in folder.glob("*.seg")] == ["000000000008.seg"]
    spool.close()


def test_the_spool_is_bounded(folder: Path) -> None:
    frame = len(encode_frame(batch(1, 10)))
    spool = Spool(folder, frame * 2 + 10)
    assert spool.append(batch(1, 10)) and spool.append(batch(11, 10))
    assert not spool.append(batch(21, 10))  # full: refused, nothing written
    assert spool.messages == 20 and spool.bytes == 2 * frame
    first = spool.next_segment()
    assert first is not None
    spool.remove(first)
    assert spool.append(batch(21, 10))
    tiny = Spool(folder.parent / "tiny", 1)
    assert tiny.append(batch(1, 10)), "an empty spool takes one batch larger than its bound"
    assert not tiny.append(batch(11, 1))
    spool.close()
    tiny.close()


def test_segments_rotate_and_drain_oldest_first(folder: Path) -> None:
    frame = len(encode_frame(batch(1, 10)))
    spool = Spool(folder, 1 << 20, segment_bytes=2 * frame)
    for first in range(1, 61, 10):
        spool.append(batch(first, 10))
    assert len(list(folder.glob("*.seg"))) == 3
    seen: list[Segment] = []
    while (segment := spool.next_segment()) is not None:
        assert segment is not spool._active
        seen.append(segment)
        spool.remove(segment)
    assert [s.messages for s in seen] == [20, 20, 20]
    assert [s.path.name for s in seen] == sorted(s.path.name for s in seen)
    spool.close()


def test_one_process_per_spool(folder: Path) -> None:
    spool = Spool(folder, 1 << 20)
    with pytest.raises(SpoolLockedError, match="PLANTWATCH_MQTT_CLIENT_ID"):
        Spool(folder, 1 << 20)
    spool.close()
    Spool(folder, 1 << 20).close()


def test_a_failed_write_leaves_the_spool_readable(folder: Path) -> None:
    """A real write error (the file size limit, as a full disk would): the partial frame is cut off."""
    spool = Spool(folder, 1 << 20)
    spool.append(batch(1, 10))
    (segment,) = folder.glob("*.seg")
    size = segment.stat().st_size
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100, hard))
    try:
        with pytest.raises(OSError):
            spool.append(batch(11, 50))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert segment.stat().st_size == size and spool.messages == 10
    assert spool.append(batch(61, 5))  # into a new segment
    assert list(drain(spool)) == batch(1, 10) + batch(61, 5)
    spool.close()


def test_fsync_before_append_returns(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    spool = Spool(folder, 1 << 20)
    spool.append(batch(1, 3))
    spool.append(batch(4, 3))
    # The new segment's folder entry, then the segment after each batch.
    assert len(synced) == 3 and synced[1] == synced[2]
    spool.close()


topics = st.text(min_size=1, max_size=80)
stamps = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.builds(RawMessage, topics, st.binary(max_size=300), stamps), max_size=20))
def test_frames_round_trip(messages: list[RawMessage]) -> None:
    frame = encode_frame(messages)
    assert decode_body(frame[HEADER.size :]) == messages
