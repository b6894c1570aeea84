"""The API calls of the Alerts, Quality, Models and Jobs pages: `PlantwatchClient` plus an alert's
history, inspections, quality, the model registry, jobs and dead letters. Failures are `ApiError`s,
as in `dashboard.client`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboard.client import PAGE_LIMIT, PlantwatchClient
from dashboard.job_records import (
    DeadLetter,
    DeadLetterSummary,
    Job,
    JobRequest,
    JobRun,
    dead_letter_from_json,
    dead_letter_summary_from_json,
    job_from_json,
    job_request_from_json,
    job_run_from_json,
)
from dashboard.ops_records import (
    Inspection,
    ModelVersion,
    Quality,
    inspection_from_json,
    model_version_from_json,
    quality_from_json,
)
from dashboard.records import AlertStep, alert_step_from_json

MODEL_VERSIONS_SHOWN = 500  # the newest: more than a year of nightly trainings of one scope


def _params(**values: Any) -> dict[str, Any]:
    """Query parameters without the unset ones; datetimes as RFC 3339."""
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in values.items()
        if value is not None
    }


class OpsClient(PlantwatchClient):
    """The dashboard's client with the quality, registry and operations endpoints."""

    # --- quality and inspections ------------------------------------------------------------------

    def quality(
        self, site: str, line: str, *, station: str | None = None, start: datetime, end: datetime
    ) -> Quality:
        params = _params(site=site, line=line, station=station, start=start, end=end)
        return quality_from_json(self._request("GET", "/quality", params=params))

    def inspections(self, *, limit: int = 100, **filters: Any) -> list[Inspection]:
        """The newest inspections (one page), filtered as `GET /inspections` filters them
        (site, line, station, label, predicted, needs_review, labelled, start, end)."""
        raw = self._request("GET", "/inspections", params=_params(**filters, limit=limit))
        return [inspection_from_json(item) for item in raw.get("items") or []]

    def lines(self) -> list[str]:
        """Every line in service, as site/line."""
        return [str(line["path"]) for line in self._pages("/lines", {"limit": PAGE_LIMIT})]

    def inspection_image(self, inspection_id: int) -> bytes:
        return self._send("GET", f"/inspections/{int(inspection_id)}/image").content

    def relabel(self, inspection_id: int, label: str | None) -> Inspection:
        raw = self._request("PATCH", f"/inspections/{int(inspection_id)}", json={"label": label})
        return inspection_from_json(raw)

    # --- model registry ---------------------------------------------------------------------------

    def model_versions(
        self, *, kind: str | None = None, scope: str | None = None, page_size: int = PAGE_LIMIT,
        most: int = MODEL_VERSIONS_SHOWN,
    ) -> list[ModelVersion]:  # fmt: skip
        """The newest `most` registered versions (following the cursor), newest first."""
        raw = self._pages("/models", _params(kind=kind, scope=scope, limit=page_size), max_items=most)
        return [model_version_from_json(item) for item in raw]

    def promote(self, version_id: int) -> ModelVersion:
        return model_version_from_json(self._request("POST", f"/models/{int(version_id)}/promote"))

    def rollback(self, kind: str, scope: str) -> ModelVersion:
        raw = self._request("POST", "/models/rollback", json={"kind": kind, "scope": scope})
        return model_version_from_json(raw)

    def retrain(self, kind: str, scope: str | None = None) -> JobRequest:
        body = {"scope": scope} if scope else {}
        return job_request_from_json(self._request("POST", f"/models/{kind}/retrain", json=body))

    # --- jobs and dead letters --------------------------------------------------------------------

    def jobs(self, *, page_size: int = PAGE_LIMIT) -> list[Job]:
        """Every job with its schedule and last run (following the cursor), by name."""
        return [job_from_json(item) for item in self._pages("/jobs", {"limit": page_size})]

    def job_runs(
        self, *, job: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[JobRun]:
        raw = self._request("GET", "/jobs/runs", params=_params(job=job, status=status, limit=limit))
        return [job_run_from_json(item) for item in raw.get("items") or []]

    def request_job(self, name: str, params: dict[str, Any] | None = None) -> JobRequest:
        raw = self._request("POST", f"/jobs/{name}/requests", json={"params": params or {}})
        return job_request_from_json(raw)

    def job_request(self, request_id: int) -> JobRequest:
        return job_request_from_json(self._request("GET", f"/jobs/requests/{int(request_id)}"))

    def dead_letters(
        self, *, reason: str | None = None, replayed: bool | None = None, limit: int = 100
    ) -> list[DeadLetter]:
        params = _params(reason=reason, replayed=replayed, limit=limit)
        raw = self._request("GET", "/dead-letters", params=params)
        return [dead_letter_from_json(item) for item in raw.get("items") or []]

    def dead_letter_summary(self) -> DeadLetterSummary:
        return dead_letter_summary_from_json(self._request("GET", "/dead-letters/summary"))

    def replay(self, *, ids: list[int] | None = None, reason: str | None = None) -> str:
        """Ask for a replay of the letters `ids`, or of every letter with `reason`; the API's answer."""
        body: dict[str, Any] = {"ids": ids} if ids else {"reason": reason}
        raw = self._request("POST", "/dead-letters/replay", json=body)
        return str(raw.get("detail") or f"{raw.get('marked', 0)} letters marked for replay")

    def alert_history(self, alert_id: int) -> list[AlertStep]:
        """Every step of one alert, oldest first (opened, raised, acknowledged, comments, …)."""
        raw = self._request("GET", f"/alerts/{int(alert_id)}")
        return [alert_step_from_json(step) for step in raw.get("history") or []]
