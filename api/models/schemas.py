"""Model versions as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ModelVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str = Field(description="rul, qc or health (the normal-operation baseline)")
    scope: str = Field(description="The machine type (rul) or line (qc) the model serves.")
    version: int
    status: str = Field(description="candidate, champion, retired or rejected")
    metrics: dict[str, Any]
    params: dict[str, Any] = Field(description="Hyperparameters, code version, device, promotion decision.")
    data_start: datetime | None
    data_end: datetime | None
    artifact_sha256: str | None
    created_at: datetime
    promoted_at: datetime | None


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["rul", "qc"] = "rul"
    scope: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00]*$")


class RetrainIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[^\x00]*$",
        description="Only this machine type (rul) or line, site/line (qc).",
    )
