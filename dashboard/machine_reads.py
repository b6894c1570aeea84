"""Cached reads of the Machine page, on top of `dashboard.session` and `dashboard.health_session`: the
machine itself (fresh, unlike the picker's list), its readings of each sensor (in parallel), its events,
and `read_all`, which makes all of the charts' reads at once.

Like `session`, the API URL and key are part of each cache key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial

import streamlit as st

from dashboard import health_session, session
from dashboard.api_error import ApiError
from dashboard.client import PlantwatchClient
from dashboard.records import Event, Machine, Series

TTL_S = session.CACHE_TTL_S
SERIES_THREADS = 4


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _machine(api_url: str, api_key: str | None, ref: str) -> Machine:
    return PlantwatchClient(api_url, api_key).machine(ref)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _series_set(
    api_url: str,
    api_key: str | None,
    machine_id: int,
    sensors: tuple[str, ...],
    start: datetime,
    end: datetime,
) -> dict[str, Series | ApiError]:
    client = PlantwatchClient(api_url, api_key)

    def read(sensor: str) -> Series | ApiError:
        try:
            return client.recent_readings(machine_id, sensor, start, end)
        except ApiError as exc:
            return exc

    with ThreadPoolExecutor(SERIES_THREADS) as pool:
        return dict(zip(sensors, pool.map(read, sensors), strict=True))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _events(api_url: str, api_key: str | None, machine_id: int) -> list[Event]:
    return PlantwatchClient(api_url, api_key).events(machine_id)


def machine(ref: str) -> Machine:
    """One machine, fresh: by path, id or external code."""
    return _machine(session.settings().api_url, session.current_key(), ref)


def series_set(
    machine_id: int, sensors: Sequence[str], start: datetime, end: datetime
) -> dict[str, Series | ApiError]:
    """Each sensor's readings in [start, end) (or why the API refused them), read in parallel."""
    return _series_set(
        session.settings().api_url, session.current_key(), machine_id, tuple(sensors), start, end
    )


def events(machine_id: int) -> list[Event]:
    return _events(session.settings().api_url, session.current_key(), machine_id)


def forget_events() -> None:
    _events.clear()


def read_all(machine: Machine, sensors: Sequence[str], times: tuple[datetime, datetime]) -> None:
    """Every read of the page's charts at once (session.prefetch), so that the page then finds each
    answer in the cache: the wait is the slowest read's, not the sum of them."""
    url, key = session.settings().api_url, session.current_key()
    begin, end = times
    reads: list[Callable[[], object]] = [
        partial(_events, url, key, machine.id),
        *health_session.machine_reads(machine, begin, end),
    ]
    if sensors:
        reads.append(partial(_series_set, url, key, machine.id, tuple(sensors), begin, end))
    session.prefetch(*reads)()
