"""Inspections over HTTP: upload (roles, duplicates, refused images), list and filter in pages, get, the
image bytes, relabel."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from api.app import create_app
from plantwatch.settings import Settings
from tests.api.conftest import auth
from tests.image_samples import image_bytes

URL = "/api/v1/inspections"
T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def upload(
    client: TestClient,
    key: str,
    data: bytes,
    *,
    content_type: str = "image/jpeg",
    taken_at: datetime = T0,
    **fields: str,
) -> Response:
    form = {
        "site": "s1",
        "line": "l1",
        "station": "cam-1",
        "part_id": "P-1",
        "taken_at": taken_at.isoformat(),
    }
    form.update(fields)
    files = {"file": ("part.img", data, content_type)}
    return client.post(URL, data=form, files=files, headers=auth(key))


def test_upload_get_and_image(client: TestClient, keys: dict[str, str], api_settings: Settings) -> None:
    data = image_bytes("JPEG", (40, 30), seed=1)
    created = upload(client, keys["mes"], data, label="scratches")
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["site"], body["line"], body["station"], body["part_id"]) == ("s1", "l1", "cam-1", "P-1")
    assert body["taken_at"] == "2026-11-01T08:00:00Z"
    assert (body["content_type"], body["width"], body["height"], body["size_bytes"]) == (
        "image/jpeg",
        40,
        30,
        len(data),
    )
    assert (body["label"], body["labelled_by"]) == ("scratches", "mes-key")
    assert body["predicted_label"] is None and body["needs_review"] is False
    assert body["image_url"] == f"{URL}/{body['id']}/image"

    fetched = client.get(f"{URL}/{body['id']}", headers=auth(keys["viewer"]))
    assert fetched.status_code == 200 and fetched.json() == body
    image = client.get(body["image_url"], headers=auth(keys["viewer"]))
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/jpeg"
    assert image.headers["etag"] == f'"{body["sha256"]}"'
    assert image.content == data
    stored = list(api_settings.images_directory.rglob("*.jpg"))
    assert [path.read_bytes() for path in stored] == [data]


def test_a_duplicate_answers_200_with_the_first(client: TestClient, keys: dict[str, str]) -> None:
    data = image_bytes("PNG", seed=2)
    first = upload(client, keys["engineer"], data, content_type="image/png")
    again = upload(client, keys["admin"], data, content_type="image/png", part_id="P-2", station="cam-2")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    listed = client.get(URL, headers=auth(keys["viewer"])).json()
    assert len(listed["items"]) == 1


def test_roles(client: TestClient, keys: dict[str, str]) -> None:
    data = image_bytes(seed=3)
    refused = upload(client, keys["viewer"], data)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert client.post(URL, files={"file": ("x", data)}).status_code == 401
    inspection_id = upload(client, keys["mes"], data).json()["id"]
    mes_patch = client.patch(f"{URL}/{inspection_id}", json={"label": "ok"}, headers=auth(keys["mes"]))
    assert mes_patch.status_code == 403


@pytest.mark.parametrize(
    ("data", "content_type", "status", "error"),
    [
        (image_bytes("GIF"), "image/gif", 415, "image_format"),
        (b"just text", "text/plain", 415, "image_format"),
        (image_bytes("PNG"), "image/jpeg", 415, "image_format"),  # declared type and bytes disagree
        (image_bytes("JPEG", (64, 64))[:200], "image/jpeg", 422, "image_corrupt"),
        (image_bytes("PNG", (4, 4)), "image/png", 422, "image_dimensions"),
        (b"", "image/jpeg", 422, "image_empty"),
    ],
)
def test_refused_images(
    client: TestClient, keys: dict[str, str], data: bytes, content_type: str, status: int, error: str
) -> None:
    response = upload(client, keys["engineer"], data, content_type=content_type)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert isinstance(response.json()["detail"], str) and response.json()["detail"]


@pytest.fixture
def small_client(api_settings: Settings) -> Iterator[TestClient]:
    limited = api_settings.model_copy(update={"image_max_bytes": 2000})
    with TestClient(create_app(limited)) as test_client:
        yield test_client


def test_too_large(small_client: TestClient, keys: dict[str, str]) -> None:
    response = upload(small_client, keys["engineer"], image_bytes("BMP", (64, 64)), content_type="image/bmp")
    assert response.status_code == 413
    assert response.json()["error"] == "image_too_large"


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"line": "line one"}, "line 'line one' must be"),
        ({"label": "two words"}, "label 'two words' must be"),
        ({"part_id": " P"}, "part_id ' P' must be"),
        ({"taken_at": "2026-11-01T08:00:00"}, "taken_at"),
        ({"taken_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}, "in the future"),
    ],
)
def test_invalid_details(
    client: TestClient, keys: dict[str, str], fields: dict[str, str], problem: str
) -> None:
    data = image_bytes(seed=4)
    taken_at = fields.pop("taken_at", None)
    form = {"site": "s1", "line": "l1", "station": "cam-1", "part_id": "P-1", "taken_at": T0.isoformat()}
    form.update(fields)
    if taken_at is not None:
        form["taken_at"] = taken_at
    response = client.post(
        URL, data=form, files={"file": ("a.jpg", data, "image/jpeg")}, headers=auth(keys["mes"])
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_request"
    assert problem in str(response.json()["detail"])


def test_missing_fields_are_listed_without_the_json_hint(client: TestClient, keys: dict[str, str]) -> None:
    response = client.post(URL, data={"site": "s1"}, files={"file": ("a", b"x")}, headers=auth(keys["mes"]))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "body.line: Field required" in detail and "body.taken_at: Field required" in detail
    assert not any("JSON" in line for line in detail)


def seed(client: TestClient, key: str) -> dict[str, int]:
    """Six inspections: l1/cam-1 at minutes 0..3 (labels ok, scratches, none, ok), l2/cam-2 at 1 and 5."""
    ids: dict[str, int] = {}
    plan: list[tuple[str, str, int, str | None]] = [
        ("A", "l1", 0, "ok"),
        ("B", "l1", 1, "scratches"),
        ("C", "l1", 2, None),
        ("D", "l1", 3, "ok"),
        ("E", "l2", 1, None),
        ("F", "l2", 5, None),
    ]
    for number, (part, line, minute, label) in enumerate(plan):
        fields: dict[str, Any] = {
            "part_id": part,
            "line": line,
            "station": "cam-2" if line == "l2" else "cam-1",
        }
        if label:
            fields["label"] = label
        response = upload(
            client, key, image_bytes(seed=100 + number), taken_at=T0 + timedelta(minutes=minute), **fields
        )
        assert response.status_code == 201, response.text
        ids[part] = response.json()["id"]
    return ids


def parts(client: TestClient, key: str, **query: Any) -> list[str]:
    response = client.get(URL, params=query, headers=auth(key))
    assert response.status_code == 200, response.text
    return [item["part_id"] for item in response.json()["items"]]


def test_list_filters_and_pages(client: TestClient, keys: dict[str, str]) -> None:
    seed(client, keys["engineer"])
    viewer = keys["viewer"]
    assert parts(client, viewer) == ["F", "D", "C", "E", "B", "A"]  # newest first; a tie by id
    assert parts(client, viewer, line="l2") == ["F", "E"]
    assert parts(client, viewer, site="s1", station="cam-1", label="ok") == ["D", "A"]
    assert parts(client, viewer, labelled="false", line="l1") == ["C"]
    assert parts(client, viewer, needs_review="false", predicted="none") == []
    window = {
        "start": (T0 + timedelta(minutes=1)).isoformat(),
        "end": (T0 + timedelta(minutes=3)).isoformat(),
    }
    assert parts(client, viewer, **window) == ["C", "E", "B"]
    seen: list[str] = []
    cursor = None
    while True:
        query: dict[str, Any] = {"limit": 4} | ({"cursor": cursor} if cursor else {})
        page = client.get(URL, params=query, headers=auth(viewer)).json()
        seen += [item["part_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["F", "D", "C", "E", "B", "A"]
    for bad in ({"limit": 51}, {"cursor": "nonsense"}, {"start": window["end"], "end": window["start"]}):
        response = client.get(URL, params=bad, headers=auth(viewer))
        assert response.status_code == 422, bad
        assert response.json()["error"] == "invalid_request"


def test_relabel(client: TestClient, keys: dict[str, str]) -> None:
    ids = seed(client, keys["engineer"])
    url = f"{URL}/{ids['C']}"
    labelled = client.patch(url, json={"label": "crazing"}, headers=auth(keys["engineer"]))
    assert labelled.status_code == 200, labelled.text
    body = labelled.json()
    assert (body["label"], body["labelled_by"]) == ("crazing", "engineer-key")
    assert abs(datetime.fromisoformat(body["labelled_at"]) - datetime.now(UTC)) < timedelta(minutes=1)
    corrected = client.patch(url, json={"label": "patches"}, headers=auth(keys["admin"])).json()
    assert (corrected["label"], corrected["labelled_by"]) == ("patches", "admin-key")
    cleared = client.patch(url, json={"label": None}, headers=auth(keys["engineer"])).json()
    assert cleared["label"] is None
    for bad in ({"label": "two words"}, {}, {"label": "ok", "extra": 1}):
        response = client.patch(url, json=bad, headers=auth(keys["engineer"]))
        assert response.status_code == 422, bad


def test_not_found(client: TestClient, keys: dict[str, str], api_settings: Settings) -> None:
    viewer = keys["viewer"]
    for path in (f"{URL}/999", f"{URL}/999/image"):
        response = client.get(path, headers=auth(viewer))
        assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert client.patch(f"{URL}/999", json={"label": "ok"}, headers=auth(keys["admin"])).status_code == 404
    assert client.get(f"{URL}/0", headers=auth(viewer)).status_code == 422
    assert client.get(f"{URL}/{2**63}", headers=auth(viewer)).status_code == 422
    inspection = upload(client, keys["mes"], image_bytes(seed=9)).json()
    for stored in api_settings.images_directory.rglob("*.jpg"):
        stored.unlink()
    missing = client.get(inspection["image_url"], headers=auth(viewer))
    assert missing.status_code == 404 and "missing from the image store" in missing.json()["detail"]
    assert str(api_settings.images_directory) not in missing.text and ".jpg" not in missing.text  # no layout
    assert upload(client, keys["mes"], image_bytes(seed=9)).status_code == 200  # sent again: restored
    assert client.get(inspection["image_url"], headers=auth(viewer)).content == image_bytes(seed=9)
