"""The Quality page against a real API: the p-chart, the station filter, the latest inspections with
their images, and relabelling from the review queue (which changes what the API returns)."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pandas as pd
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from db.engine import transaction
from db.repositories.inspections import find_line
from db.tables import Inspection
from plantwatch.embedded import free_port
from plantwatch.settings import get_settings
from tests.dashboard.conftest import ApiServer, Seed, api, app_test, charts_of
from tests.image_samples import image_bytes

HOURS = 11  # hours of steady 5 % defects at cam-1 before the last one, at 50 %
PER_HOUR = 20


def _history(session: Session, line_id: int, now: datetime) -> None:
    """HOURS hours of PER_HOUR classified inspections at cam-1 with 1 defect each, then an hour with 10;
    it ends an hour before the current one, so that the uploads (minutes ago) never fall in it."""
    base = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS + 2)
    for hour in range(HOURS + 1):
        defects = 10 if hour == HOURS else 1
        for i in range(PER_HOUR):
            session.add(
                Inspection(
                    line_id=line_id,
                    station="cam-1",
                    taken_at=base + timedelta(hours=hour, seconds=i),
                    image_path=f"history/{hour}/{i}.png",
                    image_sha256=f"{hour:04d}{i:04d}".ljust(64, "a"),
                    content_type="image/png",
                    size_bytes=1,
                    predicted_label="scratch" if i < defects else "ok",
                    confidence=0.99,
                )
            )


def _upload(server: ApiServer, key: str, station: str, part: str, taken_at: datetime, seed: int) -> int:
    response = httpx.post(
        f"{server.url}/api/v1/inspections",
        headers={"X-API-Key": key},
        files={"file": (f"{part}.png", image_bytes("PNG", seed=seed), "image/png")},
        data={"site": "plant-a", "line": "press", "station": station, "part_id": part,
              "taken_at": taken_at.isoformat()},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


@pytest.fixture
def inspections(
    dashboard_env: Seed, api_server: ApiServer, session_factory: sessionmaker[Session]
) -> dict[str, int]:
    """History at cam-1 in the database, and three images uploaded through the API, classified:
    `sure` (ok, 0.97) and `unsure` (scratch, 0.41) at cam-1, `other` (ok, 0.52) at cam-2; the last
    two flagged for review."""
    now, key = dashboard_env.now, dashboard_env.engineer_key
    ids = {
        "sure": _upload(api_server, key, "cam-1", "P-1", now - timedelta(minutes=3), 1),
        "unsure": _upload(api_server, key, "cam-1", "P-2", now - timedelta(minutes=2), 2),
        "other": _upload(api_server, key, "cam-2", "P-3", now - timedelta(minutes=1), 3),
    }
    classes = {"sure": ("ok", 0.97, False), "unsure": ("scratch", 0.41, True), "other": ("ok", 0.52, True)}
    with transaction(session_factory) as session:
        line_id = find_line(session, "plant-a", "press")
        assert line_id is not None
        _history(session, line_id, now)
        for name, (label, confidence, review) in classes.items():
            session.execute(
                update(Inspection)
                .where(Inspection.id == ids[name])
                .values(predicted_label=label, confidence=confidence, needs_review=review, classified_at=now)
            )
    return ids


def quality_page(key: str | None = None) -> AppTest:
    at = app_test()
    if key:
        at.session_state["pw_api_key"] = key
    at.run()
    return at.switch_page("views/quality.py").run()


def metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def p_chart(at: AppTest) -> pd.DataFrame:
    """The p-chart's samples."""
    (chart,) = charts_of(at)
    return chart.data["samples"]


def table(at: AppTest, column: str) -> pd.DataFrame:
    """The first table with `column` (AppTest does not expose the keys of dataframes)."""
    return next(frame.value for frame in at.dataframe if column in frame.value.columns)


def queue_table(at: AppTest) -> pd.DataFrame:
    """The review queue: the page's last table."""
    return at.dataframe[-1].value


def test_p_chart_per_line_and_station_with_the_out_of_control_hour(inspections: dict[str, int]) -> None:
    at = quality_page()

    assert not at.exception
    assert at.selectbox(key="quality_line").value == "plant-a/press"
    inspected = (HOURS + 1) * PER_HOUR + 3
    assert metrics(at) == {
        "Inspected": str(inspected),
        "Defective": str(HOURS + 10 + 1),
        "Defect rate": f"{(HOURS + 11) / inspected:.1%}",
        "Samples out of control": "1",
    }
    samples = p_chart(at)
    rate, centre, upper = samples["defect rate"], samples["centre"], samples["upper limit"]
    assert list(rate[:HOURS]) == [0.05] * HOURS and rate[HOURS] == 0.5
    assert centre[HOURS] == pytest.approx(0.05) and upper[HOURS] < 0.5
    assert samples["out of control"][HOURS] and not samples["out of control"][:HOURS].any()
    stations = table(at, "defect rate")
    assert list(stations["station"]) == ["cam-1", "cam-2"]
    assert list(stations["inspected"]) == [inspected - 1, 1]

    at.selectbox(key="quality_station").select("cam-2").run()
    assert metrics(at)["Inspected"] == "1" and metrics(at)["Defective"] == "0"
    assert len(p_chart(at)) == 1
    latest = table(at, "predicted")
    assert list(latest["id"]) == [inspections["other"]]


def test_latest_inspections_show_images_classes_and_filter_by_class(inspections: dict[str, int]) -> None:
    at = quality_page()

    latest = table(at, "predicted")
    newest = [inspections["other"], inspections["unsure"], inspections["sure"]]
    assert list(latest["id"][:3]) == newest
    assert list(latest["predicted"][:3]) == ["ok", "scratch", "ok"]
    assert list(latest["confidence"][:3]) == [0.52, 0.41, 0.97]
    images = at.get("image")
    # The gallery's 8 newest, of which the three uploaded ones have an image; the history has none.
    captions = [img.proto.imgs[0].caption for img in images]
    assert captions[:3] == [f"#{inspections['other']} cam-2: ok (52%)",
                            f"#{inspections['unsure']} cam-1: scratch (41%)",
                            f"#{inspections['sure']} cam-1: ok (97%)"]  # fmt: skip
    assert all(img.proto.imgs[0].url for img in images[:3])
    assert any("image unavailable" in c.value for c in at.caption)

    at.selectbox(key="quality_predicted").select("scratch").run()
    latest = table(at, "predicted")
    assert latest["id"][0] == inspections["unsure"] and set(latest["predicted"]) == {"scratch"}


def test_relabel_from_the_review_queue_changes_the_api(
    inspections: dict[str, int], api_server: ApiServer, dashboard_env: Seed
) -> None:
    at = quality_page()
    queue = queue_table(at)
    assert list(queue["id"]) == [inspections["unsure"], inspections["other"]]  # least confident first
    assert str(at.selectbox(key="quality_review_pick").value).startswith(f"#{inspections['unsure']} ")
    assert at.selectbox(key="quality_relabel_class").value == "scratch"

    at.selectbox(key="quality_relabel_class").select("ok")
    at.button(key="quality_relabel_submit").click().run()

    assert not at.exception
    assert at.success[0].value == (
        f"Inspection #{inspections['unsure']} labelled 'ok' by dash-engineer: it left the review queue."
    )
    seed_key = dashboard_env.engineer_key
    body = api(api_server, seed_key, f"/inspections/{inspections['unsure']}")
    assert (body["label"], body["labelled_by"], body["needs_review"]) == ("ok", "dash-engineer", False)
    review = api(api_server, seed_key, "/inspections", needs_review="true")["items"]
    assert [item["id"] for item in review] == [inspections["other"]]
    assert list(queue_table(at)["id"]) == [inspections["other"]]
    assert metrics(at)["Defective"] == str(HOURS + 10)  # the scratch was not one

    # The next image's class starts at its own prediction; a class typed in wins over the list.
    assert at.selectbox(key="quality_relabel_class").value == "ok"
    at.text_input(key="quality_relabel_other").input("dent")
    at.button(key="quality_relabel_submit").click().run()
    body = api(api_server, seed_key, f"/inspections/{inspections['other']}")
    assert (body["label"], body["needs_review"]) == ("dent", False)
    assert "Nothing to review here" in at.info[-1].value


def test_a_viewer_sees_the_queue_but_may_not_relabel(
    inspections: dict[str, int], dashboard_env: Seed
) -> None:
    at = quality_page(dashboard_env.viewer_key)

    assert at.button(key="quality_relabel_submit").disabled
    assert any("labelling images needs an engineer or admin key" in c.value for c in at.caption)


def test_no_inspections_says_how_to_get_some_and_api_down_says_to_start_it(
    dashboard_env: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = quality_page()
    assert at.info[0].value.startswith(
        "No inspections yet: cameras publish images on `plantwatch/v1/<site>/<line>/<station>/inspection`"
    )
    assert not charts_of(at)

    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("PLANTWATCH_API_URL", url)
    get_settings.cache_clear()
    at = quality_page()
    assert at.error[0].value.startswith(f"Cannot reach the plantwatch API at {url}")


def test_every_line_can_be_chosen_even_one_without_recent_inspections(inspections: dict[str, int]) -> None:
    at = quality_page()
    picker = at.selectbox(key="quality_line")
    # The lines come from the API, not only from the newest inspections (all on plant-a/press).
    assert set(picker.options) == {"plant-a/paint", "plant-a/press", "plant-b/assembly"}
    assert picker.value == "plant-a/press"  # the first line with inspections
    picker.select("plant-b/assembly").run()
    assert not at.exception and at.selectbox(key="quality_line").value == "plant-b/assembly"
    assert at.query_params["line"] == "plant-b/assembly"  # the URL follows, to be shared
    assert at.selectbox(key="quality_station").options == ["All stations"]  # no station sent anything there
