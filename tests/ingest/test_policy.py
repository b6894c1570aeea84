"""The auto-registration policy on a real PostgreSQL: on/off, allowed patterns, the hourly cap."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories import dead_letters
from db.tables import Machine
from ingest.messages import Telemetry, telemetry_payload, telemetry_topic
from ingest.policy import IngestPolicy
from ingest.writer import Incoming, write_batch
from plantwatch.settings import Settings

ROOT = "plantwatch/v1"
NOW = datetime.now(UTC).replace(microsecond=0)


def reading(path: str, seconds: int = 0) -> Incoming:
    site, line, machine = path.split("/")
    telemetry = Telemetry(site, line, machine, NOW + timedelta(seconds=seconds), None, {"a": 1.0})
    return Incoming(telemetry_topic(ROOT, telemetry), telemetry_payload(telemetry), telemetry, NOW)


def write(factory: sessionmaker[Session], policy: IngestPolicy, *items: Incoming) -> list[str]:
    with transaction(factory) as session:
        return write_batch(session, items, policy=policy).outcomes


def machines(factory: sessionmaker[Session]) -> list[str]:
    with factory() as session:
        return list(session.scalars(select(Machine.path).order_by(Machine.path)))


def details(factory: sessionmaker[Session]) -> dict[str, str]:
    with factory() as session:
        return {letter.reason: letter.detail for letter in dead_letters.list_dead_letters(session)}


def test_settings_make_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    assert IngestPolicy.from_settings(Settings()) == IngestPolicy(
        auto_register=True,
        allowed_machines=("*/*/*",),
        max_new_machines_per_hour=1000,
        payload_limit=65536,
    )
    monkeypatch.setenv("PLANTWATCH_INGEST_ALLOWED_MACHINES", '["site-1/*", "lab/*/rig-?"]')
    monkeypatch.setenv("PLANTWATCH_INGEST_MAX_NEW_MACHINES_PER_HOUR", "5")
    monkeypatch.setenv("PLANTWATCH_INGEST_MAX_PAYLOAD_BYTES", "1000")
    policy = IngestPolicy.from_settings(Settings())
    assert policy.allowed_machines == ("site-1/*", "lab/*/rig-?")
    assert (policy.max_new_machines_per_hour, policy.payload_limit) == (5, 1000)
    assert policy.allows("site-1/line-9/press-01") and policy.allows("lab/bench/rig-7")
    assert not policy.allows("site-10/line-1/press-01") and not policy.allows("lab/bench/rig-77")
    assert not policy.allows("Site-1/line-1/press-01")  # paths are case-sensitive
    with pytest.raises(ValidationError):
        Settings(ingest_allowed_machines=[])


def test_patterns_refuse_unknown_machines_only(session_factory: sessionmaker[Session]) -> None:
    everyone = IngestPolicy()
    assert write(session_factory, everyone, reading("site-2/l/old")) == ["accepted"]
    site_1 = IngestPolicy(allowed_machines=("site-1/*",))
    outcomes = write(
        session_factory,
        site_1,
        reading("site-1/l/new"),
        reading("site-2/l/new"),
        reading("site-2/l/old", 1),  # registered before the policy changed: accepted
        reading("site-2/l/new", 1),
    )
    assert outcomes == ["accepted", "not_allowed", "accepted", "not_allowed"]
    assert machines(session_factory) == ["site-1/l/new", "site-2/l/old"]
    detail = details(session_factory)["not_allowed"]
    assert "'site-2/l/new'" in detail and "'site-1/*'" in detail and "INGEST_ALLOWED_MACHINES" in detail


def test_auto_register_off_comes_before_the_patterns(session_factory: sessionmaker[Session]) -> None:
    policy = IngestPolicy(auto_register=False, allowed_machines=("nothing/*",))
    assert write(session_factory, policy, reading("a/b/c")) == ["unknown_machine"]
    assert "auto-registration is off" in details(session_factory)["unknown_machine"]
    assert machines(session_factory) == []


def test_the_hourly_cap_counts_recent_registrations(session_factory: sessionmaker[Session]) -> None:
    capped = IngestPolicy(max_new_machines_per_hour=2)
    outcomes = write(
        session_factory,
        capped,
        reading("s/l/m1"),
        reading("s/l/m2"),
        reading("s/l/m3"),
        reading("s/l/m1", 1),
        reading("s/l/m3", 1),
    )
    assert outcomes == ["accepted", "accepted", "registration_cap", "accepted", "registration_cap"]
    cap_detail = details(session_factory)["registration_cap"]
    assert "2 machines were already registered in the last hour" in cap_detail
    # Known machines are never refused by the cap, even a cap of zero.
    assert write(session_factory, IngestPolicy(max_new_machines_per_hour=0), reading("s/l/m2", 2)) == [
        "accepted"
    ]
    # An hour later the two no longer count.
    with transaction(session_factory) as session:
        session.execute(update(Machine).values(created_at=datetime.now(UTC) - timedelta(minutes=61)))
    assert write(session_factory, capped, reading("s/l/m3", 2), reading("s/l/m4")) == ["accepted"] * 2
    assert write(session_factory, capped, reading("s/l/m5")) == ["registration_cap"]


def test_the_cap_holds_across_concurrent_writers(session_factory: sessionmaker[Session]) -> None:
    """Two ingest processes each registering a new machine under a cap of one: only one may."""
    capped = IngestPolicy(max_new_machines_per_hour=1)
    second: list[str] = []

    def other_process() -> None:
        second.extend(write(session_factory, capped, reading("s/l/second")))

    with transaction(session_factory) as session:
        assert write_batch(session, [reading("s/l/first")], policy=capped).outcomes == ["accepted"]
        thread = threading.Thread(target=other_process)
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive(), "the second writer must wait for the first one's commit"
    thread.join(10)
    assert second == ["registration_cap"]
    assert machines(session_factory) == ["s/l/first"]
