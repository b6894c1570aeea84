"""The inspection envelope: topic and JSON with a base64 image → InspectionMessage or a Rejection."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from db.images import REASONS as IMAGE_REASONS
from ingest.inspection_messages import REASONS, InspectionMessage, max_payload_bytes, parse_inspection
from ingest.messages import REASONS as TELEMETRY_REASONS
from ingest.messages import Rejection
from tests.image_samples import image_bytes

ROOT = "plantwatch/v1"
TOPIC = f"{ROOT}/site-1/line-1/cam-1/inspection"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
IMAGE = image_bytes("JPEG")


def document(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ts": "2026-11-23T11:59:00.5Z",
        "part_id": "P-1",
        "image": base64.b64encode(IMAGE).decode(),
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def parse(payload: bytes | dict[str, Any], topic: str = TOPIC, max_image_bytes: int = 1 << 20) -> Any:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return parse_inspection(
        topic, raw, topic_root=ROOT, received_at=NOW, max_image_bytes=max_image_bytes, max_future_s=300
    )


def test_a_good_message() -> None:
    parsed = parse(document(label="scratches", content_type="image/jpeg"))
    assert parsed == InspectionMessage(
        site="site-1",
        line="line-1",
        station="cam-1",
        part_id="P-1",
        ts=datetime(2026, 11, 23, 11, 59, 0, 500000, tzinfo=UTC),
        label="scratches",
        content_type="image/jpeg",
        image=IMAGE,
    )
    minimal = parse(document(label=None))
    assert isinstance(minimal, InspectionMessage) and minimal.label is None and minimal.content_type is None


def test_mime_wrapped_base64_is_accepted() -> None:
    wrapped = base64.encodebytes(IMAGE).decode()  # 76-character lines
    assert "\n" in wrapped
    parsed = parse(document(image=wrapped))
    assert isinstance(parsed, InspectionMessage) and parsed.image == IMAGE


@pytest.mark.parametrize(
    ("payload", "topic", "reason"),
    [
        (b"x" * (max_payload_bytes(1000) + 1), TOPIC, "too_large"),
        (document(), f"{ROOT}/site-1/line-1/cam-1/telemetry", "bad_topic"),
        (document(), f"{ROOT}/site 1/line-1/cam-1/inspection", "bad_topic"),
        (b"\xc3\x28", TOPIC, "not_utf8"),
        (b"{", TOPIC, "not_json"),
        (b"[1, 2]", TOPIC, "wrong_type"),
        (document(image=...), TOPIC, "missing_field"),
        (document(part_id=...), TOPIC, "missing_field"),
        (document(ts=...), TOPIC, "missing_field"),
        (document(part_id=42), TOPIC, "wrong_type"),
        (document(image=None), TOPIC, "wrong_type"),
        (document(label=7), TOPIC, "wrong_type"),
        (document(content_type=["image/jpeg"]), TOPIC, "wrong_type"),
        (document(part_id=""), TOPIC, "bad_part_id"),
        (document(part_id="P\n1"), TOPIC, "bad_part_id"),
        (document(label="no spaces please"), TOPIC, "bad_label"),
        (document(ts="2026-11-23T11:59:00"), TOPIC, "bad_timestamp"),
        (document(ts="2099-01-01T00:00:00Z"), TOPIC, "ts_in_future"),
        (document(ts=1_700_000_000), TOPIC, "ts_too_old"),
        (document(image="not base64!"), TOPIC, "bad_base64"),
        (document(image="QUJ"), TOPIC, "bad_base64"),  # padding missing
        (document(image="é"), TOPIC, "bad_base64"),
    ],
)
def test_rejections(payload: bytes | dict[str, Any], topic: str, reason: str) -> None:
    parsed = parse(payload, topic, max_image_bytes=1000 if reason == "too_large" else 1 << 20)
    assert isinstance(parsed, Rejection), parsed
    assert parsed.reason == reason, parsed.detail
    assert parsed.detail


def test_payload_limit_leaves_room_for_the_largest_image() -> None:
    image = b"\xff" * 3000
    payload = json.dumps(document(image=base64.b64encode(image).decode(), label="x" * 64)).encode()
    assert len(payload) <= max_payload_bytes(len(image))
    assert isinstance(parse(payload, max_image_bytes=len(image)), InspectionMessage)


@settings(max_examples=300)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.dictionaries(
            st.sampled_from(["ts", "part_id", "image", "label", "content_type", "other"]),
            st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30)),
        ).map(lambda d: json.dumps(d).encode()),
    ),
    st.sampled_from([TOPIC, f"{ROOT}/a/b/c/inspection", f"{ROOT}/a/b/inspection", "x"]),
)
def test_never_raises(payload: bytes, topic: str) -> None:
    parsed = parse(payload, topic)
    if isinstance(parsed, Rejection):
        assert parsed.reason in TELEMETRY_REASONS + REASONS
    else:
        assert isinstance(parsed, InspectionMessage)


def test_every_reason_is_documented() -> None:
    protocol = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    for reason in (*REASONS, *IMAGE_REASONS, "unknown_line"):
        assert f"| `{reason}` |" in protocol, f"{reason} is not in docs/protocol.md's list of reasons"
