"""HTTP routes of machines: list, get, and one sensor's readings.

`{machine:path}` takes an id, an external code or a path with slashes (site/line/machine), so the
routes with a suffix (`/readings`) come before the bare `/machines/{machine:path}`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from api.deps import ReadKey, SessionDep, SettingsDep
from api.machines import series, service
from api.machines.csv import series_csv
from api.machines.schemas import BucketedSeriesOut, MachineOut, SeriesOut
from api.pagination import Page, TimeRangeDep
from api.predictions import service as predictions_service
from api.predictions.schemas import MachineHealthOut
from api.responses import JSON
from api.schemas import ERROR_RESPONSES, NameText, Timestamp
from api.series_cache import SeriesCacheDep

router = APIRouter(prefix="/machines", tags=["machines"], responses=ERROR_RESPONSES)

MachineRef = Annotated[
    str, Path(description="The machine's id, its path site/line/machine, or its external (MES) code.")
]


@router.get(
    "", summary="List machines (registered within since/until, when given)", response_model=Page[MachineOut]
)
def list_machines(
    session: SessionDep,
    settings: SettingsDep,
    _key: ReadKey,
    registered: TimeRangeDep,
    site: Annotated[NameText | None, Query(description="Only machines of this site.")] = None,
    line: Annotated[NameText | None, Query(description="Only machines of lines with this name.")] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the last page.")] = None,
    limit: Annotated[
        int | None, Query(ge=1, description="Machines per page: default 100, at most api_max_page.")
    ] = None,
) -> Response:
    page = service.list_machines_json(
        session, site=site, line=line, registered=registered, cursor=cursor, limit=limit,
        max_page=settings.api_max_page,
    )  # fmt: skip
    return Response(page, media_type=JSON)


READINGS_DESCRIPTION = """Points are oldest first, at most `limit` of them. When `limit` cut the series
(more points follow in the window), the answer says so in its headers, its body unchanged:
`X-Truncated: true`, and `Link: <URL>; rel="next"`, where URL is this same request with `start` just
after the last point returned (1 µs after a reading; the start of the next bucket for buckets), `end`
the end this answer used (so that a default `end`, now, does not move) and `bucket` the bucketing it
used (`auto` resolved: the rest comes in the same kind of points). Follow `rel="next"` until an answer
has no `Link` to get the whole window, each point exactly once. An answer that holds every point of the
window has neither header."""

_NEXT_HEADERS = {
    "Link": {
        "description": '`<URL>; rel="next"`: the rest of the window, when `limit` cut this answer.',
        "schema": {"type": "string"},
    },
    "X-Truncated": {
        "description": "`true` when `limit` cut this answer (more points follow); absent otherwise.",
        "schema": {"type": "string", "enum": ["true"]},
    },
}


def _rfc3339(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def _next_headers(request: Request, more: series.NextPoints | None) -> dict[str, str]:
    """`Link: rel="next"` and `X-Truncated` of a series cut at its limit; none for a whole one."""
    if more is None:
        return {}
    url = request.url.include_query_params(
        start=_rfc3339(more.start), end=_rfc3339(more.end), bucket=more.bucket
    )
    return {"Link": f'<{url}>; rel="next"', "X-Truncated": "true"}


@router.get(
    "/{machine:path}/readings",
    summary="One sensor's readings of a machine",
    description=READINGS_DESCRIPTION,
    response_model=SeriesOut | BucketedSeriesOut,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "headers": _NEXT_HEADERS}},
)
def get_readings(
    request: Request,
    session: SessionDep,
    _key: ReadKey,
    series_cache: SeriesCacheDep,
    machine: MachineRef,
    sensor: Annotated[NameText, Query(description="Sensor name (see the machine's sensors).")],
    start: Annotated[Timestamp | None, Query(description="RFC 3339; default end - 24 h.")] = None,
    end: Annotated[Timestamp | None, Query(description="RFC 3339, exclusive; default now.")] = None,
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=100_000,
            description='At most this many points; when more follow, see `Link: rel="next"`.',
        ),
    ] = 10_000,
    bucket: Annotated[
        Literal["raw", "1m", "1h", "auto"],
        Query(
            description="raw: every reading; 1m / 1h: buckets (ts = bucket start, value = average, min, "
            "max, n) covering whole buckets from the one holding start; auto: raw up to 6 h, 1m up to "
            "3 days, else 1h."
        ),
    ] = "raw",
    format: Annotated[
        Literal["json", "csv"], Query(description="csv: a header line, then one line per point.")
    ] = "json",
) -> Response:
    if format == "json":
        body, more = series.sensor_series_json(
            session,
            machine,
            sensor=sensor,
            start=start,
            end=end,
            limit=limit,
            bucket=bucket,
            cache=series_cache,
        )
        return Response(body, media_type="application/json", headers=_next_headers(request, more))
    page, more = series.sensor_series_page(
        session, machine, sensor=sensor, start=start, end=end, limit=limit, bucket=bucket
    )
    filename = f"{page.machine.replace('/', '_')}_{page.sensor}.csv"
    return Response(
        series_csv(page),
        media_type="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            **_next_headers(request, more),
        },
    )


@router.get("/{machine:path}/health", summary="A machine's latest health and RUL prediction")
def get_health(
    session: SessionDep, settings: SettingsDep, _key: ReadKey, machine: MachineRef
) -> MachineHealthOut:
    return predictions_service.machine_health(session, settings, machine)


@router.get("/{machine:path}/predictions", summary="A machine's predictions over time, newest first")
def get_predictions(
    session: SessionDep,
    settings: SettingsDep,
    _key: ReadKey,
    machine: MachineRef,
    period: TimeRangeDep,
    cursor: Annotated[str | None, Query(max_length=300, description="next_cursor of the last page.")] = None,
    limit: Annotated[int | None, Query(ge=1, description="Predictions per page: default 100.")] = None,
) -> Page[MachineHealthOut]:
    return predictions_service.machine_history(
        session, settings, machine, period, cursor, limit, settings.api_max_page
    )


@router.get("/{machine:path}", summary="One machine")
def get_machine(session: SessionDep, _key: ReadKey, machine: MachineRef) -> MachineOut:
    return service.get_machine(session, machine)
