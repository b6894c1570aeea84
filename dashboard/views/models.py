"""Models page: the versions of each model with their metrics, the champion, training curves and the
recorded promotion decisions; promote a version, roll back to the previous champion, or ask for a
retraining (admin only: other roles see the buttons disabled, with a note).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import streamlit as st

from dashboard import ops_session, session
from dashboard.api_error import ApiError
from dashboard.charts import curves_chart
from dashboard.ops_records import ModelVersion
from dashboard.ops_tables import local, scalar_metrics, training_history, versions_table

KINDS = {
    "All kinds": None,
    "RUL (per machine type)": "rul",
    "QC (per line)": "qc",
    "Health baseline": "health",
}
ALL_SCOPES = "All scopes"
VERSION_PICK = "models_version"
TRAINABLE = ("rul", "qc")


def _label(version: ModelVersion) -> str:
    # Not the status: it changes with a promotion, and the choice must stay on the same version.
    return f"{version.kind} {version.scope} v{version.version} (#{version.id})"


def _groups(versions: Sequence[ModelVersion]) -> dict[tuple[str, str], list[ModelVersion]]:
    groups: dict[tuple[str, str], list[ModelVersion]] = {}
    for version in sorted(versions, key=lambda v: (v.kind, v.scope, -v.version)):
        groups.setdefault((version.kind, version.scope), []).append(version)
    return groups


def _tables(versions: Sequence[ModelVersion]) -> None:
    tz = session.display_tz()
    for (kind, scope), members in _groups(versions).items():
        st.subheader(f"{kind.upper()} · {scope}")
        champion = next((v for v in members if v.status == "champion"), None)
        if champion is None:
            st.caption("No champion: predictions wait until a version is promoted.")
        else:
            st.caption(f"Champion: v{champion.version}, promoted {local(champion.promoted_at, tz)}")
        st.dataframe(
            versions_table(members, tz), hide_index=True, width="stretch", key=f"models_{kind}_{scope}"
        )


def _details(version: ModelVersion) -> None:
    st.markdown(
        f"**Promotion decision:** {version.decision or 'none recorded (promoted or registered by hand)'}"
    )
    left, right = st.columns([1, 2])
    with left:
        metrics = scalar_metrics(version.metrics)
        if metrics.empty:
            st.caption("This version has no numeric metrics.")
        else:
            st.dataframe(metrics, hide_index=True, width="stretch", key="models_metrics")
    with right:
        curves = training_history(version.metrics)
        if curves:
            spec = curves_chart(curves, title=f"Training curves · v{version.version}")
            st.vega_lite_chart(spec=spec, key="models_curves", width="stretch")
        else:
            st.info(
                "The API returns no per-epoch history for this version (its metrics hold final figures "
                "only), so there are no training curves to draw."
            )
    with st.expander("Parameters (as the API returns them)"):
        st.code(json.dumps(version.params, indent=2, default=str), language="json")


def _promote(version_id: int, label: str) -> None:
    def call() -> str:
        done = ops_session.client().promote(version_id)
        return f"{done.kind} {done.scope} v{done.version} is now the champion."

    ops_session.act(f"promote {label}", call)


def _rollback(kind: str, scope: str) -> None:
    def call() -> str:
        back = ops_session.client().rollback(kind, scope)
        return f"Rolled back: {kind} {scope} v{back.version} is the champion again."

    ops_session.act("roll back models", call)


def _retrain() -> None:
    state = st.session_state
    kind = str(state.get("models_retrain_kind") or "rul")
    scope = str(state.get("models_retrain_scope") or "").strip() or None

    def call() -> str:
        request = ops_session.client().retrain(kind, scope)
        return (
            f"Retraining requested (job request #{request.id}, {request.job_name}"
            f"{f' for {scope}' if scope else ' for every scope'}): the scheduler starts it within "
            "seconds; follow it on the Jobs page."
        )

    ops_session.act("retrain models", call)


def _actions(version: ModelVersion, admin: bool) -> None:
    st.subheader("Actions")
    left, right = st.columns(2)
    left.button(
        f"Promote v{version.version} to champion",
        key="models_promote",
        on_click=_promote,
        args=(version.id, _label(version)),
        disabled=not admin or version.status == "champion",
        width="stretch",
    )
    right.button(
        f"Roll back {version.kind} {version.scope} to the previous champion",
        key="models_rollback",
        on_click=_rollback,
        args=(version.kind, version.scope),
        disabled=not admin or version.kind not in TRAINABLE,
        width="stretch",
    )


def _retrain_form(admin: bool, kind: str | None, scope: str | None) -> None:
    state = st.session_state
    # The form starts from the version in view, and follows it when another one is picked.
    if state.get("models_retrain_for") != (kind, scope):
        state["models_retrain_for"] = (kind, scope)
        state["models_retrain_kind"] = kind if kind in TRAINABLE else TRAINABLE[0]
        state["models_retrain_scope"] = scope if kind in TRAINABLE else ""
    with st.form("models_retrain", clear_on_submit=False):
        st.markdown("**Retrain now**")
        left, right = st.columns([1, 2])
        left.radio("Kind", TRAINABLE, key="models_retrain_kind", horizontal=True)
        right.text_input(
            "Scope (machine type for rul, site/line for qc; empty: every one with data)",
            key="models_retrain_scope",
            max_chars=64,
        )
        st.form_submit_button("Retrain", key="models_retrain_submit", on_click=_retrain, disabled=not admin)


def models_body() -> None:
    if not session.require_key():
        return
    ops_session.show_result()
    try:
        with st.spinner("Loading model versions…"):
            versions = ops_session.client().model_versions()
    except ApiError as exc:
        session.show_api_error(exc, "list model versions")
        return
    admin = ops_session.may("admin")
    if not versions:
        st.info(
            "No model versions yet: the nightly trainings register them once there is data (failures "
            "for RUL, labelled images for QC). Train now with `plantwatch train rul` / "
            "`plantwatch train qc`, or with Retrain below (admin)."
        )
        _retrain_form(admin, None, None)
        if not admin:
            ops_session.permission_note("admin", "retraining")
        return
    left, right = st.columns(2)
    kind = KINDS[str(left.selectbox("Kind", list(KINDS), key="models_kind"))]
    of_kind = [v for v in versions if kind is None or v.kind == kind]
    scopes = [ALL_SCOPES, *sorted({v.scope for v in of_kind})]
    scope_choice = str(right.selectbox("Scope", scopes, key="models_scope"))
    shown = [v for v in of_kind if scope_choice in (ALL_SCOPES, v.scope)]
    counts = st.columns(3)
    counts[0].metric("Versions", len(shown))
    counts[1].metric("Champions", sum(v.status == "champion" for v in shown))
    counts[2].metric("Candidates", sum(v.status == "candidate" for v in shown))
    if not shown:
        st.info("No version matches these filters: choose another kind or scope.")
        return
    _tables(shown)
    st.header("Version details")
    by_label = {_label(v): v for v in sorted(shown, key=lambda v: (v.kind, v.scope, -v.version))}
    if st.session_state.get(VERSION_PICK) not in by_label:
        st.session_state[VERSION_PICK] = next(iter(by_label))
    version = by_label[str(st.selectbox("Version", list(by_label), key=VERSION_PICK))]
    _details(version)
    _actions(version, admin)
    _retrain_form(admin, version.kind, version.scope)
    if not admin:
        ops_session.permission_note("admin", "promoting, rolling back and retraining")


st.title("Models")
# The page's data refreshes itself (PLANTWATCH_DASHBOARD_REFRESH_S); widgets keep their state.
st.fragment(models_body, run_every=session.refresh_every())()
