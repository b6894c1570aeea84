"""alerts on a line (quality), not only on a machine

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("alerts", sa.Column("line_id", sa.Integer(), nullable=True))
    op.create_foreign_key(op.f("fk_alerts_line_id_lines"), "alerts", "lines", ["line_id"], ["id"])
    op.create_index(op.f("ix_alerts_line_id"), "alerts", ["line_id"])
    op.alter_column("alerts", "machine_id", existing_type=sa.Integer(), nullable=True)
    op.create_check_constraint(
        op.f("ck_alerts_subject"), "alerts", "machine_id IS NOT NULL OR line_id IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DELETE FROM alerts WHERE machine_id IS NULL")
    op.drop_constraint(op.f("ck_alerts_subject"), "alerts", type_="check")
    op.alter_column("alerts", "machine_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index(op.f("ix_alerts_line_id"), table_name="alerts")
    op.drop_constraint(op.f("fk_alerts_line_id_lines"), "alerts", type_="foreignkey")
    op.drop_column("alerts", "line_id")
