"""Page plumbing shared by every page: the API key of this browser session, login and logout,
cached reads through `dashboard.client`, and the messages for error and empty states.

The key comes from `PLANTWATCH_API_KEY` or, when unset (or after a logout), from the sidebar where
the user pastes one; it lives in `st.session_state`, never on disk. Cached reads take the API URL
and key as arguments, so sessions with different keys never share results.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard.api_error import ApiError
from dashboard.client import PlantwatchClient
from dashboard.records import Identity, Machine
from plantwatch.settings import Settings, get_settings

KEY_STATE = "pw_api_key"
ENV_KEY_OFF_STATE = "pw_env_key_off"
REFUSED_STATE = "pw_refused_key"
CACHE_TTL_S = 5
REGISTRY_TTL_S = 60  # the machine picker's list: machines come and go far less often than data
# (when read, list) of the latest fleet list by (API URL, key): the Machine page's picker reuses what
# the Fleet page (or any page) read instead of reading 1,000 machines again.
_REGISTRY: dict[tuple[str, str | None], tuple[float, list[Machine]]] = {}
_PREFETCH = ThreadPoolExecutor(8, thread_name_prefix="pw-prefetch")
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


# A resource, not data: the fleet's list is read-only and large enough that unpickling a copy on every
# read (as cache_data does) costs about 60 ms with 1,000 machines.
@st.cache_resource(ttl=CACHE_TTL_S, show_spinner=False)
def _machines(api_url: str, api_key: str | None) -> list[Machine]:
    return PlantwatchClient(api_url, api_key).machines()


@st.cache_data(ttl=60, show_spinner=False)
def _identity(api_url: str, api_key: str | None) -> Identity | None:
    return PlantwatchClient(api_url, api_key).me()


def machines() -> list[Machine]:
    url, key = settings().api_url, current_key()
    found = _machines(url, key)
    st.session_state.pop(REFUSED_STATE, None)
    if _REGISTRY.get((url, key), (0.0, None))[1] is not found:
        _REGISTRY[(url, key)] = (time.monotonic(), found)
    return found


def machines_or_explain(*, picker: bool = False) -> list[Machine] | None:
    """The fleet for a page (`picker`: the machine registry's, see `machine_registry`), or None after
    telling the user why there is none (no key, API error, no machines yet)."""
    if not require_key():
        return None
    try:
        with st.spinner("Loading machines…"):
            found = machine_registry() if picker else machines()
    except ApiError as exc:
        show_api_error(exc, "list the machines")
        return None
    if not found:
        st.info(no_machines_hint())
        return None
    return found


def machine_registry() -> list[Machine]:
    """The fleet for the machine picker: the latest list any page read, up to REGISTRY_TTL_S old (read
    a machine itself for anything live, dashboard.machine_reads)."""
    read_at, found = _REGISTRY.get((settings().api_url, current_key()), (0.0, None))
    if found is None or time.monotonic() - read_at > REGISTRY_TTL_S:
        return machines()
    return found


def prefetch(*reads: Callable[[], object]) -> Callable[[], None]:
    """Start cached reads in the background, so that they wait on the API together; the function
    returned waits until they are done, after which the page finds their answers in the cache. A
    read must be a cached function with its arguments spelled out (URL and key included): nothing
    in it may use Streamlit's page state. A read that failed is not cached: the page asks again and
    gets the error."""
    started = [_PREFETCH.submit(read) for read in reads]

    def done() -> None:
        wait(started)

    return done


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


def sidebar_login(slot: DeltaGenerator, *, page_refused: bool = False) -> bool:
    """In `slot` (of the sidebar): who is logged in and a logout button, or the box to paste a key (also
    when the key was refused). True when it showed a key the API had not refused.

    Call it before the page, so that the browser loads the button's code while the page runs, and again
    with `page_refused` when the page then saw that key refused (`refused`): the login box replaces it
    at once, whatever the identity kept from earlier says.
    """
    with slot.container():
        key = current_key()
        if not key:
            _login_form()
            return False
        identity: Identity | None = None
        try:
            if not page_refused:
                identity = _identity(settings().api_url, key)
            if identity is not None:
                st.session_state.pop(REFUSED_STATE, None)
        except ApiError as exc:
            if exc.status == 401:
                st.session_state[REFUSED_STATE] = key
        source = "" if st.session_state.get(KEY_STATE) else " (from PLANTWATCH_API_KEY)"
        refused = st.session_state.get(REFUSED_STATE) == key
        if refused:
            st.error(f"The API refused this key{source}: paste another.")
            _login_form()
        elif identity is not None:
            st.caption(f"Logged in as **{identity.name}** ({identity.role}){source}")
        else:
            st.caption(f"API key set{source}")
        # Its own key when refused: after the page, this may be drawn again in one run with the other.
        st.button("Log out", on_click=_log_out, key="pw_logout_refused" if refused else "pw_logout")
        return not refused


def refused() -> bool:
    """Whether the API refused this session's key (as the page just found, maybe)."""
    key = current_key()
    return key is not None and st.session_state.get(REFUSED_STATE) == key
