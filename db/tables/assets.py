"""The asset hierarchy: site → line → machine → sensor."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, ForeignKey, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, utcnow


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    external_code: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    lines: Mapped[list[Line]] = relationship(back_populates="site")


class Line(Base):
    __tablename__ = "lines"
    __table_args__ = (UniqueConstraint("site_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    name: Mapped[str] = mapped_column(String(64))
    external_code: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    site: Mapped[Site] = relationship(back_populates="lines")
    machines: Mapped[list[Machine]] = relationship(back_populates="line")


class Machine(Base):
    """A machine; `path` (`site/line/machine`) is unique and accepted wherever the id is."""

    __tablename__ = "machines"
    __table_args__ = (UniqueConstraint("line_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    name: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(200), unique=True)
    machine_type: Mapped[str | None] = mapped_column(String(64))
    external_code: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    seq_gaps: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    line: Mapped[Line] = relationship(back_populates="machines")
    sensors: Mapped[list[Sensor]] = relationship(back_populates="machine", order_by="Sensor.position")


class Sensor(Base):
    """A sensor; `position` is its 1-based index in the machine's readings `values` array."""

    __tablename__ = "sensors"
    __table_args__ = (UniqueConstraint("machine_id", "name"), UniqueConstraint("machine_id", "position"))

    id: Mapped[int] = mapped_column(primary_key=True)
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id"))
    name: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(SmallInteger)
    unit: Mapped[str | None] = mapped_column(String(32))
    normal_min: Mapped[float | None] = mapped_column(Float)
    normal_max: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    machine: Mapped[Machine] = relationship(back_populates="sensors")
