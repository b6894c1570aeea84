"""Alembic environment: runs migrations online against the URL set by db.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from db.partitions import include_in_autogenerate
from db.tables import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "db.migrate sets sqlalchemy.url"
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, include_object=include_in_autogenerate
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
