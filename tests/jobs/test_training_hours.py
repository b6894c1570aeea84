"""Nightly training by each site's clock: which scopes are due at a given UTC time."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories.assets import register_machine
from db.repositories.events import add_event
from db.tables import Site
from jobs.train_worker import train_rul_in_worker
from jobs.training_hours import due_scopes, local_hour, qc_scope_zones, rul_scope_zones
from plantwatch.settings import Settings


def _plant(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        for site, line, name, machine_type in [
            ("berlin", "l1", "a", "pump"), ("berlin", "l1", "b", "pump"), ("tokyo", "l1", "c", "pump"),
            ("tokyo", "l1", "d", "fan"), ("utc", "l1", "e", None),
        ]:  # fmt: skip
            machine = register_machine(session, site, line, name)
            machine.machine_type = machine_type
            session.flush()
            add_event(session, machine_id=machine.id, kind="failure", ts=datetime(2026, 1, 1, tzinfo=UTC),
                      note="", work_order_id=None, created_by=None)  # fmt: skip
        zones = {"berlin": "Europe/Berlin", "tokyo": "Asia/Tokyo", "utc": "Not/A_Zone"}
        for site, zone in zones.items():
            session.execute(update(Site).where(Site.name == site).values(timezone=zone))


def test_each_scope_takes_the_zone_of_most_of_its_machines(session_factory: sessionmaker[Session]) -> None:
    _plant(session_factory)
    with transaction(session_factory) as session:
        rul, qc = rul_scope_zones(session), qc_scope_zones(session)
    assert rul == {"pump": "Europe/Berlin", "fan": "Asia/Tokyo", "default": "Not/A_Zone"}
    assert qc == {"berlin/l1": "Europe/Berlin", "tokyo/l1": "Asia/Tokyo", "utc/l1": "Not/A_Zone"}
    # 01:00 UTC in winter: 02:00 in Berlin, 10:00 in Tokyo, 01:00 where the zone is unknown (UTC)
    winter = datetime(2026, 1, 15, 1, 0, tzinfo=UTC)
    assert due_scopes(["pump", "fan", "default"], rul, winter, 2) == ["pump"]
    assert due_scopes(["pump", "fan", "default"], rul, datetime(2026, 1, 14, 17, 0, tzinfo=UTC), 2) == ["fan"]
    assert due_scopes(["default", "nowhere"], rul, datetime(2026, 1, 15, 2, 0, tzinfo=UTC), 2) == [
        "default", "nowhere",
    ]  # fmt: skip
    # summer time: Berlin is UTC+2
    assert local_hour(datetime(2026, 7, 15, 0, 0, tzinfo=UTC), "Europe/Berlin") == 2


def test_a_nightly_firing_with_nothing_due_spawns_no_training(session_factory: sessionmaker[Session]) -> None:
    """12:00 UTC is no site's 02:00; a worker would fail here (the settings have no DATABASE_URL)."""
    _plant(session_factory)
    with transaction(session_factory) as session:
        summary = train_rul_in_worker(
            session, Settings(), datetime(2026, 1, 15, 12, 0, tzinfo=UTC), local_hour=2
        )
    assert summary["trained"] == {} and "02:00" in summary["note"]
