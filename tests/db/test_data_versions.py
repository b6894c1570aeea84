"""The fleet data version (migration 0008): moved once by each committed write that counts, only then."""

from __future__ import annotations

from sqlalchemy import Engine, text, update
from sqlalchemy.orm import Session, sessionmaker

from db.base import utcnow
from db.engine import transaction
from db.repositories.assets import register_machine
from db.repositories.data_versions import fleet_version
from db.tables import Machine, Prediction


def _version(factory: sessionmaker[Session]) -> int | None:
    with factory() as session:
        return fleet_version(session)


def test_each_committed_write_that_counts_moves_it_once(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        machine_id = register_machine(session, "s", "l", "m").id
    before = _version(session_factory)
    assert before is not None, "registering a machine counts"

    with transaction(session_factory) as session:  # ingest's sequence state: not shown by cached answers
        session.execute(
            update(Machine).where(Machine.id == machine_id).values(last_seen_at=utcnow(), last_seq=7)
        )
    assert _version(session_factory) == before

    with session_factory() as writer:
        writer.add_all([Prediction(machine_id=machine_id, rul=float(r)) for r in range(50)])
        writer.flush()
        assert _version(session_factory) == before, "not before the commit"
        writer.execute(update(Machine).where(Machine.id == machine_id).values(machine_type="pump"))
        writer.commit()
    after = _version(session_factory)
    assert after is not None and after > before
    with transaction(session_factory) as session:  # the next transaction may move it again
        session.add(Prediction(machine_id=machine_id, rul=1.0))
    assert (_version(session_factory) or 0) > after

    committed = _version(session_factory)
    with session_factory() as rolled_back:
        rolled_back.add(Prediction(machine_id=machine_id, rul=2.0))
        rolled_back.flush()
        rolled_back.rollback()
    assert _version(session_factory) == committed


def test_truncating_moves_it_to_a_number_never_seen(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as session:
        register_machine(session, "s", "l", "m")
    seen = _version(session_factory)
    assert seen is not None
    with engine.begin() as connection:  # as the test fixtures empty the tables, the version's too
        connection.execute(text("TRUNCATE data_versions, predictions, machines, lines, sites CASCADE"))
    after = _version(session_factory)
    assert after is not None and after > seen
