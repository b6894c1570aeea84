"""Migrations go up and down cleanly, and the schema they build matches the tables in code."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, pool

from db.engine import sqlalchemy_url
from db.migrate import downgrade, upgrade
from db.partitions import include_in_autogenerate
from db.tables import Base
from tests.conftest import PostgresUnderTest


def _fresh_database(postgres: PostgresUnderTest, name: str) -> str:
    admin = create_engine(sqlalchemy_url(postgres.url), isolation_level="AUTOCOMMIT", poolclass=pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    base, _, query = postgres.url.partition("?")
    return base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")


def test_upgrade_downgrade_upgrade(postgres: PostgresUnderTest) -> None:
    url = _fresh_database(postgres, "migrations_roundtrip")
    upgrade(url)
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    assert {"machines", "readings", "readings_default", "dead_letters", "api_keys"} <= set(
        inspect(engine).get_table_names()
    )
    downgrade(url, "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    upgrade(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_in_autogenerate})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == [], f"tables in code and migrations differ: {diff}"
