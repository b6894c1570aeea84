"""Alerts in and out of the API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.schemas import Timestamp

Text = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"^[^\x00]*$")]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00]*$")]
WorkOrder = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00]*$")]


class AlertOut(BaseModel):
    id: int
    rule: str
    severity: str
    state: str = Field(description="open, acknowledged or resolved.")
    message: str
    count: int = Field(description="Evaluations that found the condition, since it opened.")
    machine: str | None = Field(description="The machine's path; null for a line's alert.")
    line: str = Field(description="site/line.")
    opened_at: Timestamp
    last_seen_at: Timestamp
    acknowledged_at: Timestamp | None
    acknowledged_by: str | None
    resolved_at: Timestamp | None
    resolved_by: str | None
    shelved_until: Timestamp | None
    shelved_by: str | None
    escalated_at: Timestamp | None
    comment: str | None
    outcome: str | None = Field(
        description="What maintenance found: fault_found, part_replaced, no_fault_found."
    )
    fault_code: str | None
    work_order_id: str | None
    detail: dict[str, Any] = Field(
        description="The figures behind it: value, thresholds, prediction, sensors."
    )


class AlertEventOut(BaseModel):
    at: Timestamp
    kind: str
    actor: str
    severity: str | None
    comment: str | None


class NotificationOut(BaseModel):
    channel: str
    target: str
    status: str = Field(description="pending, sent or failed.")
    attempts: int
    last_error: str | None
    created_at: Timestamp
    sent_at: Timestamp | None


class AlertDetailOut(AlertOut):
    history: list[AlertEventOut] = Field(description="Every step, oldest first.")
    notifications: list[NotificationOut] = Field(description="Deliveries of its notifications.")


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: Text | None = None


class RequiredCommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: Text


class ShelveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    until: Timestamp | None = Field(default=None, description="Shelved until then; or give `minutes`.")
    minutes: int | None = Field(default=None, ge=1, le=10080, description="Shelved this long from now.")
    comment: Text | None = None

    @model_validator(mode="after")
    def _one_end(self) -> ShelveIn:
        if (self.until is None) == (self.minutes is None):
            raise ValueError("give exactly one of until and minutes")
        return self


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["fault_found", "part_replaced", "no_fault_found"]
    fault_code: Code | None = None
    work_order_id: WorkOrder | None = None
    note: Annotated[str, StringConstraints(max_length=1000, pattern=r"^[^\x00]*$")] = ""
    done_at: Timestamp | None = Field(default=None, description="When the work was done; default now.")
