"""Inspections in and out of the API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import Timestamp


class InspectionOut(BaseModel):
    id: int
    site: str
    line: str
    station: str
    part_id: str | None
    taken_at: Timestamp
    content_type: str = Field(description="image/jpeg, image/png or image/bmp.")
    size_bytes: int
    width: int | None
    height: int | None
    sha256: str = Field(description="SHA-256 of the image bytes: the same image is stored once.")
    image_url: str = Field(description="Where the image bytes are (GET, same key).")
    label: str | None = Field(description="The known (true) class, when someone has said it.")
    labelled_by: str | None = Field(description="Who set or last corrected the label (key name or import).")
    labelled_at: Timestamp | None
    predicted_label: str | None = Field(description="The classifier's class (null: not classified yet).")
    confidence: float | None
    model_version_id: int | None = Field(description="The model version that classified it.")
    classified_at: Timestamp | None
    needs_review: bool = Field(description="The classifier asks a person to look at it.")
    created_at: Timestamp


class LabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(
        description="The known class (1-64 characters of A-Z a-z 0-9 _ . -); null clears it."
    )
