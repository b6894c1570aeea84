"""Job runs and job requests as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class JobRunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    job_name: str
    scheduled_for: datetime
    started_at: datetime
    finished_at: datetime | None
    status: str = Field(description="running, succeeded or failed")
    error: str | None
    summary: dict[str, Any]
    trigger: str = Field(description="schedule or request")


class JobOut(BaseModel):
    name: str
    every_s: float | None = Field(description="Period of its schedule; null: it runs on request only.")
    next_run_at: datetime | None = Field(description="Its next scheduled firing (UTC grid).")
    params: dict[str, Any] = Field(description="What its scheduled firings pass it.")
    last_run: JobRunOut | None


class JobRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    params: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments for the job.")


class JobRequestOut(BaseModel):
    id: int
    job_name: str
    params: dict[str, Any]
    requested_by: str | None
    requested_at: datetime
    picked_at: datetime | None = Field(description="When the scheduler took it; null while queued.")
    run: JobRunOut | None = Field(description="The run it led to, once the scheduler started it.")
