"""Write one inspection message: image file first (fsynced), then its row, in one transaction each.

Outcomes: `accepted` (a new inspection), `duplicate` (an image with the same sha256 is stored: no
second row, no second file) or a dead-letter reason — the envelope's (ingest/inspection_messages.py),
the image's (db.images.REASONS), the line's registration (`unknown_line`, `not_allowed`,
`registration_cap`: the same policy as machines, ingest/policy.py) or `db_error`. A dead letter is
committed before the outcome is returned, so whatever the outcome, the caller may then acknowledge.
Transient database errors and storage errors (OSError: disk full) propagate; the caller retries.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import Counter
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.images import ImageRejected, check_image, store_image
from db.repositories import assets, dead_letters
from db.repositories import inspections as repo
from ingest import metrics
from ingest.errors import is_database_error, is_transient
from ingest.inspection_messages import InspectionMessage, parse_inspection
from ingest.messages import Rejection
from ingest.policy import CAP_WINDOW, REGISTRATION_LOCK, IngestPolicy
from ingest.spool import RawMessage
from plantwatch.settings import Settings

ACCEPTED = "accepted"
DUPLICATE = "duplicate"

INSPECTIONS = Counter(
    "plantwatch_ingest_inspections_total",
    "Inspection messages taken from the broker, by outcome (accepted, duplicate or a dead-letter reason)",
    ["outcome"],
)


def write_inspection(
    factory: sessionmaker[Session], settings: Settings, policy: IngestPolicy, message: RawMessage
) -> str:
    """Parse, check, store and commit one inspection message; returns its outcome."""
    parsed = parse_inspection(
        message.topic,
        message.payload,
        topic_root=settings.mqtt_topic_root,
        received_at=message.received_at,
        max_image_bytes=settings.image_max_bytes,
        max_future_s=settings.ingest_max_future_s,
    )
    if isinstance(parsed, InspectionMessage):
        outcome = _store_checked(factory, settings, policy, message, parsed)
    else:
        outcome = _dead_letter(factory, policy, message, parsed)
    INSPECTIONS.labels(outcome).inc()
    if outcome not in (ACCEPTED, DUPLICATE):
        metrics.DEAD_LETTERS.labels(outcome).inc()
    return outcome


def _store_checked(
    factory: sessionmaker[Session],
    settings: Settings,
    policy: IngestPolicy,
    message: RawMessage,
    parsed: InspectionMessage,
) -> str:
    try:
        image = check_image(
            parsed.image, max_bytes=settings.image_max_bytes, declared_type=parsed.content_type
        )
    except ImageRejected as rejected:
        return _dead_letter(factory, policy, message, Rejection(rejected.code, rejected.detail))
    try:
        with transaction(factory) as session:
            line_id = admit_line(session, policy, parsed)
            if isinstance(line_id, Rejection):
                _add_letter(session, policy, message, line_id)
                return line_id.reason
            # Stored before, the file is only checked (a lost one is written again).
            image_path = store_image(settings.images_directory, parsed.image, image)
            if repo.find_by_sha256(session, image.sha256) is not None:
                return DUPLICATE
            labelled_at = datetime.now(UTC) if parsed.label is not None else None
            _row, created = repo.add_inspection(
                session,
                repo.NewInspection(
                    line_id=line_id,
                    station=parsed.station,
                    part_id=parsed.part_id,
                    taken_at=parsed.ts,
                    image=image,
                    image_path=image_path,
                    known_label=parsed.label,
                    labelled_by=f"mqtt {parsed.site}/{parsed.line}/{parsed.station}"[:128],
                    labelled_at=labelled_at,
                ),
            )
            return ACCEPTED if created else DUPLICATE
    except Exception as error:
        if is_transient(error) or not is_database_error(error):
            raise
        return _dead_letter(factory, policy, message, Rejection("db_error", str(error)[:2000]))


def admit_line(session: Session, policy: IngestPolicy, parsed: InspectionMessage) -> int | Rejection:
    """The id of the message's line, registering it (with its site) when the policy allows.

    Lines are registered like machines: a known line is always accepted; a new one needs
    auto-registration on, its path site/line/station matching an allowed pattern, and fewer than
    the hourly cap of lines registered in the last hour."""
    line_id = repo.find_line(session, parsed.site, parsed.line)
    if line_id is not None:
        return line_id
    line = f"{parsed.site}/{parsed.line}"
    path = f"{line}/{parsed.station}"
    if not policy.auto_register:
        return Rejection("unknown_line", f"line {line!r} is not registered and auto-registration is off")
    if not policy.allows(path):
        patterns = ", ".join(repr(p) for p in policy.allowed_machines)
        return Rejection(
            "not_allowed",
            f"line {line!r} is not registered and {path!r} matches none of the allowed patterns "
            f"({patterns}; PLANTWATCH_INGEST_ALLOWED_MACHINES)",
        )
    cap = policy.max_new_machines_per_hour
    if cap is not None:
        assets.lock_registrations(session, REGISTRATION_LOCK)  # held until commit, as for machines
        line_id = repo.find_line(session, parsed.site, parsed.line)
        if line_id is not None:
            return line_id
        if repo.count_lines_created_since(session, datetime.now(UTC) - CAP_WINDOW) >= cap:
            return Rejection(
                "registration_cap",
                f"line {line!r} is not registered and {cap} lines were already registered in the last "
                "hour (PLANTWATCH_INGEST_MAX_NEW_MACHINES_PER_HOUR); send it again later",
            )
    return repo.register_line(session, parsed.site, parsed.line)


def _dead_letter(
    factory: sessionmaker[Session], policy: IngestPolicy, message: RawMessage, rejection: Rejection
) -> str:
    with transaction(factory) as session:
        _add_letter(session, policy, message, rejection)
    return rejection.reason


def _add_letter(session: Session, policy: IngestPolicy, message: RawMessage, rejection: Rejection) -> None:
    letter = dead_letters.NewDeadLetter(
        message.topic, message.payload, rejection.reason, rejection.detail, message.received_at
    )
    dead_letters.add_dead_letters(session, [letter], payload_limit=policy.payload_limit)
