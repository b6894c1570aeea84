"""Request and response bodies of machine health and RUL prediction."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from api.schemas import NameText

MAX_WINDOWS = 1000


class SensorDriver(BaseModel):
    sensor: str
    score: float = Field(
        description="Cycles of RUL this sensor's recent values take away (positive: it looks degraded) "
        "or add (negative), found by replacing them with their healthy reference."
    )


class SensorDeviation(BaseModel):
    sensor: str
    z: float = Field(description="How many standard deviations of normal operation the window mean is off.")


class ModelRef(BaseModel):
    id: int
    version: int


class MachineHealthOut(BaseModel):
    machine_id: int
    machine: str = Field(description="The machine's path site/line/machine.")
    machine_type: str | None
    status: Literal["ok", "degraded", "withheld", "pending"] = Field(
        description="ok: RUL from a complete window; degraded: gaps filled, a new machine's short history "
        "padded (PLANTWATCH_RUL_MIN_HISTORY), or a health score without RUL; "
        "withheld: nothing could be said (see reasons); pending: not scored yet."
    )
    severity: Literal["critical", "warning", "ok"] | None = Field(
        description="This prediction as the rul_low and failure_probability_high rules in effect for the "
        "machine rate it (its own, its line's or the plant's overrides, else the defaults; the worse of "
        "the two, without hysteresis); null when pending, withheld or without either figure."
    )
    made_at: datetime | None = Field(description="When the scoring job made this prediction.")
    rul: float | None = Field(description="Remaining useful life, in cycles (readings, or resampled steps).")
    rul_low: float | None = Field(description="Lower end of the prediction interval.")
    rul_high: float | None = Field(description="Upper end of the prediction interval.")
    interval_coverage: float | None = Field(description="Nominal coverage of [rul_low, rul_high], e.g. 0.9.")
    failure_probability: float | None = Field(description="Probability of failing within `horizon` cycles.")
    horizon: float | None
    health_score: float | None = Field(description="0 (far from normal operation) to 100 (normal).")
    reasons: list[str] = Field(description="Why a part is missing or degraded; empty when status is ok.")
    top_sensors: list[SensorDriver] = Field(description="The sensors that drove the RUL most.")
    health_sensors: list[SensorDeviation] = Field(description="The sensors furthest from normal.")
    rul_model: ModelRef | None
    health_model: ModelRef | None


Window = Annotated[
    list[Annotated[list[float | None], Field(min_length=1, max_length=1000)]],
    Field(min_length=1, max_length=10_000),
]


class PredictRulIn(BaseModel):
    machine_type: NameText | None = Field(
        default=None,
        description="Score with this machine type's champion model (machines without a type: 'default').",
    )
    model_id: int | None = Field(
        default=None, ge=1, lt=2**31, description="Or with this registered RUL model version (any status)."
    )
    sensors: list[NameText] | None = Field(
        default=None,
        max_length=1000,
        description="Names of the columns of each window, in order (default: the model's `sensors`, "
        "see GET /models). Sensors the model uses must all be present.",
    )
    windows: list[Window] = Field(
        min_length=1,
        max_length=MAX_WINDOWS,
        description="Windows [time step][sensor] of raw readings, oldest first, each exactly as long as the "
        "model's window; null marks a missing value (filled from its neighbours).",
    )
    explain: bool = Field(default=True, description="Also name the sensors that drove each prediction.")

    @model_validator(mode="after")
    def one_model(self) -> PredictRulIn:
        if self.machine_type is not None and self.model_id is not None:
            raise ValueError("name either machine_type or model_id, not both")
        return self


class RulModelOut(BaseModel):
    id: int
    version: int
    machine_type: str
    status: str
    window: int
    sensors: list[str] = Field(description="Column order the windows were read in.")
    interval_coverage: float
    horizon: float
    cap: float


class RulPredictionOut(BaseModel):
    rul: float
    rul_low: float
    rul_high: float
    failure_probability: float
    top_sensors: list[SensorDriver] | None


class PredictRulOut(BaseModel):
    model: RulModelOut
    predictions: list[RulPredictionOut]
