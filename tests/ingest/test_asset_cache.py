"""The ingestor's cache of machine ids and sensor positions: hits after commit, nothing learnt from a
rolled-back transaction, and new sensors of cached machines still registered."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from db.repositories import assets
from db.repositories.assets import get_machine_by_path, sensor_positions
from ingest.asset_cache import AssetCache
from ingest.durable import write_isolating
from ingest.writer import write_batch
from tests.ingest.test_writer import NOW, reading, rows


def test_a_rolled_back_registration_is_never_remembered(session_factory: sessionmaker[Session]) -> None:
    cache = AssetCache()
    view = cache.view()
    with session_factory() as session:
        write_batch(session, [reading("press-01")], assets_view=view)
        session.rollback()  # the transaction fails after registering press-01: the view is not committed
    # Another machine now takes the id press-01 had in the rolled-back transaction.
    write_isolating(session_factory, [reading("press-99")], auto_register=True, cache=cache)
    write_isolating(
        session_factory, [reading("press-01", ts=NOW + timedelta(seconds=1))], auto_register=True, cache=cache
    )
    with session_factory() as session:
        ids = assets.machine_ids_by_path(session, ["site-1/line-1/press-01", "site-1/line-1/press-99"])
    assert sorted((m, ts) for m, ts, _, _ in rows(session_factory)) == [
        (ids["site-1/line-1/press-99"], NOW),
        (ids["site-1/line-1/press-01"], NOW + timedelta(seconds=1)),
    ]
    known = cache.view().machine_ids(session_factory(), ids)  # served from the cache, equal to the database
    assert known == ids


def test_cached_machines_still_register_new_sensors(session_factory: sessionmaker[Session]) -> None:
    cache = AssetCache()
    write_isolating(
        session_factory, [reading("press-01", vibration_rms=1.0)], auto_register=True, cache=cache
    )
    later = reading("press-01", ts=NOW + timedelta(seconds=1), vibration_rms=2.0, bearing_temp_c=60.0)
    assert write_isolating(session_factory, [later], auto_register=True, cache=cache).outcomes == ["accepted"]
    with session_factory() as session:
        machine = get_machine_by_path(session, "site-1/line-1/press-01")
        assert machine is not None
        assert sensor_positions(session, machine.id) == {"vibration_rms": 1, "bearing_temp_c": 2}
    assert rows(session_factory)[-1][3] == [2.0, 60.0]
