"""The inspection wire contract, parsed: MQTT topic + payload → `InspectionMessage` or `Rejection` (pure).

Topic `{root}/{site}/{line}/{station}/inspection`; payload UTF-8 JSON with the image in base64
(docs/protocol.md, "Inspection images"). The image bytes themselves are checked afterwards by
db.images.check_image; this module checks the envelope, in the order the docs give.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime

from db.repositories.inspections import check_label, check_part_id
from ingest.messages import Rejection, parse_timestamp, parse_topic

ENVELOPE_BYTES = 64 * 1024  # room for the JSON around the base64 image
REASONS = ("bad_base64", "bad_part_id", "bad_label")  # besides the telemetry reasons it shares
_WHITESPACE = re.compile(rb"[ \t\r\n]")


@dataclass(frozen=True, slots=True)
class InspectionMessage:
    """A well-formed inspection message (its image bytes not checked yet)."""

    site: str
    line: str
    station: str
    part_id: str
    ts: datetime
    label: str | None
    content_type: str | None
    image: bytes


def max_payload_bytes(max_image_bytes: int) -> int:
    """The largest inspection payload: a base64 image of `max_image_bytes` and its envelope."""
    return 4 * -(-max_image_bytes // 3) + ENVELOPE_BYTES


def parse_inspection(
    topic: str,
    payload: bytes,
    *,
    topic_root: str,
    received_at: datetime,
    max_image_bytes: int,
    max_future_s: int,
) -> InspectionMessage | Rejection:
    """Validate one inspection message's envelope; never raises for any topic or payload."""
    limit = max_payload_bytes(max_image_bytes)
    if len(payload) > limit:
        return Rejection("too_large", f"payload of {len(payload)} bytes; at most {limit}")
    where = parse_topic(topic, topic_root, "inspection")
    if isinstance(where, Rejection):
        return where
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        return Rejection("not_utf8", f"payload is not UTF-8 ({error.reason} at byte {error.start})")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        return Rejection("not_json", f"payload is not JSON: {str(error)[:200]}")
    if not isinstance(document, dict):
        return Rejection("wrong_type", "payload must be a JSON object")
    missing = [name for name in ("ts", "part_id", "image") if name not in document]
    if missing:
        return Rejection("missing_field", f"payload lacks {' and '.join(repr(name) for name in missing)}")
    fields = _strings(document)
    if isinstance(fields, Rejection):
        return fields
    part_id, image_text, label, content_type = fields
    refusal = check_part_id(part_id)
    if refusal is not None:
        return Rejection("bad_part_id", refusal)
    refusal = check_label(label) if label is not None else None
    if refusal is not None:
        return Rejection("bad_label", refusal)
    ts = parse_timestamp(document["ts"], received_at=received_at, max_future_s=max_future_s)
    if isinstance(ts, Rejection):
        return ts
    image = _decode_base64(image_text)
    if isinstance(image, Rejection):
        return image
    site, line, station = where
    return InspectionMessage(site, line, station, part_id, ts, label, content_type, image)


def _strings(document: dict[str, object]) -> tuple[str, str, str | None, str | None] | Rejection:
    """(part_id, image, label, content_type), each a string (the last two may be absent or null)."""
    values: list[str | None] = []
    for name, required in (("part_id", True), ("image", True), ("label", False), ("content_type", False)):
        value = document.get(name)
        if value is None and not required:
            values.append(None)
        elif isinstance(value, str):
            values.append(value)
        else:
            shown = "null" if value is None else type(value).__name__
            return Rejection("wrong_type", f"{name} must be a string, not {shown}")
    part_id, image, label, content_type = values
    assert part_id is not None and image is not None
    return part_id, image, label, content_type


def _decode_base64(text: str) -> bytes | Rejection:
    """Standard base64 (RFC 4648, with padding); line breaks and spaces, as MIME wraps it, are ignored."""
    try:
        raw = _WHITESPACE.sub(b"", text.encode("ascii"))
        return base64.b64decode(raw, validate=True)
    except UnicodeEncodeError:
        return Rejection("bad_base64", "image holds characters that base64 never uses")
    except binascii.Error as error:
        return Rejection("bad_base64", f"image is not standard base64 with padding: {error}")
