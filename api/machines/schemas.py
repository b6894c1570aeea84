"""Machines as the API shows them: identity, sensors, the newest reading; and sensor series."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas import Timestamp


class SensorOut(BaseModel):
    name: str
    position: int = Field(description="1-based index of the sensor in the machine's readings.")
    unit: str | None
    normal_min: float | None
    normal_max: float | None
    retired_at: Timestamp | None = Field(
        default=None, description="When the sensor was retired (null: in service); its readings stay."
    )


class LatestReading(BaseModel):
    ts: Timestamp
    values: dict[str, float | None] = Field(description="Sensor name → value (null: not in that reading).")


class MachineOut(BaseModel):
    id: int
    path: str = Field(description="site/line/machine; accepted wherever the id is.")
    site: str
    line: str
    name: str
    machine_type: str | None
    external_code: str | None = Field(description="The MES code of the machine, also accepted as its id.")
    last_seen_at: Timestamp | None
    last_seq: int | None = Field(description="`seq` of the machine's newest reading (null: none sent).")
    seq_gaps: int = Field(
        description="Sequence numbers missing in what the machine sent (docs/protocol.md: sequence gaps)."
    )
    sensors: list[SensorOut]
    latest: LatestReading | None
    retired_at: Timestamp | None = Field(
        default=None,
        description="When the machine was retired (null: in service); retired ones are not scored.",
    )


class PointOut(BaseModel):
    # A plain datetime: the API's connections use UTC, and 100k points must serialise quickly.
    ts: datetime = Field(description="RFC 3339, UTC.")
    value: float


class BucketPointOut(BaseModel):
    ts: datetime = Field(description="Start of the bucket, RFC 3339, UTC.")
    value: float = Field(description="Average of the bucket's values.")
    min: float
    max: float
    n: int = Field(description="Values in the bucket.")


class SeriesOut(BaseModel):
    machine: str = Field(description="The machine's path.")
    sensor: str
    unit: str | None
    bucket: Literal["raw"] = Field(
        default="raw", description="Every reading (`bucket=raw`, or `auto` chose it)."
    )
    points: list[PointOut] = Field(description="Oldest first.")


class BucketedSeriesOut(BaseModel):
    machine: str = Field(description="The machine's path.")
    sensor: str
    unit: str | None
    bucket: Literal["1m", "1h"] = Field(
        description="1-minute or 1-hour buckets (asked for, or what `auto` chose)."
    )
    points: list[BucketPointOut] = Field(description="Oldest first; buckets without a value are left out.")
