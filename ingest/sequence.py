"""Sequence gaps: from the optional `seq` of each reading, count per machine the readings that never came.

The rule, per machine, over the readings a batch newly stored (duplicates never get here), taken in
timestamp order against the machine's newest reading so far (`last_seen_at`, `last_seq`):

- A reading **newer** than the newest one moves `last_seq` to its seq. If its seq is more than
  `last_seq + 1`, the numbers between are missing: `seq_gaps` grows by `seq - last_seq - 1`. If its
  seq is not larger than `last_seq`, the sender restarted its counter (a device reboot): no gap.
- A reading **older** than the newest one arrived late (redelivered out of order, or written by
  another ingestor sharing the subscription). If its seq is below `last_seq` it fills a number counted
  missing before, so `seq_gaps` shrinks by one (never below zero).
- Readings without seq change neither; a machine's first seq starts the count.

So `machines.seq_gaps` is the number of sequence numbers still missing; the Prometheus counters
`plantwatch_ingest_seq_gaps_total` and `plantwatch_ingest_seq_late_total` count detections and fills.
The machines' rows are locked in id order for the update, so concurrent ingestors agree. The usual
case (every reading newer than the machine's newest) is worked out in SQL, in the statement that takes
the locks (`db.repositories.sequences`); machines with late readings are worked out here (`advance`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from sqlalchemy.orm import Session

from db.repositories import sequences
from ingest import metrics

GAPS_MAX = 2**63 - 1  # machines.seq_gaps is a bigint


@dataclass(frozen=True, slots=True)
class SeqState:
    last_seen_at: datetime | None
    last_seq: int | None
    gaps: int = 0


@dataclass(frozen=True, slots=True)
class SeqCount:
    detected: int = 0  # missing numbers found
    filled: int = 0  # late readings that filled a number counted missing

    def __add__(self, other: SeqCount) -> SeqCount:
        return SeqCount(self.detected + other.detected, self.filled + other.filled)


def advance(state: SeqState, readings: Iterable[tuple[datetime, int | None]]) -> tuple[SeqState, SeqCount]:
    """The machine's state after `readings` (newly stored (ts, seq), any order), and what changed."""
    seen, last, gaps = state.last_seen_at, state.last_seq, state.gaps
    detected = filled = 0
    for ts, seq in sorted(readings, key=lambda reading: reading[0]):
        if seen is None or ts > seen:
            seen = ts
            if seq is None:
                continue
            if last is not None and seq > last + 1:
                detected += seq - last - 1
                gaps += seq - last - 1
            last = seq
        elif seq is not None and last is not None and seq < last and gaps > 0:
            gaps -= 1
            filled += 1
    return SeqState(seen, last, min(gaps, GAPS_MAX)), SeqCount(detected, filled)


def summarize(readings: Iterable[tuple[datetime, int | None]]) -> sequences.SeqRun:
    """What `advance` needs of a machine's readings when they are all newer than its newest one."""
    ordered = sorted(readings, key=lambda reading: reading[0])
    seqs = [seq for _ts, seq in ordered if seq is not None]
    return sequences.SeqRun(
        min_ts=ordered[0][0],
        max_ts=ordered[-1][0],
        first_seq=seqs[0] if seqs else None,
        last_seq=seqs[-1] if seqs else None,
        internal_gaps=sum(b - a - 1 for a, b in pairwise(seqs) if b > a + 1),
    )


def count_in_metrics(count: SeqCount) -> None:
    """Add gaps found and filled to the Prometheus counters (call once the batch has committed)."""
    if count.detected:
        metrics.SEQ_GAPS.inc(count.detected)
    if count.filled:
        metrics.SEQ_LATE.inc(count.filled)


def track(session: Session, stored: dict[int, list[tuple[datetime, int | None]]]) -> SeqCount:
    """Update last_seen_at, last_seq and seq_gaps of the machines of newly stored readings."""
    found, others = sequences.advance_seq_states(
        session, {machine_id: summarize(readings) for machine_id, readings in stored.items() if readings}
    )
    total = SeqCount(found, 0)
    updated: dict[int, sequences.MachineSeqState] = {}
    for machine_id, (seen, last, gaps) in others.items():
        after, count = advance(SeqState(seen, last, gaps), stored[machine_id])
        total += count
        if after != SeqState(seen, last, gaps):
            updated[machine_id] = (after.last_seen_at, after.last_seq, after.gaps)
    sequences.save_seq_states(session, updated)
    return total
