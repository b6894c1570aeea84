"""A readings answer cut at its `limit` says so in headers, its body unchanged: `X-Truncated: true`
and `Link: <…>; rel="next"`, the same request from just after its last point. Following the links
yields every point of the window once; an answer that holds the whole window has neither header."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.machines.series import sensor_series
from tests.api.conftest import T0, Fleet, auth

URL = "/api/v1/machines/s1/l1/m1/readings"
HOUR = {"sensor": "temperature", "start": T0.isoformat(), "end": (T0 + timedelta(hours=1)).isoformat()}
LINK = re.compile(r'^<([^>]+)>; rel="next"$')


def next_url(response: httpx.Response) -> str | None:
    link = response.headers.get("link")
    if link is None:
        assert "x-truncated" not in response.headers
        return None
    assert response.headers["x-truncated"] == "true"
    found = LINK.match(link)
    assert found, link
    return found.group(1)


def follow(client: TestClient, key: str, **params: Any) -> list[httpx.Response]:
    """Every answer from the first request on, following rel="next" to the end."""
    answers = [client.get(URL, params=params, headers=auth(key))]
    while (url := next_url(answers[-1])) is not None:
        assert len(answers) < 100, "the link does not move"
        answers.append(client.get(url, headers=auth(key)))
    assert all(answer.status_code == 200 for answer in answers), answers[-1].text
    return answers


def points(answers: list[httpx.Response]) -> list[dict[str, Any]]:
    return [point for answer in answers for point in answer.json()["points"]]


def test_a_cut_series_links_to_its_rest(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    whole = client.get(URL, params=HOUR, headers=auth(keys["viewer"]))
    assert len(whole.json()["points"]) == 60 and next_url(whole) is None

    answers = follow(client, keys["viewer"], **HOUR, limit=7)
    assert [len(answer.json()["points"]) for answer in answers] == [7] * 8 + [4]
    assert points(answers) == whole.json()["points"]  # no gap, no overlap
    # The link: the same request from 1 µs after the last reading, the window's end and bucket kept.
    query = parse_qs(urlsplit(next_url(answers[0]) or "").query)
    assert query["start"] == ["2024-05-01T08:06:00.000001Z"] and query["end"] == ["2024-05-01T09:00:00Z"]
    assert (query["sensor"], query["limit"], query["bucket"]) == (["temperature"], ["7"], ["raw"])


def test_the_body_of_a_cut_series_is_unchanged(
    client: TestClient, keys: dict[str, str], fleet: Fleet, session_factory: sessionmaker[Session]
) -> None:
    for bucket in ("raw", "1m"):
        cut = client.get(URL, params={**HOUR, "limit": 7, "bucket": bucket}, headers=auth(keys["viewer"]))
        assert next_url(cut) is not None
        with session_factory() as session:
            model = sensor_series(
                session, "s1/l1/m1", sensor="temperature", start=T0, end=T0 + timedelta(hours=1), limit=7,
                bucket=bucket,
            )  # fmt: skip
        assert cut.content == model.model_dump_json().encode(), bucket
        assert len(model.points) == 7


def test_only_a_cut_series_has_the_headers(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    viewer = keys["viewer"]
    # Exactly as many readings as the limit: nothing follows, so no link.
    assert next_url(client.get(URL, params={**HOUR, "limit": 60}, headers=auth(viewer))) is None
    assert next_url(client.get(URL, params={**HOUR, "limit": 59}, headers=auth(viewer))) is not None
    # The same for buckets, whether the cache may serve them (60 buckets fit) or not.
    for limit, cut in ((60, False), (59, True), (100, False)):
        answer = client.get(URL, params={**HOUR, "limit": limit, "bucket": "1m"}, headers=auth(viewer))
        assert len(answer.json()["points"]) == min(limit, 60)
        assert (next_url(answer) is not None) == cut, limit
    # Vibration has a value on even minutes only: 30 of them, so 30 fit.
    vibration = {**HOUR, "sensor": "vibration", "limit": 30}
    assert next_url(client.get(URL, params=vibration, headers=auth(viewer))) is None


def test_buckets_link_to_the_next_bucket(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    viewer = keys["viewer"]
    whole = client.get(URL, params={**HOUR, "bucket": "1m"}, headers=auth(viewer))
    answers = follow(client, viewer, **HOUR, bucket="1m", limit=25)
    assert [len(answer.json()["points"]) for answer in answers] == [25, 25, 10]
    assert points(answers) == whole.json()["points"]
    query = parse_qs(urlsplit(next_url(answers[0]) or "").query)
    assert query["start"] == ["2024-05-01T08:25:00Z"] and query["bucket"] == ["1m"]

    # auto chose 1-minute buckets for 25 hours; the rest comes in 1-minute buckets too, though auto
    # would choose every reading for what is left of the window.
    day = {"sensor": "temperature", "start": (T0 - timedelta(hours=1)).isoformat(),
           "end": (T0 + timedelta(hours=24)).isoformat(), "bucket": "auto"}  # fmt: skip
    answers = follow(client, viewer, **day, limit=25)
    assert {answer.json()["bucket"] for answer in answers} == {"1m"}
    assert points(answers) == whole.json()["points"]


def test_a_default_end_is_kept_in_the_link(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    answers = follow(client, keys["viewer"], sensor="temperature", start=T0.isoformat(), limit=40)
    assert [len(answer.json()["points"]) for answer in answers] == [40, 20]
    query = parse_qs(urlsplit(next_url(answers[0]) or "").query)
    assert query["end"][0] > "2025"  # the time of the first request


def test_csv_answers_link_to_their_rest(client: TestClient, keys: dict[str, str], fleet: Fleet) -> None:
    for bucket, sizes in (("raw", [25, 25, 10]), ("1m", [25, 25, 10])):
        answers = follow(client, keys["viewer"], **HOUR, bucket=bucket, limit=25, format="csv")
        pages = [list(csv.reader(io.StringIO(answer.text))) for answer in answers]
        assert [len(rows) - 1 for rows in pages] == sizes, bucket
        values = [float(row[1]) for rows in pages for row in rows[1:]]
        assert values == [float(i) for i in range(60)], bucket
