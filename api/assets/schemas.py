"""What creating or changing a site, line, machine or sensor may carry (in a change, fields left out
stay as they are), and how sites and lines are shown."""

from __future__ import annotations

import math
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.schemas import Timestamp

MesCode = Annotated[
    str | None, Field(default=None, min_length=1, max_length=128, description="The MES asset code (unique).")
]
# A site's or line's code names it in a URL path segment (`/sites/{site}`): no slash.
AssetCode = Annotated[
    str | None,
    Field(default=None, min_length=1, max_length=128, pattern=r"^[^/\x00]+$",
          description="The MES asset code (unique; no slash)."),
]  # fmt: skip


class MachineChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    machine_type: str | None = Field(
        default=None, max_length=64, description="Machines sharing a sensor set share a RUL model."
    )
    external_code: MesCode = None


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


def _known_zone(timezone: str) -> None:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {timezone!r}; give an IANA name such as Europe/Berlin") from None


class SiteChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="IANA time zone, e.g. Europe/Berlin: nightly trainings run by it.",
    )
    external_code: AssetCode = None

    @model_validator(mode="after")
    def _known_zone(self) -> SiteChange:
        if "timezone" in self.model_fields_set:
            if self.timezone is None:
                raise ValueError("timezone may not be null; give an IANA name such as Europe/Berlin")
            _known_zone(self.timezone)
        return self


class LineChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_code: AssetCode = None


class SiteOut(BaseModel):
    name: str
    timezone: str
    external_code: str | None = Field(description="The MES code of the site, also accepted as its name.")
    lines: list[str] = Field(default_factory=list, description="Names of the site's lines in service.")
    retired_at: Timestamp | None = Field(description="When the site was retired (null: in service).")


AssetName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]


class SiteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: AssetName
    timezone: str = Field(default="UTC", min_length=1, max_length=64, description="IANA time zone.")
    external_code: AssetCode = None

    @model_validator(mode="after")
    def _known_zone(self) -> SiteIn:
        _known_zone(self.timezone)
        return self


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: AssetName
    name: AssetName
    external_code: AssetCode = None


class LineOut(BaseModel):
    site: str
    name: str
    path: str = Field(description="site/line, as the alerts, downtime and quality routes take it.")
    external_code: str | None = Field(description="The MES code of the line, also accepted as its path.")
    machines: int = Field(description="Machines in service on the line.")
    retired_at: Timestamp | None = Field(description="When the line was retired (null: in service).")


class SensorIn(SensorChange):
    name: AssetName


class MachineIn(MachineChange):
    site: AssetName
    line: AssetName
    name: AssetName
    sensors: list[SensorIn] = Field(default_factory=list, max_length=500)
