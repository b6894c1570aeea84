"""Alert rules in and out of the API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.schemas import Timestamp

Ref = Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=r"^[^\x00]*$")]


class ThresholdsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    machine: Ref | None = Field(default=None, description="Override for this machine (id, path or MES code).")
    line: Ref | None = Field(default=None, description="Override for this line (site/line).")
    enabled: bool = True
    warning: float | None = Field(default=None, allow_inf_nan=False)
    critical: float | None = Field(default=None, allow_inf_nan=False)
    hysteresis: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    min_duration_s: int = Field(default=0, ge=0, le=7 * 86400)


class ThresholdsOut(BaseModel):
    enabled: bool
    warning: float | None
    critical: float | None
    hysteresis: float
    min_duration_s: int


class OverrideOut(ThresholdsOut):
    scope: Literal["plant", "line", "machine"]
    line: str | None = Field(description="site/line of a line's override.")
    machine: str | None = Field(description="Path of a machine's override.")
    updated_at: Timestamp
    updated_by: str


class EffectiveOut(ThresholdsOut):
    source: Literal["machine", "line", "plant", "default"] = Field(
        description="Where these thresholds come from: an override of that scope, or the defaults."
    )


class RuleOut(BaseModel):
    rule: str
    description: str
    worse: Literal["below", "above"] = Field(description="Which side of a threshold is bad.")
    unit: str
    defaults: ThresholdsOut = Field(description="From the settings; apply where no override does.")
    overrides: list[OverrideOut] = Field(description="The most specific applies: machine, line, plant.")
    effective: EffectiveOut = Field(
        description="The thresholds in effect for the machine the request names (`?machine=` of a GET, "
        "or the machine of the override a PUT or DELETE changes: its own override, its line's, the "
        "plant's, else the defaults), else plant-wide."
    )
