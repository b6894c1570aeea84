"""A small typed client of the plantwatch HTTP API: the dashboard's only way to the data.

Every failure is an `ApiError(status, error, detail)`; `status` is 0 when the API could not be
reached at all (connection refused, DNS, timeout), so pages can tell "start the API" apart from
"your key was refused". Objects are frozen dataclasses, so `st.cache_data` can pickle them.
"""

from __future__ import annotations

import ssl
from dataclasses import replace
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from dashboard.api_error import ApiError
from dashboard.records import (
    Alert,
    Event,
    Health,
    Identity,
    Machine,
    Point,
    Series,
    alert_from_json,
    event_from_json,
    health_from_json,
    machine_from_json,
    optional_float,
    parse_ts,
)

API_PREFIX = "/api/v1"
PAGE_LIMIT = 1000
SERIES_LIMIT = 5000


@cache
def _tls() -> ssl.SSLContext:
    """httpx's default TLS context, made once: each new client would load the CA bundle again
    (about 30 ms, more than most answers take)."""
    return httpx.create_ssl_context()


class PlantwatchClient:
    """Synchronous client; one short-lived `httpx.Client` per call keeps it safe to share across threads."""

    def __init__(self, base_url: str, api_key: str | None, *, timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout_s = timeout_s

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return orjson.loads(response.content)
        except ValueError as exc:  # orjson.JSONDecodeError is one
            raise ApiError(response.status_code, "bad_response", "the API did not answer JSON") from exc

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The API's answer to a request; every failure (4xx, 5xx, unreachable) as an ApiError."""
        headers = {"X-API-Key": self.api_key} if self.api_key else {}
        try:
            with httpx.Client(
                base_url=self.base_url, timeout=self.timeout_s, headers=headers, verify=_tls()
            ) as http:
                response = http.request(method, API_PREFIX + path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ApiError(0, "timeout", f"no answer within {self.timeout_s:g} s ({exc})") from exc
        except httpx.HTTPError as exc:
            raise ApiError(0, "unreachable", str(exc) or type(exc).__name__) from exc
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                raise ApiError(response.status_code, str(body.get("error", "error")), body.get("detail", ""))
            raise ApiError(response.status_code, "http_error", response.text[:300] or response.reason_phrase)
        return response

    def _pages(
        self, path: str, params: dict[str, Any], *, max_items: int | None = None
    ) -> list[dict[str, Any]]:
        """Every item of a cursor-paginated list (the first `max_items` when given). Pages as large as
        `params["limit"]` asks, or the API's default page where its PLANTWATCH_API_MAX_PAGE is smaller."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            asked = {**params, "cursor": cursor} if cursor else params
            try:
                page = self._request("GET", path, params=asked)
            except ApiError as exc:
                if exc.status != 422 or "limit" not in params or "query.limit" not in str(exc.detail):
                    raise
                params = {k: v for k, v in params.items() if k != "limit"}
                continue
            items.extend(page.get("items") or [])
            cursor = page.get("next_cursor")
            if not cursor or (max_items is not None and len(items) >= max_items):
                return items[:max_items]

    def me(self) -> Identity | None:
        """The key's owner and role, or None when this API has no `/me` endpoint."""
        try:
            raw = self._request("GET", "/me")
        except ApiError as exc:
            if exc.status in (404, 405):
                return None
            raise
        if not isinstance(raw, dict) or "role" not in raw:
            return None
        return Identity(name=str(raw.get("name") or "?"), role=str(raw["role"]))

    def machines(
        self, *, site: str | None = None, line: str | None = None, page_size: int = PAGE_LIMIT
    ) -> list[Machine]:
        """Every machine (following the cursor), optionally of one site and/or line."""
        params: dict[str, Any] = {"limit": page_size}
        if site:
            params["site"] = site
        if line:
            params["line"] = line
        return [machine_from_json(raw) for raw in self._pages("/machines", params)]

    def machine(self, ref: str | int) -> Machine:
        return machine_from_json(self._request("GET", f"/machines/{_ref(ref)}"))

    def readings(
        self,
        ref: str | int,
        sensor: str,
        start: datetime,
        end: datetime,
        *,
        limit: int = PAGE_LIMIT,
        bucket: str = "raw",
    ) -> Series:
        """One sensor's readings; `bucket` 1m / 1h / auto asks for bucket averages with min and max."""
        params = {"sensor": sensor, "start": start.isoformat(), "end": end.isoformat(), "limit": limit}
        raw = self._request("GET", f"/machines/{_ref(ref)}/readings", params={**params, "bucket": bucket})
        points = []
        for p in raw.get("points") or []:
            ts = parse_ts(p.get("ts"))
            if ts is not None and p.get("value") is not None:
                points.append(
                    Point(
                        ts=ts,
                        value=float(p["value"]),
                        min=optional_float(p.get("min")),
                        max=optional_float(p.get("max")),
                        n=int(p["n"]) if p.get("n") is not None else None,
                    )
                )
        return Series(
            machine=str(raw.get("machine", ref)),
            sensor=str(raw.get("sensor", sensor)),
            unit=raw.get("unit"),
            points=tuple(points),
            bucket=str(raw.get("bucket") or "raw"),
        )

    def recent_readings(
        self,
        ref: str | int,
        sensor: str,
        start: datetime,
        end: datetime,
        *,
        limit: int = SERIES_LIMIT,
        bucket: str = "auto",
    ) -> Series:
        """At most about `limit` points of [start, end); when there are more, the newest ones.

        `auto` lets the API choose every reading for short windows and bucket averages (with min and
        max) for longer ones, so a week costs about as much as an hour.

        The API returns the oldest points first and does not downsample, so when the window holds
        more than `limit` points, ask again for the newest stretch that the first answer's density
        says fits (marked `truncated`): a trend page cares about now, not the start of the window.
        """
        series = self.readings(ref, sensor, start, end, limit=limit, bucket=bucket)
        if len(series.points) < limit:
            return series
        span = series.points[-1].ts - series.points[0].ts
        # The same bucketing as the first answer (auto could choose finer for the shorter window).
        latest = self.readings(ref, sensor, max(start, end - span), end, limit=limit, bucket=series.bucket)
        return replace(latest, truncated=True)

    def events(self, ref: str | int, *, limit: int = 100) -> list[Event]:
        """The machine's newest events (one page), newest first."""
        raw = self._request("GET", f"/machines/{_ref(ref)}/events", params={"limit": limit})
        events = [event_from_json(item) for item in raw.get("items") or []]
        return sorted(events, key=lambda e: e.ts, reverse=True)

    def log_event(self, ref: str | int, kind: str, ts: datetime, note: str = "") -> Event:
        raw = self._request(
            "POST", f"/machines/{_ref(ref)}/events", json={"kind": kind, "ts": ts.isoformat(), "note": note}
        )
        return event_from_json(raw)

    def alerts(self, *, state: str | None = "active", severity: str | None = None, rule: str | None = None,
               line: str | None = None, limit: int = PAGE_LIMIT) -> tuple[list[Alert], bool]:  # fmt: skip
        """The newest alerts (one page of `limit`), filtered as the API filters them, and whether more
        (older) ones match."""
        wanted = {"state": state, "severity": severity, "rule": rule, "line": line}
        params = {k: v for k, v in wanted.items() if v}
        raw = self._request("GET", "/alerts", params={**params, "limit": limit})
        return [alert_from_json(item) for item in raw.get("items") or []], bool(raw.get("next_cursor"))

    def active_alerts(self, *, page_size: int = PAGE_LIMIT) -> list[Alert]:
        """Every open or acknowledged alert of the fleet (following the cursor)."""
        return [
            alert_from_json(raw) for raw in self._pages("/alerts", {"state": "active", "limit": page_size})
        ]

    def machine_alerts(self, ref: str | int, *, opened_before: datetime, limit: int = 200) -> list[Alert]:
        """The machine's newest alerts (any state) opened before `opened_before`, newest first."""
        params = {"machine": str(ref), "opened_before": opened_before.isoformat(), "limit": limit}
        return [alert_from_json(raw) for raw in self._pages("/alerts", params, max_items=limit)]

    def alert_rules(self, machine: str | None = None) -> list[dict[str, Any]]:
        """The alert rules as the API lists them: each with its defaults, overrides and the thresholds
        in `effective` for `machine` (a path; None: plant-wide)."""
        return self._pages("/alert-rules", {"limit": 100, **({"machine": machine} if machine else {})})

    def fleet_health(self, *, page_size: int = PAGE_LIMIT) -> list[Health]:
        """The latest prediction (or `pending`) of every machine, following the cursor."""
        return [health_from_json(raw) for raw in self._pages("/health", {"limit": page_size})]

    def machine_health(self, ref: str | int) -> Health:
        return health_from_json(self._request("GET", f"/machines/{_ref(ref)}/health"))

    def predictions(
        self, ref: str | int, since: datetime, until: datetime, *, max_items: int = SERIES_LIMIT
    ) -> list[Health]:
        """The machine's predictions made in [since, until), oldest first; the newest `max_items` when
        there are more."""
        params = {"since": since.isoformat(), "until": until.isoformat(), "limit": PAGE_LIMIT}
        raw = self._pages(f"/machines/{_ref(ref)}/predictions", params, max_items=max_items)
        return [health_from_json(item) for item in reversed(raw)]

    def act_on_alert(self, alert_id: int, action: str, comment: str = "") -> Alert:
        """`acknowledge` or `resolve` an alert, with an optional comment."""
        body = {"comment": comment} if comment else {}
        return alert_from_json(self._request("POST", f"/alerts/{int(alert_id)}/{action}", json=body))


def _ref(ref: str | int) -> str:
    """Machine paths contain slashes; the API routes them as a path parameter, so keep them."""
    return quote(str(ref), safe="/")
