"""inspections: image size, label provenance, the classifier's prediction and its queue

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("inspections", sa.Column("width", sa.Integer(), nullable=True))
    op.add_column("inspections", sa.Column("height", sa.Integer(), nullable=True))
    op.add_column("inspections", sa.Column("labelled_by", sa.String(length=128), nullable=True))
    op.add_column("inspections", sa.Column("labelled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("inspections", sa.Column("predicted_label", sa.String(length=64), nullable=True))
    op.add_column("inspections", sa.Column("confidence", sa.Float(), nullable=True))
    op.add_column("inspections", sa.Column("model_version_id", sa.Integer(), nullable=True))
    op.add_column("inspections", sa.Column("classified_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "inspections",
        sa.Column("needs_review", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.create_foreign_key(
        op.f("fk_inspections_model_version_id_model_versions"),
        "inspections",
        "model_versions",
        ["model_version_id"],
        ["id"],
    )
    op.create_index("ix_inspections_line_taken_at", "inspections", ["line_id", "taken_at"])
    op.create_index(
        "ix_inspections_unclassified",
        "inspections",
        ["id"],
        postgresql_where=sa.text("classified_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_inspections_unclassified", table_name="inspections")
    op.drop_index("ix_inspections_line_taken_at", table_name="inspections")
    op.drop_constraint(
        op.f("fk_inspections_model_version_id_model_versions"), "inspections", type_="foreignkey"
    )
    for column in (
        "needs_review",
        "classified_at",
        "model_version_id",
        "confidence",
        "predicted_label",
        "labelled_at",
        "labelled_by",
        "height",
        "width",
    ):
        op.drop_column("inspections", column)
