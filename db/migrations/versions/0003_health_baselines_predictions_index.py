"""health baselines in the model registry, latest prediction per machine by index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 19:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_model_versions_kind"), "model_versions", type_="check")
    op.create_check_constraint(
        op.f("ck_model_versions_kind"), "model_versions", "kind IN ('rul', 'qc', 'health')"
    )
    op.create_index(
        "ix_predictions_machine_made_at",
        "predictions",
        ["machine_id", "made_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_predictions_machine_made_at", table_name="predictions")
    op.execute("DELETE FROM model_versions WHERE kind = 'health'")
    op.drop_constraint(op.f("ck_model_versions_kind"), "model_versions", type_="check")
    op.create_check_constraint(op.f("ck_model_versions_kind"), "model_versions", "kind IN ('rul', 'qc')")
