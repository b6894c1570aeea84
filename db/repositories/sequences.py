"""Machines' sequence state (last_seen_at, last_seq, seq_gaps), moved forward by ingest under row locks.

ingest/sequence.py holds the rule; this module the statements that apply it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.orm import Session

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

MachineSeqState = tuple[datetime | None, int | None, int]
"""(last_seen_at, last_seq, seq_gaps) of a machine."""


class SeqRun(NamedTuple):
    """A batch's newly stored readings of one machine, summed up: their first and last ts, the seq of
    the first and the last of them that have one, and the numbers missing between their seqs."""

    min_ts: datetime
    max_ts: datetime
    first_seq: int | None
    last_seq: int | None
    internal_gaps: int


# One statement: lock every machine of the batch (in id order, so concurrent writers cannot deadlock);
# where the batch's readings are all newer than the machine's newest, move the state forward here
# (gaps: the internal ones plus those between last_seq and the first new seq); return the state of
# the other machines, still locked, for the caller to work out, and the gaps found.
_ADVANCE = text(
    """
    WITH run AS (
        SELECT id, first_seq, last_seq, internal,
            TIMESTAMPTZ 'epoch' + min_us * INTERVAL '1 microsecond' AS min_ts,
            TIMESTAMPTZ 'epoch' + max_us * INTERVAL '1 microsecond' AS max_ts
        FROM unnest(CAST(:ids AS int4[]), CAST(:min_us AS int8[]), CAST(:max_us AS int8[]),
            CAST(:first_seq AS int8[]), CAST(:last_seq AS int8[]), CAST(:internal AS numeric[]))
            AS r(id, min_us, max_us, first_seq, last_seq, internal)
    ), locked AS (
        SELECT id, last_seen_at, last_seq, seq_gaps FROM machines
        WHERE id = ANY(CAST(:ids AS int4[])) ORDER BY id FOR UPDATE
    ), ahead AS (
        SELECT l.id, l.last_seq, l.seq_gaps, r.max_ts, r.last_seq AS run_last, r.internal
            + CASE WHEN r.first_seq - l.last_seq > 1 THEN r.first_seq - l.last_seq - 1 ELSE 0 END AS found
        FROM locked l JOIN run r USING (id)
        WHERE l.last_seen_at IS NULL OR l.last_seen_at < r.min_ts
    ), moved AS (
        UPDATE machines m SET last_seen_at = a.max_ts, last_seq = COALESCE(a.run_last, a.last_seq),
            seq_gaps = LEAST(a.seq_gaps + a.found, 9223372036854775807)
        FROM ahead a WHERE m.id = a.id
        RETURNING m.id, a.found
    )
    SELECT l.id, l.last_seen_at, l.last_seq, l.seq_gaps, moved.found
    FROM locked l LEFT JOIN moved USING (id)
    WHERE moved.id IS NULL
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, COALESCE(sum(found), 0) FROM moved
    """
)


def advance_seq_states(session: Session, runs: dict[int, SeqRun]) -> tuple[int, dict[int, MachineSeqState]]:
    """Apply each machine's run where all its readings are newer than the machine's newest one;
    returns the gaps found there, and the (locked) state of the other machines, which the caller
    works out and saves with `save_seq_states`."""
    if not runs:
        return 0, {}
    ids = sorted(runs)
    rows = session.execute(
        _ADVANCE,
        {
            "ids": ids,
            # Epoch microseconds: psycopg adapts a list of ints many times faster than of datetimes.
            "min_us": [_epoch_us(runs[i].min_ts) for i in ids],
            "max_us": [_epoch_us(runs[i].max_ts) for i in ids],
            "first_seq": [runs[i].first_seq for i in ids],
            "last_seq": [runs[i].last_seq for i in ids],
            "internal": [runs[i].internal_gaps for i in ids],
        },
    )
    found = 0
    others: dict[int, MachineSeqState] = {}
    for machine_id, seen, seq, gaps, total in rows:
        if machine_id is None:
            found = int(total)
        else:
            others[machine_id] = (seen, seq, gaps)
    return found, others


def _epoch_us(ts: datetime) -> int:
    return (ts - _EPOCH) // _MICROSECOND


def save_seq_states(session: Session, states: dict[int, MachineSeqState]) -> None:
    """Write back the state of machines locked by `advance_seq_states`, once worked out."""
    if not states:
        return
    ids = sorted(states)
    session.execute(
        text(
            "UPDATE machines m SET last_seen_at = s.ts, last_seq = s.seq, seq_gaps = s.gaps "
            "FROM unnest(CAST(:ids AS int4[]), CAST(:stamps AS timestamptz[]), CAST(:seqs AS int8[]), "
            "CAST(:gaps AS int8[])) AS s(id, ts, seq, gaps) WHERE m.id = s.id"
        ),
        {
            "ids": ids,
            "stamps": [states[i][0] for i in ids],
            "seqs": [states[i][1] for i in ids],
            "gaps": [states[i][2] for i in ids],
        },
    )
