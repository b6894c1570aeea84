"""Cached reads of the Fleet and Machine pages' health data, on top of `dashboard.session`: the
fleet's latest predictions and active alerts, one machine's prediction, prediction history and
alerts, and the band thresholds. Like `session`, the API URL and key are part of each cache key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial

import streamlit as st

from dashboard import session
from dashboard.api_error import ApiError
from dashboard.client import PlantwatchClient
from dashboard.fleet_grid import Thresholds
from dashboard.records import Alert, Health, Machine

TTL_S = session.CACHE_TTL_S
PREDICTION_RULES = ("rul_low", "failure_probability_high")  # the rules behind the bands


# Resources, not data, as `session._machines`: with 1,000 machines, the copy cache_data makes (pickled
# when kept, unpickled on every read) costs more than drawing the page. The pages only read them.
@st.cache_resource(ttl=TTL_S, show_spinner=False)
def _fleet_health(api_url: str, api_key: str | None) -> dict[int, Health]:
    return {h.machine_id: h for h in PlantwatchClient(api_url, api_key).fleet_health()}


@st.cache_resource(ttl=TTL_S, show_spinner=False)
def _active_alerts(api_url: str, api_key: str | None) -> list[Alert]:
    return PlantwatchClient(api_url, api_key).active_alerts()


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _machine_health(api_url: str, api_key: str | None, machine_id: int) -> Health:
    return PlantwatchClient(api_url, api_key).machine_health(machine_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _predictions(
    api_url: str, api_key: str | None, machine_id: int, start: datetime, end: datetime
) -> list[Health]:
    return PlantwatchClient(api_url, api_key).predictions(machine_id, start, end)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _machine_alerts(api_url: str, api_key: str | None, machine_id: int, end: datetime) -> list[Alert]:
    return PlantwatchClient(api_url, api_key).machine_alerts(machine_id, opened_before=end)


def fleet_reads() -> list[Callable[[], object]]:
    """The Fleet page's health reads, for session.prefetch."""
    url, key = session.settings().api_url, session.current_key()
    return [partial(_fleet_health, url, key), partial(_active_alerts, url, key)]


def machine_reads(machine: Machine, start: datetime, end: datetime) -> list[Callable[[], object]]:
    """The Machine page's health reads (as `machine_health`, `predictions`, `machine_alerts` and
    `thresholds` make them), for session.prefetch."""
    url, key = session.settings().api_url, session.current_key()
    return [
        partial(_machine_health, url, key, machine.id),
        partial(_predictions, url, key, machine.id, start, end),
        partial(_machine_alerts, url, key, machine.id, end),
        partial(_prediction_levels, url, key, machine.path),
    ]


def fleet_health() -> dict[int, Health]:
    """Every machine's latest prediction, by machine id."""
    return _fleet_health(session.settings().api_url, session.current_key())


def active_alerts() -> list[Alert]:
    return _active_alerts(session.settings().api_url, session.current_key())


def machine_health(machine_id: int) -> Health:
    return _machine_health(session.settings().api_url, session.current_key(), machine_id)


def predictions(machine_id: int, start: datetime, end: datetime) -> list[Health]:
    """The machine's predictions in [start, end), oldest first."""
    return _predictions(session.settings().api_url, session.current_key(), machine_id, start, end)


def machine_alerts(machine_id: int, start: datetime, end: datetime) -> list[Alert]:
    """The machine's alerts active at some time in [start, end), the latest opened first."""
    found = _machine_alerts(session.settings().api_url, session.current_key(), machine_id, end)
    shown = [a for a in found if a.resolved_at is None or a.resolved_at >= start]
    return sorted(shown, key=lambda a: (a.opened_at, a.id), reverse=True)


@st.cache_data(ttl=60, show_spinner=False)
def _prediction_levels(
    api_url: str, api_key: str | None, machine: str | None
) -> dict[str, tuple[float | None, float | None]]:
    """(warning, critical) of each prediction rule in effect for `machine` (None: plant-wide), as the
    API says (`effective`); (None, None) for a rule that is off."""
    levels = {}
    for rule in PlantwatchClient(api_url, api_key).alert_rules(machine):
        effective = rule.get("effective") or {}
        if rule.get("rule") in PREDICTION_RULES and effective:
            on = effective.get("enabled", True)
            levels[str(rule["rule"])] = (
                (effective.get("warning"), effective.get("critical")) if on else (None, None)
            )
    return levels


def thresholds(machine: Machine | None = None) -> Thresholds:
    """The prediction rules' thresholds in effect for `machine` (its own override, its line's, the
    plant's, else the defaults), or the plant's, as the API says; the dashboard's own settings
    (PLANTWATCH_ALERT_*) when the API cannot say."""
    settings = session.settings()
    try:
        levels = _prediction_levels(
            settings.api_url, session.current_key(), machine.path if machine else None
        )
    except ApiError:
        levels = {}
    rul = levels.get("rul_low", (settings.alert_rul_warning, settings.alert_rul_critical))
    probability = levels.get(
        "failure_probability_high",
        (settings.alert_failure_probability_warning, settings.alert_failure_probability_critical),
    )
    return Thresholds(*rul, *probability, from_api=set(PREDICTION_RULES) <= set(levels))
