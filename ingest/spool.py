"""A bounded, durable local spool of raw MQTT messages (store and forward while PostgreSQL is away).

The spool is a folder of append-only segment files (`000000000001.seg`, …). `append` writes one
frame per batch — magic, body length, CRC-32 of the body, then the messages (topic, payload, time
of receipt) — and fsyncs before it returns, so the caller may then acknowledge the batch to the
broker. A drainer takes whole segments, oldest first (`next_segment` seals the one being written
when it is the only one left), writes their messages to PostgreSQL and only then `remove`s them.

A frame cut short by a crash (`kill -9`, power loss) fails its length or CRC check: it and what
follows in that segment are ignored (it was never fsynced, so never acknowledged; the broker
redelivers it). After a restart nothing is appended to old segments. The spool is bounded by
`max_bytes`: `append` refuses a batch that would pass it (unless the spool is empty, so that one
batch larger than the bound still gets through). A lock file keeps a second process off the folder.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import threading
import zlib
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest.metrics import SPOOL_BYTES, SPOOL_MESSAGES

log = logging.getLogger(__name__)

MAGIC = b"PWS1"
HEADER = struct.Struct("<4sII")  # magic, body length, CRC-32 of the body
COUNT = struct.Struct("<I")  # messages in the frame (first field of the body)
MESSAGE = struct.Struct("<qII")  # received_at in µs since the epoch, topic length, payload length
SEGMENT_BYTES = 16 << 20  # a new segment past this size; a crash mid-drain redoes at most one
SUFFIX = ".seg"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class SpoolLockedError(RuntimeError):
    """Another process (an ingestor with the same client id) holds the spool folder."""


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A message as received: what the spool keeps and the writer parses."""

    topic: str
    payload: bytes
    received_at: datetime


@dataclass
class Segment:
    path: Path
    size: int  # bytes on disk
    messages: int  # in its valid frames


def encode_frame(messages: Sequence[RawMessage]) -> bytes:
    parts = [COUNT.pack(len(messages))]
    for message in messages:
        topic = message.topic.encode("utf-8", "surrogatepass")
        micros = (message.received_at - _EPOCH) // timedelta(microseconds=1)
        parts += [MESSAGE.pack(micros, len(topic), len(message.payload)), topic, message.payload]
    body = b"".join(parts)
    return HEADER.pack(MAGIC, len(body), zlib.crc32(body)) + body


def decode_body(body: bytes) -> list[RawMessage]:
    (count,) = COUNT.unpack_from(body)
    offset = COUNT.size
    messages = []
    for _ in range(count):
        micros, topic_len, payload_len = MESSAGE.unpack_from(body, offset)
        offset += MESSAGE.size
        topic = body[offset : offset + topic_len].decode("utf-8", "surrogatepass")
        offset += topic_len
        payload = body[offset : offset + payload_len]
        offset += payload_len
        messages.append(RawMessage(topic, payload, _EPOCH + timedelta(microseconds=micros)))
    return messages


def read_frames(path: Path) -> Generator[list[RawMessage], None, None]:
    """The messages of each valid frame of a segment, in order, stopping at a torn or corrupt frame."""
    with open(path, "rb") as file:
        while header := file.read(HEADER.size):
            body = b""
            if len(header) == HEADER.size:
                magic, length, crc = HEADER.unpack(header)
                body = file.read(length) if magic == MAGIC else b""
                if magic == MAGIC and len(body) == length and zlib.crc32(body) == crc:
                    yield decode_body(body)
                    continue
            ignored = path.stat().st_size - (file.tell() - len(header) - len(body))
            log.warning(
                "spool segment %s ends in a torn frame (a crash while writing it, never acknowledged): "
                "ignoring its last %d bytes",
                path,
                ignored,
            )
            return


class Spool:
    """The spool folder of one ingestor. Thread-safe: the pump appends while the drainer drains."""

    def __init__(self, directory: Path, max_bytes: int, *, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(directory / ".lock", "a+b")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise SpoolLockedError(
                f"spool {directory} is in use by another process: every ingest replica needs its own "
                "PLANTWATCH_MQTT_CLIENT_ID"
            ) from None
        self._changed = threading.Condition()
        self._segments: list[Segment] = []
        found = sorted(directory.glob(f"*{SUFFIX}"))
        self._next_number = 1 + max((int(path.stem) for path in found if path.stem.isdigit()), default=0)
        for path in found:
            segment = self._scan(path)
            if segment.messages:
                self._segments.append(segment)
            else:
                path.unlink()
        self._active: Segment | None = None
        self._fd: int | None = None
        self._publish()
        if self._segments:
            log.info("spool %s holds %d messages (%d bytes) to drain", directory, self.messages, self.bytes)

    @staticmethod
    def _scan(path: Path) -> Segment:
        return Segment(path, path.stat().st_size, sum(len(frame) for frame in read_frames(path)))

    @property
    def bytes(self) -> int:
        return sum(s.size for s in self._segments)

    @property
    def messages(self) -> int:
        return sum(s.messages for s in self._segments)

    def is_empty(self) -> bool:
        with self._changed:
            return not self._segments

    def append(self, messages: Sequence[RawMessage]) -> bool:
        """Write and fsync one batch; False (nothing written) when it would pass `max_bytes`.
        An OSError (disk full) leaves the spool as it was and is raised."""
        frame = encode_frame(messages)
        with self._changed:
            used = self.bytes
            if used and used + len(frame) > self.max_bytes:
                return False
            segment, fd = self._writable()
            try:
                _write_all(fd, frame)
                os.fsync(fd)
            except OSError:
                self._abandon_tail(segment, fd)
                raise
            segment.size += len(frame)
            segment.messages += len(messages)
            self._publish()
            self._changed.notify_all()
        return True

    def _writable(self) -> tuple[Segment, int]:
        if self._active is not None and self._fd is not None and self._active.size < self.segment_bytes:
            return self._active, self._fd
        self._seal()
        path = self.directory / f"{self._next_number:012d}{SUFFIX}"
        self._next_number += 1
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        _fsync_directory(self.directory)  # the new file's name is durable too
        self._active = Segment(path, 0, 0)
        self._segments.append(self._active)
        return self._active, self._fd

    def _abandon_tail(self, segment: Segment, fd: int) -> None:
        """After a failed write: cut the partial frame off (or at least never append after it)."""
        try:
            os.ftruncate(fd, segment.size)
        except OSError:
            log.exception("could not truncate spool segment %s after a failed write", segment.path)
        self._seal()

    def _seal(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._fd = None
        if self._active is not None and not self._active.messages:
            self._segments.remove(self._active)
            self._active.path.unlink(missing_ok=True)
        self._active = None

    def next_segment(self) -> Segment | None:
        """The oldest segment no longer written to (sealing the active one if it is the only one)."""
        with self._changed:
            for segment in self._segments:
                if segment is not self._active:
                    return segment
            if self._active is not None and self._active.messages:
                segment = self._active
                self._seal()
                return segment
            return None

    def read(self, segment: Segment) -> Generator[list[RawMessage], None, None]:
        return read_frames(segment.path)

    def remove(self, segment: Segment) -> None:
        """Delete a drained segment (its messages are committed in PostgreSQL)."""
        with self._changed:
            segment.path.unlink(missing_ok=True)
            self._segments.remove(segment)
            self._publish()
            self._changed.notify_all()

    def wait(self, timeout_s: float) -> None:
        """Sleep until the spool changes (a batch appended, a segment removed) or `timeout_s` passes."""
        with self._changed:
            self._changed.wait(timeout_s)

    def close(self) -> None:
        with self._changed:
            self._seal()
            self._changed.notify_all()
        self._lock_file.close()  # releases the flock

    def _publish(self) -> None:
        SPOOL_BYTES.set(self.bytes)
        SPOOL_MESSAGES.set(self.messages)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
