"""Dead letters in and out of the API."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.schemas import Timestamp

MAX_REPLAY_IDS = 10_000
ReasonText = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_]+$")]
LetterId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class DeadLetterOut(BaseModel):
    id: int
    received_at: Timestamp = Field(description="When ingest received the message.")
    topic: str
    reason: str = Field(description="Why it was refused (docs/protocol.md lists every reason).")
    detail: str = Field(description="The same, for a person.")
    payload: str = Field(description="The payload as kept: text when it is UTF-8, else base64.")
    encoding: Literal["utf-8", "base64"] = Field(description="How `payload` is written.")
    payload_bytes: int = Field(description="Bytes kept of the payload.")
    payload_truncated: bool = Field(description="The payload was over the size limit and was cut.")
    replayable: bool = Field(description="Not replayed yet and kept whole, so it can be replayed.")
    replayed_at: Timestamp | None = Field(description="When a replay stored it (null: not yet).")
    replay_requested_at: Timestamp | None = Field(description="A replay is asked for and not done yet.")
    replay_error: str | None = Field(description="Why the last replay refused it again.")


class DeadLetterSummaryOut(BaseModel):
    total: int
    replayed: int = Field(description="Letters a replay has stored.")
    replay_requested: int = Field(description="Letters waiting for the ingestor to replay them.")
    by_reason: dict[str, int] = Field(description="Every letter, by reason.")
    open_by_reason: dict[str, int] = Field(description="Letters not replayed yet, by reason.")


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: Annotated[list[LetterId], Field(min_length=1, max_length=MAX_REPLAY_IDS)] | None = Field(
        default=None, description="Replay these letters."
    )
    reason: ReasonText | None = Field(default=None, description="Replay every letter with this reason.")

    @model_validator(mode="after")
    def one_selection(self) -> Self:
        if (self.ids is None) == (self.reason is None):
            raise ValueError('send either "ids" (a list of dead letter ids) or "reason", not both or neither')
        return self


class ReplayOut(BaseModel):
    marked: int = Field(description="Letters marked for replay (kept whole and not replayed yet).")
    selected: int = Field(description="Letters the request named that exist.")
    detail: str
