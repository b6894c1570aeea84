"""Page plumbing of the Quality, Models and Jobs pages, on top of `dashboard.session`: their client,
the role of the logged-in key (to disable what it may not do, with a note saying why), cached
inspection images, and the result of an action carried over the rerun that follows it.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from dashboard import session
from dashboard.api_error import ApiError
from dashboard.client import PlantwatchClient
from dashboard.ops_client import OpsClient

RESULT_STATE = "pw_ops_result"
ROLE_NEEDED = {"admin": "an admin key", "engineer": "an engineer or admin key"}


def client() -> OpsClient:
    return OpsClient(session.settings().api_url, session.current_key())


@st.cache_data(ttl=60, show_spinner=False)
def _role(api_url: str, api_key: str | None) -> str | None:
    identity = PlantwatchClient(api_url, api_key).me()
    return identity.role if identity else None


@st.cache_data(ttl=60, show_spinner=False)
def _alert_filters(api_url: str, api_key: str | None) -> tuple[list[str], list[str]]:
    api = OpsClient(api_url, api_key)
    return [str(rule["rule"]) for rule in api.alert_rules()], sorted(api.lines())


def alert_filters() -> tuple[list[str], list[str]]:
    """The alert rules and the lines in service (site/line), as the API names them, for the Alerts
    page's filters; empty (the filters offer only "All") when the API does not say."""
    try:
        return _alert_filters(session.settings().api_url, session.current_key())
    except ApiError:
        return [], []


def role() -> str | None:
    """The key's role, or None when the API does not say (then the API decides on each action)."""
    try:
        return _role(session.settings().api_url, session.current_key())
    except ApiError:
        return None


def may(needed: str) -> bool:
    """Whether the key may do what needs `needed` ('admin' or 'engineer'); admin may do anything."""
    current = role()
    return current is None or current == "admin" or current == needed


def permission_note(needed: str, what: str) -> None:
    """Under a disabled control: who may use it and how to get such a key."""
    st.caption(
        f"🔒 Your key has the {role()} role: {what} needs {ROLE_NEEDED[needed]} "
        "(an admin creates one with `plantwatch apikey create --name <you> --role "
        f"{needed}`)."
    )


@st.cache_data(max_entries=256, show_spinner=False)
def _image(api_url: str, api_key: str | None, inspection_id: int) -> bytes:
    # Images are stored by content and never change, so they are cached for the whole session.
    return OpsClient(api_url, api_key).inspection_image(inspection_id)


def image(inspection_id: int) -> bytes:
    return _image(session.settings().api_url, session.current_key(), inspection_id)


def act(doing: str, call: Callable[[], str]) -> None:
    """Run an action (a form's callback): its success message, or its error, shows on the next run."""
    try:
        st.session_state[RESULT_STATE] = ("ok", call(), doing)
    except ApiError as exc:
        st.session_state[RESULT_STATE] = ("error", exc, doing)


def warn(message: str) -> None:
    """An action refused before it reached the API (a form not filled in), shown on the next run."""
    st.session_state[RESULT_STATE] = ("warn", message, "")


def show_result() -> None:
    """The outcome of the last action, once."""
    result = st.session_state.pop(RESULT_STATE, None)
    if result is None:
        return
    status, payload, doing = result
    if status == "ok":
        st.success(payload)
    elif status == "warn":
        st.warning(payload)
    else:
        session.show_api_error(payload, doing)
