"""Response bodies of the quality statistics."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class QualitySampleOut(BaseModel):
    start: datetime = Field(description="Start of the sample (a time bucket of bucket_s seconds).")
    inspected: int = Field(description="Inspections with a class (known label, else the classifier's).")
    defective: int = Field(description="Of those, the ones whose class is not a good label.")
    rate: float = Field(description="defective / inspected.")
    center: float | None = Field(description="p̄ of the samples before; null while they hold too few.")
    upper: float | None = Field(description="Upper control limit for this sample's size.")
    lower: float | None
    out_of_control: bool = Field(description="rate above the upper limit: a quality alert is raised.")


class QualityOut(BaseModel):
    site: str
    line: str
    station: str | None = Field(description="null: every station of the line together.")
    bucket_s: int
    baseline_samples: int = Field(description="How many samples before each one set its limits.")
    good_labels: list[str]
    samples: list[QualitySampleOut]
