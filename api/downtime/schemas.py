"""Downtime windows in and out of the API."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.schemas import Timestamp

NoNul = r"^[^\x00]*$"


class DowntimeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    machine: Annotated[str | None, StringConstraints(min_length=1, max_length=300, pattern=NoNul)] = Field(
        default=None, description="The machine (id, site/line/machine path or MES code); or give `line`."
    )
    line: Annotated[str | None, StringConstraints(min_length=3, max_length=300, pattern=NoNul)] = Field(
        default=None, description="A whole line as site/line; or give `machine`."
    )
    starts_at: Timestamp
    ends_at: Timestamp
    reason: Annotated[str, StringConstraints(max_length=2000, pattern=NoNul)] = ""
    work_order_id: Annotated[str | None, StringConstraints(min_length=1, max_length=128, pattern=NoNul)] = (
        None
    )

    @model_validator(mode="after")
    def _one_subject_and_order(self) -> DowntimeIn:
        if (self.machine is None) == (self.line is None):
            raise ValueError("give exactly one of machine and line")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class DowntimeOut(BaseModel):
    id: int
    machine: str | None = Field(description="The machine's path, for a machine's window.")
    line: str | None = Field(description="site/line, for a line's window.")
    starts_at: Timestamp
    ends_at: Timestamp
    reason: str
    work_order_id: str | None
    created_by: str
    created_at: Timestamp
