"""Quality page: a line's (or station's) defect rate with p-chart control limits, the rate of each
station, the latest inspections with their images and classes, and the review queue where an
engineer sets the known label of low-confidence images.

The line is in the URL (`?line=site/line`), so a view can be shared.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from dashboard import ops_session, session
from dashboard.api_error import ApiError
from dashboard.charts import p_chart
from dashboard.ops_records import Inspection, Quality
from dashboard.ops_tables import percent, quality_totals
from dashboard.quality_review import latest_inspections, review_queue

ALL = "All stations"
RANGES = {"24 h": timedelta(hours=24), "7 d": timedelta(days=7), "30 d": timedelta(days=30)}
LINE_PICK = "quality_line"
SCAN_LIMIT = 1000  # newest inspections read to learn which stations exist (and classes)


def no_inspections_hint() -> str:
    root = session.settings().mqtt_topic_root
    return (
        "No inspections yet: cameras publish images on "
        f"`{root}/<site>/<line>/<station>/inspection`, MES systems upload them with "
        "`POST /api/v1/inspections`, and `plantwatch import-images DIR --site S --line L --station ST` "
        "imports a folder of labelled images."
    )


def _stations(inspections: list[Inspection]) -> dict[str, list[str]]:
    """Lines (site/line) of these inspections and the stations seen on each, sorted."""
    found: dict[str, set[str]] = {}
    for inspection in inspections:
        found.setdefault(inspection.line_path, set()).add(inspection.station)
    return {line: sorted(stations) for line, stations in sorted(found.items())}


def _pick_line(lines: list[str], default: str) -> str:
    """The line chosen: the URL's `?line=` when the page opens (a shared link), then the picker's."""
    if st.session_state.get(LINE_PICK) not in lines:
        wanted = st.query_params.get("line")
        st.session_state[LINE_PICK] = wanted if wanted in lines else default
    line = str(st.selectbox("Line", lines, key=LINE_PICK))
    st.query_params["line"] = line
    return line


def _chart(quality: Quality, range_label: str) -> None:
    samples = quality.samples
    where = f"{quality.site}/{quality.line}" + (f" · {quality.station}" if quality.station else "")
    if not samples:
        st.info(
            f"No classified or labelled inspection on {where} in the last {range_label}: pick a longer "
            "range, or let the classifier (`plantwatch classify`) catch up."
        )
        return
    inspected, defective, out = quality_totals(samples)
    counts = st.columns(4)
    counts[0].metric("Inspected", inspected)
    counts[1].metric("Defective", defective)
    counts[2].metric("Defect rate", percent(defective / inspected if inspected else None))
    counts[3].metric("Samples out of control", out)
    tz = session.display_tz()
    st.vega_lite_chart(
        spec=p_chart(samples, title=f"Defect rate · {where}", tz=tz), key="quality_p_chart", width="stretch"
    )
    st.caption(
        f"One sample per {quality.bucket_s / 3600:g} h; limits p̄ ± 3 sigma from the "
        f"{quality.baseline_samples} samples before each one (none while they hold too few inspections). "
        f"Good classes: {', '.join(quality.good_labels)}; every other class is a defect. Times in {tz}."
    )


def _by_station(site: str, line: str, stations: list[str], start: datetime, end: datetime) -> None:
    rows = []
    for station in stations:
        try:
            quality = ops_session.client().quality(site, line, station=station, start=start, end=end)
        except ApiError as exc:
            session.show_api_error(exc, f"read the quality of station {station}")
            return
        inspected, defective, out = quality_totals(quality.samples)
        rows.append(
            {
                "station": station,
                "inspected": inspected,
                "defective": defective,
                "defect rate": percent(defective / inspected) if inspected else "",
                "samples out of control": out,
            }
        )
    st.subheader("By station")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="quality_stations")


def quality_body() -> None:
    if not session.require_key():
        return
    client = ops_session.client()
    try:
        with st.spinner("Loading inspections…"):
            recent = client.inspections(limit=SCAN_LIMIT)
    except ApiError as exc:
        session.show_api_error(exc, "list inspections")
        return
    if not recent:
        st.info(no_inspections_hint())
        return
    stations_of = _stations(recent)
    try:  # every line, also one whose cameras were quiet while busier ones sent the newest images
        lines = sorted(set(client.lines()) | set(stations_of))
    except ApiError:
        lines = list(stations_of)
    left, middle, right = st.columns([2, 2, 3])
    with left:
        line_path = _pick_line(lines, default=next(iter(stations_of)))
    site, line = line_path.split("/", 1)
    stations = stations_of.get(line_path)
    if stations is None:  # a line whose cameras sent none of the newest images: its own
        try:
            own = client.inspections(site=site, line=line, limit=SCAN_LIMIT)
        except ApiError as exc:
            session.show_api_error(exc, "list the line's inspections")
            return
        stations = _stations(own).get(line_path, [])
    station_choice = str(middle.selectbox("Station", [ALL, *stations], key="quality_station"))
    station = None if station_choice == ALL else station_choice
    range_label = str(right.radio("Time range", list(RANGES), index=1, horizontal=True, key="quality_range"))
    end = datetime.now(UTC)
    start = end - RANGES[range_label]
    classes = {c for i in recent for c in (i.label, i.predicted_label) if c}
    try:
        quality = client.quality(site, line, station=station, start=start, end=end)
    except ApiError as exc:
        session.show_api_error(exc, "read the line's quality")
    else:
        classes |= set(quality.good_labels)
        _chart(quality, range_label)
        if station is None and len(stations) > 1 and quality.samples:
            _by_station(site, line, stations, start, end)
    latest_inspections(site, line, station, sorted(classes))
    review_queue(site, line, station, sorted(classes))


st.title("Quality")
# The page's data refreshes itself (PLANTWATCH_DASHBOARD_REFRESH_S); widgets keep their state.
st.fragment(quality_body, run_every=session.refresh_every())()
