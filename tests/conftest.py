"""Session fixtures: a real PostgreSQL and a real MQTT broker that the test session owns.

PostgreSQL: an embedded pgserver (PostgreSQL 18) in a temporary folder, or, when
`PLANTWATCH_TEST_DATABASE_URL` names a server (CI also runs the db tests on the machine's
PostgreSQL 15 this way), a throwaway database created there and dropped at the end.
MQTT: Mosquitto from PATH with our configuration on a free port, else amqtt.
Each test that uses `db_url` starts from empty tables.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import libpq_url, make_engine, make_session_factory
from db.migrate import upgrade
from db.tables import Base
from plantwatch.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from plantwatch.settings import Settings

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


class PostgresUnderTest:
    """The session's PostgreSQL; `restart()` stops and starts the embedded server."""

    def __init__(self, base: Path) -> None:
        self.server_url = os.environ.get("PLANTWATCH_TEST_DATABASE_URL")
        self.embedded = None if self.server_url else EmbeddedPostgres(base / "pgdata")
        self.db_name = f"plantwatch_test_{uuid.uuid4().hex[:8]}"
        self.url = ""

    def start(self) -> str:
        if self.embedded is not None:
            self.url = self.embedded.start()
            return self.url
        assert self.server_url
        with psycopg.connect(libpq_url(self.server_url), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
        self.url = self.server_url.rsplit("/", 1)[0] + f"/{self.db_name}"
        return self.url

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()
            return
        assert self.server_url
        with psycopg.connect(libpq_url(self.server_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')

    def restart(self) -> None:
        if self.embedded is None:
            pytest.skip("restarting PostgreSQL needs the embedded server")
        self.embedded.stop()
        self.url = self.embedded.start()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresUnderTest]:
    # Outside pytest's basetemp: a concurrent pytest session resets that folder's mode, and the
    # embedded server (running as its own `pgserver` user when we are root) then loses its data.
    base = Path(tempfile.mkdtemp(prefix="plantwatch-test-pg-"))
    base.chmod(0o755)
    server = PostgresUnderTest(base)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def migrated_url(postgres: PostgresUnderTest) -> str:
    upgrade(postgres.url)
    return postgres.url


@pytest.fixture(scope="session")
def engine(migrated_url: str) -> Iterator[Engine]:
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db_url(migrated_url: str, engine: Engine) -> str:
    """The migrated database, emptied before the test."""
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return migrated_url


@pytest.fixture
def session_factory(db_url: str, engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture(scope="session")
def mqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker(tmp_path_factory.mktemp("mqtt"), free_port())
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def settings(db_url: str, mqtt_broker: EmbeddedBroker, tmp_path: Path) -> Settings:
    """Settings pointing at the session's database and broker, with a unique ingest client id."""
    return Settings(
        database_url=db_url,
        mqtt_url=mqtt_broker.url,
        var_dir=tmp_path / "var",
        mqtt_client_id=f"test-ingest-{uuid.uuid4().hex[:8]}",
        ingest_flush_ms=50,
    )
