"""Write a batch of parsed messages in the caller's transaction: readings, registrations, dead letters.

Every message of the batch gets an outcome: `accepted` (a new reading), `duplicate` (a redelivery of a
stored reading: same machine, ts and values; dropped silently) or a dead-letter reason (`conflict`
when the same machine and ts arrive with other values, `unknown_machine`, `not_allowed` or
`registration_cap` when the registration policy (ingest/policy.py) refuses a new machine, any parser
reason). Everything is decided in Python before the database is touched, so one bad message never
fails the batch around it. Newly stored readings move their machine's sequence state
(ingest/sequence.py). The caller commits, then acknowledges every message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from db.repositories import assets, dead_letters, readings
from ingest import sequence
from ingest.asset_cache import AssetCache, AssetView
from ingest.messages import Rejection, Telemetry
from ingest.policy import IngestPolicy, admit_machines

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
MAX_SENSORS_PER_MACHINE = 1000  # sensors.position is a smallint; wide rows this long are already odd

Key = tuple[int, datetime]
Refuse = Callable[[int, str, str], None]  # (item index, reason, detail)


@dataclass(frozen=True, slots=True)
class Incoming:
    """A received message: the raw topic and payload (kept for dead letters) and what they parsed to."""

    topic: str
    payload: bytes
    parsed: Telemetry | Rejection
    received_at: datetime


@dataclass
class BatchResult:
    outcomes: list[str] = field(default_factory=list)  # one per item, in order
    details: list[str] = field(default_factory=list)  # per item: why it was refused ("" if not)
    seq: sequence.SeqCount = field(default_factory=sequence.SeqCount)  # gaps found and filled

    @property
    def accepted(self) -> int:
        return self.outcomes.count(ACCEPTED)

    @property
    def duplicates(self) -> int:
        return self.outcomes.count(DUPLICATE)

    @property
    def dead_letters(self) -> Counter[str]:
        return Counter(o for o in self.outcomes if o not in (ACCEPTED, DUPLICATE))


@dataclass
class _Row:
    index: int
    telemetry: Telemetry
    values: list[float | None]


def write_batch(
    session: Session,
    items: Sequence[Incoming],
    *,
    auto_register: bool = True,
    payload_limit: int = dead_letters.PAYLOAD_LIMIT,
    policy: IngestPolicy | None = None,
    keep_dead_letters: bool = True,
    assets_view: AssetView | None = None,
) -> BatchResult:
    """Write `items` in the session's transaction (the caller commits); never raises for bad input.

    `policy` (IngestPolicy.from_settings) decides registration and the dead-letter payload limit;
    without it, `auto_register` and `payload_limit` do, with every machine allowed and no cap.
    `keep_dead_letters=False` stores no dead letters (a replay records its failures on the letter).
    """
    policy = policy or IngestPolicy(auto_register=auto_register, payload_limit=payload_limit)
    view = assets_view or AssetCache().view()
    outcomes = [""] * len(items)
    details = [""] * len(items)
    letters: dict[int, dead_letters.NewDeadLetter] = {}  # by item index

    def refuse(index: int, reason: str, detail: str) -> None:
        outcomes[index] = reason
        details[index] = detail
        item = items[index]
        letters[index] = dead_letters.NewDeadLetter(
            item.topic, item.payload, reason, detail, item.received_at
        )

    accepted: list[int] = []
    for index, item in enumerate(items):
        if isinstance(item.parsed, Rejection):
            refuse(index, item.parsed.reason, item.parsed.detail)
        else:
            accepted.append(index)

    machine_ids, refused = admit_machines(session, policy, [_telemetry(items, i) for i in accepted], view)
    positions = _positions(session, items, accepted, machine_ids, refused, refuse, view)

    firsts: dict[Key, _Row] = {}
    followers: list[tuple[Key, _Row]] = []
    for index in accepted:
        if outcomes[index]:
            continue
        telemetry = _telemetry(items, index)
        machine_id = machine_ids[telemetry.path]
        row = _Row(index, telemetry, _wide(telemetry.values, positions[machine_id]))
        key = (machine_id, telemetry.ts)
        if key in firsts:
            followers.append((key, row))
        else:
            firsts[key] = row

    inserted = readings.insert_readings(
        session, [(key[0], key[1], row.telemetry.seq, row.values) for key, row in firsts.items()]
    )
    stored = readings.readings_at(session, [key for key in firsts if key not in inserted])
    for key, row in firsts.items():
        stored.setdefault(key, row.values)
        outcomes[row.index] = ACCEPTED if key in inserted else _compare(row, stored[key], refuse)
    for key, row in followers:
        outcomes[row.index] = _compare(row, stored[key], refuse)

    seq = sequence.track(session, _stored(firsts, inserted))
    if keep_dead_letters:
        # In arrival order, so that dead letters' ids (and replays) follow the stream.
        ordered = [letters[index] for index in sorted(letters)]
        dead_letters.add_dead_letters(session, ordered, payload_limit=policy.payload_limit)
    return BatchResult(outcomes, details, seq)


def _telemetry(items: Sequence[Incoming], index: int) -> Telemetry:
    parsed = items[index].parsed
    assert isinstance(parsed, Telemetry)
    return parsed


def _positions(
    session: Session,
    items: Sequence[Incoming],
    accepted: list[int],
    machine_ids: dict[str, int],
    refused: dict[str, Rejection],
    refuse: Refuse,
    view: AssetView,
) -> dict[int, dict[str, int]]:
    """Sensor positions per machine, registering new sensor names (within the per-machine limit)."""
    positions = view.positions(session, machine_ids.values())
    new_names: dict[int, set[str]] = {}
    for index in accepted:
        telemetry = _telemetry(items, index)
        machine_id = machine_ids.get(telemetry.path)
        if machine_id is None:
            rejection = refused[telemetry.path]
            refuse(index, rejection.reason, rejection.detail)
            continue
        known = positions[machine_id]
        pending = new_names.setdefault(machine_id, set())
        fresh = {name for name in telemetry.values if name not in known and name not in pending}
        if len(known) + len(pending) + len(fresh) > MAX_SENSORS_PER_MACHINE:
            refuse(
                index,
                "too_many_sensors",
                f"machine {telemetry.path!r} would have more than {MAX_SENSORS_PER_MACHINE} sensors",
            )
            continue
        pending |= fresh
    for machine_id, names in new_names.items():
        if names:
            positions[machine_id] = assets.register_sensors(session, machine_id, names)
            view.learn_positions(machine_id, positions[machine_id])
    return positions


def _wide(values: dict[str, float], positions: dict[str, int]) -> list[float | None]:
    """Sensor values → array indexed by position - 1, NULL where absent, no trailing NULLs."""
    row: list[float | None] = [None] * max(positions[name] for name in values)
    for name, value in values.items():
        row[positions[name] - 1] = value
    return row


def _trimmed(values: list[float | None]) -> list[float | None]:
    end = len(values)
    while end and values[end - 1] is None:
        end -= 1
    return values[:end]


def _compare(row: _Row, stored: list[float | None], refuse: Refuse) -> str:
    """A second message for a stored key: a redelivery when its values are the same, else a conflict."""
    if _trimmed(row.values) == _trimmed(stored):
        return DUPLICATE
    telemetry = row.telemetry
    refuse(
        row.index,
        "conflict",
        f"a reading of {telemetry.path!r} at {telemetry.ts.isoformat()} is already stored with other values",
    )
    return "conflict"


def _stored(firsts: dict[Key, _Row], inserted: set[Key]) -> dict[int, list[tuple[datetime, int | None]]]:
    """(ts, seq) of the newly stored readings, by machine."""
    stored: dict[int, list[tuple[datetime, int | None]]] = {}
    for key in inserted:
        machine_id, ts = key
        stored.setdefault(machine_id, []).append((ts, firsts[key].telemetry.seq))
    return stored
