"""data version of the fleet's tables, kept by triggers, for the API's cached answers

Every committed transaction that changes sites, lines, machines (their identity, not ingest's
last_seen_at/last_seq/seq_gaps), predictions, alerts or model versions gives `data_versions.fleet` a
new number, once, as it commits: the triggers are deferred row triggers that skip all but the first
row of a transaction, so a writer holds the version row only for the moment of its commit (writers
never deadlock on it), and a reader sees a new number exactly when the data it covers has changed.
Numbers come from a sequence of their own, so they never repeat, not even after a TRUNCATE of the
tables (which its own statement trigger counts too).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table → the columns whose updates count (None: all of them)
COUNTED: dict[str, tuple[str, ...] | None] = {
    "sites": None,
    "lines": None,
    "machines": ("line_id", "name", "path", "machine_type", "external_code", "retired_at"),
    "predictions": None,
    "alerts": None,
    "model_versions": None,
}

BUMP = """
CREATE FUNCTION bump_fleet_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('plantwatch.fleet_version_bumped', true) IS DISTINCT FROM 'yes' THEN
        PERFORM set_config('plantwatch.fleet_version_bumped', 'yes', true);
        INSERT INTO data_versions (name, version) VALUES ('fleet', nextval('data_version_seq'))
        ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version;
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "data_versions",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_data_versions")),
    )
    op.execute("CREATE SEQUENCE data_version_seq")
    op.execute("INSERT INTO data_versions (name, version) VALUES ('fleet', nextval('data_version_seq'))")
    op.execute(BUMP)
    for table, columns in COUNTED.items():
        updates = f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"
        op.execute(
            f"CREATE CONSTRAINT TRIGGER fleet_data_version AFTER INSERT OR {updates} OR DELETE ON {table} "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_fleet_data_version()"
        )
        op.execute(
            f"CREATE TRIGGER fleet_data_version_truncate AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_fleet_data_version()"
        )


def downgrade() -> None:
    for table in COUNTED:
        op.execute(f"DROP TRIGGER fleet_data_version_truncate ON {table}")
        op.execute(f"DROP TRIGGER fleet_data_version ON {table}")
    op.execute("DROP FUNCTION bump_fleet_data_version()")
    op.execute("DROP SEQUENCE data_version_seq")
    op.drop_table("data_versions")
