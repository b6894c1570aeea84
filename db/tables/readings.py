"""Sensor readings: one wide row per machine and timestamp, partitioned by day.

A row holds every value of one message in `values`, indexed by `Sensor.position` (1-based, NULL
where the message had no value for that sensor). FACTS.md measured this layout at about ten times
the values/s of a row per value; the primary key (machine, ts) keeps it unique per machine, sensor
and time. There is no foreign key to machines on purpose: the check would cost every insert, and
machines are retired, never deleted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, Integer, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base


class Reading(Base):
    __tablename__ = "readings"
    __table_args__ = {"postgresql_partition_by": "RANGE (ts)"}

    machine_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    seq: Mapped[int | None] = mapped_column(BigInteger)
    values: Mapped[list[float | None]] = mapped_column(ARRAY(Float))


class _Rollup:
    """Per-bucket aggregates of readings, wide like readings: element `position` is one sensor's."""

    machine_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    n: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    avg: Mapped[list[float | None]] = mapped_column(ARRAY(Float))
    min: Mapped[list[float | None]] = mapped_column(ARRAY(Float))
    max: Mapped[list[float | None]] = mapped_column(ARRAY(Float))


class ReadingRollup1m(_Rollup, Base):
    __tablename__ = "readings_1m"


class ReadingRollup1h(_Rollup, Base):
    __tablename__ = "readings_1h"


class RollupState(Base):
    """How far each rollup has been computed (its watermark), so upkeep is incremental."""

    __tablename__ = "rollup_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    done_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
