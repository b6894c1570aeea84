"""sites and lines get an MES code and can be retired; sensors can be retired; alert rules count in
the fleet data version

Sites and lines get `external_code` (the MES asset code, unique per kind, like machines') and
`retired_at` (null: in service), as machines have. Sensors get `retired_at`: a retired sensor keeps
its readings and its position, and is left out of the sensor checks.

Alert rules' overrides now count in the fleet's data version (0008): the API's health answers rate
each prediction by the rules in effect, so a changed threshold must not be answered from a cache.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("sites", "lines"):
        op.add_column(table, sa.Column("external_code", sa.String(128), nullable=True))
        op.create_unique_constraint(op.f(f"uq_{table}_external_code"), table, ["external_code"])
    for table in ("sites", "lines", "sensors"):
        op.add_column(table, sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "CREATE CONSTRAINT TRIGGER fleet_data_version AFTER INSERT OR UPDATE OR DELETE ON alert_rules "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_fleet_data_version()"
    )
    op.execute(
        "CREATE TRIGGER fleet_data_version_truncate AFTER TRUNCATE ON alert_rules "
        "FOR EACH STATEMENT EXECUTE FUNCTION bump_fleet_data_version()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER fleet_data_version_truncate ON alert_rules")
    op.execute("DROP TRIGGER fleet_data_version ON alert_rules")
    for table in ("sites", "lines", "sensors"):
        op.drop_column(table, "retired_at")
    for table in ("sites", "lines"):
        op.drop_constraint(op.f(f"uq_{table}_external_code"), table, type_="unique")
        op.drop_column(table, "external_code")
