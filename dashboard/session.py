"""Page plumbing shared by every page: the API key of this browser session, login and logout,
cached reads through `dashboard.client`, and the messages for error and empty states.

The key comes from `PLANTWATCH_API_KEY` or, when unset (or after a logout), from the sidebar where
the user pastes one; it lives in `st.session_state`, never on disk. Cached reads take the API URL
and key as arguments, so sessions with different keys never share results.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from dashboard.client import ApiError, PlantwatchClient
from dashboard.records import Event, Identity, Machine, Series
from plantwatch.settings import Settings, get_settings

KEY_STATE = "pw_api_key"
ENV_KEY_OFF_STATE = "pw_env_key_off"
REFUSED_STATE = "pw_refused_key"
CACHE_TTL_S = 5
CREATE_KEY_HINT = "`plantwatch apikey create --name <you> --role engineer`"


def settings() -> Settings:
    return get_settings()


def current_key() -> str | None:
    pasted = st.session_state.get(KEY_STATE)
    if pasted:
        return str(pasted)
    if st.session_state.get(ENV_KEY_OFF_STATE):
        return None
    return settings().api_key or None


def client() -> PlantwatchClient:
    return PlantwatchClient(settings().api_url, current_key())


def refresh_every() -> float | None:
    """The `run_every` of the pages' data fragments (None: auto-refresh off)."""
    period = settings().dashboard_refresh_s
    return float(period) if period > 0 else None


def display_tz() -> tzinfo:
    """The browser's time zone when Streamlit knows it, else UTC."""
    name = st.context.timezone
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC


# --- cached reads (the URL and key are part of the cache key) -------------------------------------


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _machines(api_url: str, api_key: str | None) -> list[Machine]:
    return PlantwatchClient(api_url, api_key).machines()


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _series(
    api_url: str, api_key: str | None, machine_id: int, sensor: str, start: datetime, end: datetime
) -> Series:
    return PlantwatchClient(api_url, api_key).recent_readings(machine_id, sensor, start, end)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _events(api_url: str, api_key: str | None, machine_id: int) -> list[Event]:
    return PlantwatchClient(api_url, api_key).events(machine_id)


@st.cache_data(ttl=60, show_spinner=False)
def _identity(api_url: str, api_key: str | None) -> Identity | None:
    return PlantwatchClient(api_url, api_key).me()


def machines() -> list[Machine]:
    found = _machines(settings().api_url, current_key())
    st.session_state.pop(REFUSED_STATE, None)
    return found


def machines_or_explain() -> list[Machine] | None:
    """The fleet for a page, or None after telling the user why there is none (no key, API error,
    no machines yet)."""
    if not require_key():
        return None
    try:
        with st.spinner("Loading machines…"):
            found = machines()
    except ApiError as exc:
        show_api_error(exc, "list the machines")
        return None
    if not found:
        st.info(no_machines_hint())
        return None
    return found


def series(machine_id: int, sensor: str, start: datetime, end: datetime) -> Series:
    return _series(settings().api_url, current_key(), machine_id, sensor, start, end)


def events(machine_id: int) -> list[Event]:
    return _events(settings().api_url, current_key(), machine_id)


def forget_events() -> None:
    _events.clear()


def window(span: timedelta, now: datetime) -> tuple[datetime, datetime]:
    """(end - span, end) with `end` just after now, on a CACHE_TTL_S grid so reruns reuse cached reads."""
    floored = now.replace(microsecond=0) - timedelta(seconds=now.second % CACHE_TTL_S)
    end = floored + timedelta(seconds=CACHE_TTL_S)
    return end - span, end


# --- messages -------------------------------------------------------------------------------------


def show_api_error(exc: ApiError, doing: str = "load the data") -> None:
    """Say what went wrong and what to do about it."""
    url = settings().api_url
    if exc.unreachable:
        st.error(
            f"Cannot reach the plantwatch API at {url}: is `plantwatch api` running? "
            f"(tried to {doing}: {exc.detail_text()})"
        )
    elif exc.status == 401:
        st.session_state[REFUSED_STATE] = current_key()
        st.error(
            "Your API key was refused: paste a valid key in the sidebar "
            f"(an admin creates one with {CREATE_KEY_HINT})."
        )
    elif exc.status == 403:
        st.error(
            f"Your API key may not {doing}: {exc.detail_text().rstrip('.')}. "
            "Ask an admin for a key with the engineer role."
        )
    elif exc.status == 404:
        st.warning(f"Not found: {exc.detail_text()}")
    else:
        st.error(f"The API could not {doing} ({exc.status} {exc.error}): {exc.detail_text()}")


def require_key() -> bool:
    """False (after saying how to get one) when this session has no API key."""
    if current_key():
        return True
    st.info(
        "Paste your plantwatch API key in the sidebar to log in "
        f"(an admin creates one with {CREATE_KEY_HINT}, or set PLANTWATCH_API_KEY)."
    )
    return False


def no_machines_hint() -> str:
    root = settings().mqtt_topic_root
    return (
        "No machines yet: start the simulator (`plantwatch simulate`) or publish readings to "
        f"`{root}/<site>/<line>/<machine>/telemetry`."
    )


# --- sidebar --------------------------------------------------------------------------------------


def _log_in() -> None:
    pasted = str(st.session_state.get("pw_login_key") or "").strip()
    if pasted:
        st.session_state[KEY_STATE] = pasted
        st.session_state.pop(REFUSED_STATE, None)


def _log_out() -> None:
    st.session_state.pop(KEY_STATE, None)
    st.session_state.pop(REFUSED_STATE, None)
    st.session_state[ENV_KEY_OFF_STATE] = True


def _login_form() -> None:
    with st.form("pw_login", clear_on_submit=True):
        st.text_input("API key", type="password", key="pw_login_key", placeholder="pw_…")
        st.form_submit_button("Log in", on_click=_log_in, key="pw_login_submit")


def sidebar_login() -> None:
    """Who is logged in and a logout button, or the box to paste a key (also when the key was refused).

    Call it after the page ran, so that a key the page saw refused already shows the login box.
    """
    with st.sidebar:
        key = current_key()
        if not key:
            _login_form()
            return
        identity: Identity | None = None
        try:
            identity = _identity(settings().api_url, key)
            if identity is not None:
                st.session_state.pop(REFUSED_STATE, None)
        except ApiError as exc:
            if exc.status == 401:
                st.session_state[REFUSED_STATE] = key
        source = "" if st.session_state.get(KEY_STATE) else " (from PLANTWATCH_API_KEY)"
        if st.session_state.get(REFUSED_STATE) == key:
            st.error(f"The API refused this key{source}: paste another.")
            _login_form()
        elif identity is not None:
            st.caption(f"Logged in as **{identity.name}** ({identity.role}){source}")
        else:
            st.caption(f"API key set{source}")
        st.button("Log out", on_click=_log_out, key="pw_logout")
