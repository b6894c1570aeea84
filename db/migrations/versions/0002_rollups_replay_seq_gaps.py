"""ingest at scale: reading rollups, dead-letter replay, sequence gaps

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 16:39:50.312148
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "readings_1h",
        sa.Column("machine_id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("n", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("avg", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.Column("min", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.Column("max", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.PrimaryKeyConstraint("machine_id", "bucket", name=op.f("pk_readings_1h")),
    )
    op.create_table(
        "readings_1m",
        sa.Column("machine_id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("n", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("avg", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.Column("min", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.Column("max", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.PrimaryKeyConstraint("machine_id", "bucket", name=op.f("pk_readings_1m")),
    )
    op.create_table(
        "rollup_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("done_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rollup_state")),
    )
    op.add_column("dead_letters", sa.Column("replay_requested_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("dead_letters", sa.Column("replay_error", sa.Text(), nullable=True))
    op.add_column("machines", sa.Column("seq_gaps", sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    op.drop_column("machines", "seq_gaps")
    op.drop_column("dead_letters", "replay_error")
    op.drop_column("dead_letters", "replay_requested_at")
    op.drop_table("rollup_state")
    op.drop_table("readings_1m")
    op.drop_table("readings_1h")
