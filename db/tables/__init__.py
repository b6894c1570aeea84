"""All tables, importable from one place (alembic's env reads `Base.metadata` from here)."""

from db.base import Base
from db.tables.alerting import (
    AlertCondition,
    AlertEvent,
    AlertRule,
    BacktestPin,
    DowntimeWindow,
    Notification,
)
from db.tables.assets import Line, Machine, Sensor, Site
from db.tables.events import DeadLetter, Inspection, MachineEvent
from db.tables.operations import ApiKey, AuditEntry, DataVersion, JobRequest, JobRun
from db.tables.predictions import Alert, ModelVersion, Prediction
from db.tables.readings import Reading, ReadingRollup1h, ReadingRollup1m, RollupState

__all__ = [
    "Alert",
    "AlertCondition",
    "AlertEvent",
    "AlertRule",
    "ApiKey",
    "AuditEntry",
    "BacktestPin",
    "Base",
    "DataVersion",
    "DeadLetter",
    "DowntimeWindow",
    "Inspection",
    "JobRequest",
    "JobRun",
    "Line",
    "Machine",
    "MachineEvent",
    "ModelVersion",
    "Notification",
    "Prediction",
    "Reading",
    "ReadingRollup1h",
    "ReadingRollup1m",
    "RollupState",
    "Sensor",
    "Site",
]
