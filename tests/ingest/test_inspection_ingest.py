"""Inspection images end to end: real broker → the ingestor's inspection session → files + PostgreSQL."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.images import image_file
from db.repositories import dead_letters
from db.repositories.inspections import register_line
from db.tables import Inspection
from ingest.inspection_session import session_settings
from plantwatch.embedded import EmbeddedBroker
from plantwatch.settings import Settings
from tests.conftest import PostgresUnderTest
from tests.image_samples import image_bytes
from tests.ingest.faults import pending_for
from tests.ingest.helpers import Start, count, publish, wait_for
from tests.ingest.test_service import TOPIC as TELEMETRY_TOPIC
from tests.ingest.test_service import needs_persistent_sessions, payload, postgres_down, readings

TOPIC = "plantwatch/v1/site-1/line-1/cam-1/inspection"


def inspection(image: bytes, part_id: str = "P-1", **extra: Any) -> bytes:
    ts = (datetime.now(UTC) - timedelta(seconds=5)).isoformat().replace("+00:00", "Z")
    document = {"ts": ts, "part_id": part_id, "image": base64.b64encode(image).decode(), **extra}
    return json.dumps(document).encode()


def inspections(factory: sessionmaker[Session]) -> int:
    return count(factory, "SELECT count(*) FROM inspections")


def reasons(factory: sessionmaker[Session]) -> dict[str, int]:
    with factory() as session:
        return dead_letters.count_by_reason(session)


def test_good_duplicate_and_bad_images(
    settings: Settings, session_factory: sessionmaker[Session], start_ingestor: Start
) -> None:
    ingestor = start_ingestor(settings)
    good = image_bytes("JPEG", (40, 30), seed=1)
    corrupt = image_bytes("JPEG", (64, 64), seed=2)[:300]
    publish(
        settings,
        [
            (TOPIC, inspection(good, label="scratches", content_type="image/jpeg")),
            (TOPIC, inspection(good, part_id="P-2")),  # the same image again: no second row
            (TOPIC, inspection(corrupt, part_id="P-3")),
            (TOPIC, inspection(image_bytes("GIF"), part_id="P-4")),
            (TOPIC, b'{"ts": "2026-11-23T00:00:00Z", "part_id": "P-5", "image": "***"}'),
            ("plantwatch/v1/site-1/line-1/cam 1/inspection", inspection(good)),
            (TELEMETRY_TOPIC, payload(1)),  # telemetry flows beside the images
        ],
    )
    expected = {"image_corrupt": 1, "image_format": 1, "bad_base64": 1, "bad_topic": 1}
    wait_for(lambda: reasons(session_factory) == expected, what=f"dead letters {expected}")
    wait_for(lambda: inspections(session_factory) == 1, what="1 inspection")
    wait_for(lambda: readings(session_factory) == 1, what="1 reading")
    with session_factory() as session:
        row = session.scalars(select(Inspection)).one()
        assert (row.station, row.part_id, row.known_label) == ("cam-1", "P-1", "scratches")
        assert row.labelled_by == "mqtt site-1/line-1/cam-1" and row.labelled_at is not None
        assert (row.content_type, row.width, row.height, row.size_bytes) == ("image/jpeg", 40, 30, len(good))
        assert image_file(settings.images_directory, row.image_path).read_bytes() == good
        (letter,) = dead_letters.list_dead_letters(session, reason="image_corrupt")
        assert letter.topic == TOPIC and "cannot be decoded" in letter.detail
    ingestor.stop()
    # Everything was acknowledged: a restart under the same client ids gets nothing again.
    ingestor = start_ingestor(settings)
    time.sleep(1.5)
    ingestor.stop()
    assert reasons(session_factory) == expected
    assert inspections(session_factory) == 1


def test_lines_follow_the_registration_policy(
    settings: Settings, session_factory: sessionmaker[Session], start_ingestor: Start
) -> None:
    with transaction(session_factory) as session:
        register_line(session, "site-1", "known")
    strict = settings.model_copy(update={"ingest_auto_register": False})
    ingestor = start_ingestor(strict)
    publish(
        strict,
        [
            ("plantwatch/v1/site-1/known/cam-1/inspection", inspection(image_bytes(seed=1))),
            ("plantwatch/v1/site-1/unknown/cam-1/inspection", inspection(image_bytes(seed=2))),
        ],
    )
    wait_for(lambda: reasons(session_factory) == {"unknown_line": 1}, what="an unknown_line letter")
    wait_for(lambda: inspections(session_factory) == 1, what="the known line's inspection")
    ingestor.stop()
    allowed = settings.model_copy(update={"ingest_allowed_machines": ["site-2/*"]})
    ingestor = start_ingestor(allowed)
    publish(
        allowed,
        [
            ("plantwatch/v1/site-2/new/cam-1/inspection", inspection(image_bytes(seed=3))),
            ("plantwatch/v1/site-3/new/cam-1/inspection", inspection(image_bytes(seed=4))),
        ],
    )
    wait_for(lambda: reasons(session_factory).get("not_allowed") == 1, what="a not_allowed letter")
    wait_for(lambda: inspections(session_factory) == 2, what="site-2's new line registered")
    ingestor.stop()


def test_acknowledged_only_once_committed(
    settings: Settings,
    session_factory: sessionmaker[Session],
    start_ingestor: Start,
    postgres: PostgresUnderTest,
    mqtt_broker: EmbeddedBroker,
) -> None:
    needs_persistent_sessions(mqtt_broker)
    client_id = session_settings(settings).mqtt_client_id
    ingestor = start_ingestor(settings)
    with postgres_down(postgres):
        publish(settings, [(TOPIC, inspection(image_bytes(seed=7)))])
        time.sleep(1.0)  # received, and retried while PostgreSQL is down
        ingestor.stop()
        assert pending_for(settings.mqtt_url or "", client_id) == 1, "not acknowledged while not durable"
    ingestor = start_ingestor(settings)
    wait_for(lambda: inspections(session_factory) == 1, timeout_s=30, what="the redelivered inspection")
    ingestor.stop()
    assert pending_for(settings.mqtt_url or "", client_id) == 0, "acknowledged once committed"
    assert reasons(session_factory) == {}
