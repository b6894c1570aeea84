"""The dead-letter part of the Jobs page: how many messages ingest refused and why, the letters
themselves, and asking for a replay of some of them or of every one with a reason (admin)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import ops_session, session
from dashboard.api_error import ApiError
from dashboard.job_records import DeadLetterSummary
from dashboard.ops_tables import dead_letters_table

ALL_REASONS = "All reasons"
SHOW = {"Not replayed": False, "Replayed": True, "All": None}
IDS = "dead_letters_ids"


def _replay_ids() -> None:
    ids = [int(i) for i in st.session_state.get(IDS) or []]
    st.session_state[IDS] = []  # once asked for, they leave the choices
    if not ids:
        ops_session.warn("Pick the dead letters to replay first.")
        return
    ops_session.act("replay dead letters", lambda: ops_session.client().replay(ids=ids) + ".")


def _replay_reason(reason: str) -> None:
    ops_session.act("replay dead letters", lambda: ops_session.client().replay(reason=reason) + ".")


def _summary(summary: DeadLetterSummary) -> None:
    counts = st.columns(4)
    counts[0].metric("Dead letters", summary.total)
    counts[1].metric("Not replayed", summary.total - summary.replayed)
    counts[2].metric("Replay requested", summary.replay_requested)
    counts[3].metric("Replayed", summary.replayed)
    rows = [
        {"reason": reason, "not replayed": summary.open_by_reason.get(reason, 0), "total": total}
        for reason, total in sorted(summary.by_reason.items(), key=lambda item: -item[1])
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="dead_letters_reasons")
    st.caption("docs/protocol.md says what each reason means; fix the sender or the rules, then replay.")


def dead_letters_section(admin: bool) -> None:
    st.header("Dead letters")
    client = ops_session.client()
    try:
        summary = client.dead_letter_summary()
    except ApiError as exc:
        session.show_api_error(exc, "list dead letters")
        return
    if summary.total == 0:
        st.info("No dead letters: ingest has accepted every message it received.")
        return
    _summary(summary)
    left, right = st.columns(2)
    reason_choice = str(
        left.selectbox("Reason", [ALL_REASONS, *sorted(summary.by_reason)], key="dead_letters_reason")
    )
    reason = None if reason_choice == ALL_REASONS else reason_choice
    replayed = SHOW[str(right.selectbox("Show", list(SHOW), key="dead_letters_show"))]
    try:
        letters = client.dead_letters(reason=reason, replayed=replayed, limit=200)
    except ApiError as exc:
        session.show_api_error(exc, "list dead letters")
        return
    if not letters:
        st.info("No dead letter matches these filters: choose another reason or show all.")
        return
    st.dataframe(
        dead_letters_table(letters, session.display_tz()),
        hide_index=True,
        width="stretch",
        key="dead_letters",
    )
    replayable = [d.id for d in letters if d.replayable and d.replay_requested_at is None]
    if not replayable:
        st.caption("None of these letters can be replayed (replayed already, asked for, or cut).")
        return
    st.subheader("Replay")
    pick, button = st.columns([3, 1], vertical_alignment="bottom")
    pick.multiselect("Dead letters (id)", replayable, key=IDS)
    button.button("Replay these", key="dead_letters_replay_ids", on_click=_replay_ids, disabled=not admin,
                  width="stretch")  # fmt: skip
    if reason is not None:
        st.button(
            f"Replay every {reason} letter not replayed yet ({summary.open_by_reason.get(reason, 0)})",
            key="dead_letters_replay_reason",
            on_click=_replay_reason,
            args=(reason,),
            disabled=not admin,
        )
    if not admin:
        ops_session.permission_note("admin", "replaying dead letters")
