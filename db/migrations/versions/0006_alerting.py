"""alert history, rules, pending conditions, notifications, shelving, planned downtime, backtest pins

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 22:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "backtest_pins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backtest_pins")),
        sa.UniqueConstraint("name", name=op.f("uq_backtest_pins_name")),
    )
    op.create_table(
        "downtime_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("machine_id", sa.Integer(), nullable=True),
        sa.Column("line_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("work_order_id", sa.String(length=128), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(machine_id IS NULL) <> (line_id IS NULL)", name=op.f("ck_downtime_windows_one_subject")
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_downtime_windows_ends_after_start")),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], name=op.f("fk_downtime_windows_line_id_lines")),
        sa.ForeignKeyConstraint(
            ["machine_id"], ["machines.id"], name=op.f("fk_downtime_windows_machine_id_machines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_downtime_windows")),
    )
    op.create_index("ix_downtime_windows_ends_at", "downtime_windows", ["ends_at"])
    op.create_index(op.f("ix_downtime_windows_line_id"), "downtime_windows", ["line_id"])
    op.create_index(op.f("ix_downtime_windows_machine_id"), "downtime_windows", ["machine_id"])
    op.create_table(
        "alert_conditions",
        sa.Column("machine_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["machine_id"],
            ["machines.id"],
            name=op.f("fk_alert_conditions_machine_id_machines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("machine_id", "rule", name=op.f("pk_alert_conditions")),
    )
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=True),
        sa.Column("machine_id", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("warning", sa.Float(), nullable=True),
        sa.Column("critical", sa.Float(), nullable=True),
        sa.Column("hysteresis", sa.Float(), nullable=False),
        sa.Column("min_duration_s", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.CheckConstraint("line_id IS NULL OR machine_id IS NULL", name=op.f("ck_alert_rules_one_scope")),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], name=op.f("fk_alert_rules_line_id_lines")),
        sa.ForeignKeyConstraint(
            ["machine_id"], ["machines.id"], name=op.f("fk_alert_rules_machine_id_machines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
    )
    op.create_index(
        "uq_alert_rules_scope",
        "alert_rules",
        ["rule", sa.text("coalesce(line_id, 0)"), sa.text("coalesce(machine_id, 0)")],
        unique=True,
    )
    op.create_table(
        "alert_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("held", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("routed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('opened', 'severity_raised', 'severity_lowered', 'acknowledged', 'commented', "
            "'shelved', 'unshelved', 'escalated', 'resolved', 'outcome')",
            name=op.f("ck_alert_events_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_alert_events_alert_id_alerts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
    )
    op.create_index(op.f("ix_alert_events_alert_id"), "alert_events", ["alert_id"], unique=False)
    op.create_index(
        "ix_alert_events_unrouted", "alert_events", ["id"], unique=False, postgresql_where="routed_at IS NULL"
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("alert_event_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name=op.f("ck_notifications_status")),
        sa.ForeignKeyConstraint(
            ["alert_event_id"],
            ["alert_events.id"],
            name=op.f("fk_notifications_alert_event_id_alert_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_notifications_alert_id_alerts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint(
            "alert_event_id", "channel", "target", name=op.f("uq_notifications_alert_event_id_channel_target")
        ),
    )
    op.create_index(op.f("ix_notifications_alert_id"), "notifications", ["alert_id"], unique=False)
    op.create_index(
        "ix_notifications_pending",
        "notifications",
        ["next_attempt_at"],
        unique=False,
        postgresql_where="status = 'pending'",
    )
    op.add_column("alerts", sa.Column("shelved_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("alerts", sa.Column("outcome", sa.String(length=16), nullable=True))
    op.add_column("alerts", sa.Column("fault_code", sa.String(length=64), nullable=True))
    op.add_column("alerts", sa.Column("work_order_id", sa.String(length=128), nullable=True))
    op.add_column("alerts", sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("alerts", sa.Column("outcome_by", sa.String(length=128), nullable=True))
    op.create_check_constraint(
        op.f("ck_alerts_outcome"),
        "alerts",
        "outcome IS NULL OR outcome IN ('fault_found', 'part_replaced', 'no_fault_found')",
    )
    op.add_column("alerts", sa.Column("shelved_by", sa.String(length=128), nullable=True))
    op.add_column("alerts", sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "alerts",
        sa.Column(
            "detail", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False
        ),
    )


def downgrade() -> None:
    op.drop_table("backtest_pins")
    op.drop_table("downtime_windows")
    op.drop_constraint(op.f("ck_alerts_outcome"), "alerts", type_="check")
    for column in ("outcome", "fault_code", "work_order_id", "outcome_at", "outcome_by"):
        op.drop_column("alerts", column)
    op.drop_column("alerts", "detail")
    op.drop_column("alerts", "escalated_at")
    op.drop_column("alerts", "shelved_by")
    op.drop_column("alerts", "shelved_until")
    op.drop_index(
        "ix_notifications_pending", table_name="notifications", postgresql_where="status = 'pending'"
    )
    op.drop_index(op.f("ix_notifications_alert_id"), table_name="notifications")
    op.drop_table("notifications")
    op.drop_index("ix_alert_events_unrouted", table_name="alert_events", postgresql_where="routed_at IS NULL")
    op.drop_index(op.f("ix_alert_events_alert_id"), table_name="alert_events")
    op.drop_table("alert_events")
    op.drop_index("uq_alert_rules_scope", table_name="alert_rules")
    op.drop_table("alert_rules")
    op.drop_table("alert_conditions")
