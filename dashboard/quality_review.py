"""Parts of the Quality page: the latest inspections (images, predicted class and confidence) and
the review queue of low-confidence images, where an engineer sets the known label."""

from __future__ import annotations

import streamlit as st

from dashboard import ops_session, session
from dashboard.api_error import ApiError
from dashboard.ops_records import Inspection
from dashboard.ops_tables import inspection_caption, inspections_table

ANY_CLASS = "Any class"
GALLERY = 8  # images shown of the latest inspections
PICK = "quality_review_pick"


def _image(inspection: Inspection, width: int = 160) -> None:
    try:
        data = ops_session.image(inspection.id)
    except ApiError as exc:
        st.caption(f"#{inspection.id}: image unavailable ({exc.detail_text()})")
        return
    st.image(data, caption=inspection_caption(inspection), width=width)


def latest_inspections(site: str, line: str, station: str | None, classes: list[str]) -> None:
    st.subheader("Latest inspections")
    choice = str(st.selectbox("Predicted class", [ANY_CLASS, *classes], key="quality_predicted"))
    predicted = None if choice == ANY_CLASS else choice
    try:
        found = ops_session.client().inspections(
            site=site, line=line, station=station, predicted=predicted, limit=50
        )
    except ApiError as exc:
        session.show_api_error(exc, "list inspections")
        return
    if not found:
        st.info("No inspection matches these filters: choose another class, station or line.")
        return
    columns = st.columns(4)
    for index, inspection in enumerate(found[:GALLERY]):
        with columns[index % len(columns)]:
            _image(inspection)
    st.dataframe(
        inspections_table(found, session.display_tz()),
        hide_index=True,
        width="stretch",
        key="quality_latest",
        column_config={"confidence": st.column_config.ProgressColumn("confidence", min_value=0, max_value=1)},
    )


def _relabel(inspection_id: int) -> None:
    """Form callback: runs before the page, so the queue on the next run no longer holds the image."""
    state = st.session_state
    label = str(state.get("quality_relabel_other") or "").strip() or state.get("quality_relabel_class")
    state["quality_relabel_other"] = ""
    if not label:
        ops_session.warn("Choose a class or type one.")
        return

    def call() -> str:
        done = ops_session.client().relabel(inspection_id, str(label))
        left = "it left the review queue" if not done.needs_review else "it is still to review"
        return f"Inspection #{done.id} labelled {done.label!r} by {done.labelled_by}: {left}."

    ops_session.act("label inspections", call)


def _form(inspection: Inspection, classes: list[str]) -> None:
    allowed = ops_session.may("engineer")
    state = st.session_state
    # The class starts at the classifier's guess, and follows the image picked.
    if state.get("quality_relabel_for") != inspection.id or state.get("quality_relabel_class") not in classes:
        state["quality_relabel_for"] = inspection.id
        state["quality_relabel_class"] = (
            inspection.predicted_label if inspection.predicted_label in classes else classes[0]
        )
    with st.form("quality_relabel"):
        st.selectbox("Known class", classes, key="quality_relabel_class")
        st.text_input("…or another class", key="quality_relabel_other", max_chars=64)
        st.form_submit_button(
            "Set label", on_click=_relabel, args=(inspection.id,), key="quality_relabel_submit",
            disabled=not allowed,
        )  # fmt: skip
    if not allowed:
        ops_session.permission_note("engineer", "labelling images")


def review_queue(site: str, line: str, station: str | None, classes: list[str]) -> None:
    st.subheader("Review queue")
    ops_session.show_result()
    try:
        queue = ops_session.client().inspections(
            site=site, line=line, station=station, needs_review=True, limit=100
        )
    except ApiError as exc:
        session.show_api_error(exc, "list the inspections to review")
        return
    if not queue:
        st.info(
            "Nothing to review here: the classifier flags images whose confidence is below "
            "PLANTWATCH_QC_REVIEW_THRESHOLD, and they wait here until someone labels them."
        )
        return
    queue.sort(key=lambda i: (i.confidence if i.confidence is not None else -1.0, -i.id))
    st.caption(f"{len(queue)} image(s) the classifier was unsure of, least confident first.")
    st.dataframe(
        inspections_table(queue, session.display_tz()), hide_index=True, width="stretch", key="quality_queue"
    )
    by_label = {inspection_caption(i): i for i in queue}
    if st.session_state.get(PICK) not in by_label:
        st.session_state[PICK] = next(iter(by_label))
    chosen = by_label[str(st.selectbox("Image to label", list(by_label), key=PICK))]
    left, right = st.columns([1, 2])
    with left:
        _image(chosen, width=240)
    with right:
        _form(chosen, classes or [chosen.predicted_label or "ok"])
