"""What a change to a machine, a sensor or a site may carry; fields left out stay as they are."""

from __future__ import annotations

import math
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, model_validator


class MachineChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    machine_type: str | None = Field(
        default=None, max_length=64, description="Machines sharing a sensor set share a RUL model."
    )
    external_code: str | None = Field(
        default=None, min_length=1, max_length=128, description="The MES asset code (unique)."
    )


class SensorChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit: str | None = Field(default=None, max_length=32, description="e.g. °C, mm/s, bar")
    normal_min: float | None = Field(default=None, description="Lower end of the normal range.")
    normal_max: float | None = Field(default=None, description="Upper end of the normal range.")

    @model_validator(mode="after")
    def _finite_and_ordered(self) -> SensorChange:
        bounds = [b for b in (self.normal_min, self.normal_max) if b is not None]
        if any(not math.isfinite(b) for b in bounds):
            raise ValueError("normal_min and normal_max must be finite numbers")
        if self.normal_min is not None and self.normal_max is not None and self.normal_min > self.normal_max:
            raise ValueError("normal_min must not exceed normal_max")
        return self


class SiteChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(
        min_length=1,
        max_length=64,
        description="IANA time zone, e.g. Europe/Berlin: nightly trainings run by it.",
    )

    @model_validator(mode="after")
    def _known_zone(self) -> SiteChange:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {self.timezone!r}; give an IANA name such as Europe/Berlin"
            ) from None
        return self


class SiteOut(BaseModel):
    name: str
    timezone: str
