"""Build the FastAPI application: engine and sessions, error handlers, CORS, OpenAPI, routers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from pydantic_core import from_json
from sqlalchemy.engine import make_url

from api.alert_figures.routes import router as alert_figures_router
from api.alert_rules.routes import router as alert_rules_router
from api.alerts.routes import router as alerts_router
from api.answer_cache import AnswerCache
from api.assets.hierarchy_routes import lines_router, sites_router
from api.assets.routes import router as assets_router
from api.audit.routes import router as audit_router
from api.dead_letters.routes import router as dead_letters_router
from api.deps import track_writes
from api.downtime.routes import router as downtime_router
from api.errors import install_error_handlers
from api.events.routes import router as events_router
from api.health.routes import router as health_router
from api.inspections.routes import router as inspections_router
from api.jobs.routes import router as jobs_router
from api.key_cache import KeyCache
from api.keys.routes import router as keys_router
from api.machines.routes import router as machines_router
from api.metrics import metrics_endpoint
from api.middleware import (
    BodyLimitMiddleware,
    ConcurrencyLimitMiddleware,
    ETagMiddleware,
    RequestContextMiddleware,
)
from api.models.routes import router as models_router
from api.predictions.routes import router as predictions_router
from api.quality.routes import router as quality_router
from api.series_cache import SeriesCache
from db.engine import make_engine, make_session_factory
from plantwatch.settings import Settings, get_settings

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
CONNECT_TIMEOUT_S = 5
# A pooled connection idle this long is checked before use; busy ones are not (a round trip each):
# after a database restart, a request on a connection broken in use gets a 503 and the next works.
PING_IDLE_S = 5.0
UPLOAD_FRAMING_BYTES = 64 << 10  # multipart boundaries and form fields around an uploaded image

DESCRIPTION = """\
plantwatch's HTTP API, for MES systems and the dashboard: machines and their sensor readings,
maintenance and failure events (the labels the models learn from), and more as plantwatch grows.

**Authentication**: every `/api/v1` route needs an API key, sent as `X-API-Key: <key>` or
`Authorization: Bearer <key>` (keys are issued with `plantwatch apikey create`, or by an admin
through `POST /api/v1/keys`). Roles: `viewer` reads; `engineer` also acknowledges and resolves
alerts, records events and relabels inspections; `mes` records events, work-order outcomes and
downtime windows; `admin` may do everything (models, jobs, rules, keys, assets). Every committed
write is kept in the audit log (`GET /api/v1/audit`).

**Requests**: send `X-Request-ID` to trace a request through the logs (one is made otherwise; the
answer always carries it). Heavy reads answer with an `ETag`: send it back as `If-None-Match` to get
`304 Not Modified` when nothing changed. Bodies above `PLANTWATCH_API_MAX_BODY_BYTES` get 413.

**Errors** are JSON `{"error": "<code>", "detail": "<sentence or list>"}`: `unauthorized` (401),
`forbidden` (403), `not_found` (404), `conflict` (409), `too_large` (413), `invalid_request` (422).

**Pagination**: list routes return `{"items": [...], "next_cursor": ...}`; pass `next_cursor` back as
`cursor` until it is null.
"""

TAGS = [
    {"name": "machines", "description": "The fleet, one machine, and its sensor readings."},
    {"name": "events", "description": "Failure and maintenance events of a machine."},
    {"name": "dead letters", "description": "Messages ingest refused, and their replay after a fix."},
    {"name": "health", "description": "Liveness and readiness probes (no key needed)."},
    {"name": "keys", "description": "API keys (the caller's, and managing them) and the audit log."},
    {"name": "jobs", "description": "Scheduled jobs, their runs, and requests to run one now."},
    {"name": "models", "description": "Model versions, their metrics, promotion, rollback, retraining."},
    {"name": "inspections", "description": "Inspection images, their known and predicted labels."},
]


def _version() -> str:
    try:
        return version("plantwatch")
    except PackageNotFoundError:
        return "0.0.0"


def _database_url(settings: Settings) -> str:
    if not settings.database_url:
        raise ValueError(
            "the API needs a database: set DATABASE_URL (postgresql://user:pass@host:5432/db), "
            "or start everything with `plantwatch up`, which provides an embedded PostgreSQL"
        )
    url = make_url(settings.database_url)
    # Fail a probe or request in seconds, not after the OS's TCP timeout, when the host is gone.
    if "connect_timeout" not in url.query:
        url = url.update_query_dict({"connect_timeout": str(CONNECT_TIMEOUT_S)})
    # Timestamps come back in UTC, so large series need no per-point conversion.
    if "options" not in url.query:
        url = url.update_query_dict({"options": "-c timezone=UTC"})
    return url.render_as_string(hide_password=False)


def _v1_router() -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)
    # Order matters: `/machines/{machine:path}` would also match `/machines/a/b/c/events`. The most
    # asked-for reads come first: routes are matched one by one, a few microseconds each.
    router.include_router(predictions_router)
    router.include_router(alerts_router)
    router.include_router(events_router)
    router.include_router(assets_router)  # before machines_router: GET …/sensors is not a machine
    router.include_router(machines_router)
    router.include_router(keys_router)
    router.include_router(audit_router)
    router.include_router(jobs_router)
    router.include_router(models_router)
    router.include_router(downtime_router)
    router.include_router(alert_rules_router)
    router.include_router(alert_figures_router)
    router.include_router(sites_router)
    router.include_router(lines_router)
    router.include_router(quality_router)
    router.include_router(dead_letters_router)
    router.include_router(inspections_router)
    return router


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API for these settings; one engine and session factory per app, kept on app.state."""
    settings = settings or get_settings()
    # One connection per request served at once, and two for the probes and /metrics.
    # JSONB (predictions' and alerts' detail) decoded by pydantic-core: a third of json.loads' cost.
    engine = make_engine(
        _database_url(settings),
        pool_size=settings.api_max_concurrency + 2,
        json_deserializer=from_json,
        ping_idle_s=PING_IDLE_S,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title="plantwatch API",
        description=DESCRIPTION,
        version=_version(),
        openapi_tags=TAGS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.read_engine = engine.execution_options(isolation_level="AUTOCOMMIT")  # GET's sessions
    app.state.key_cache = KeyCache(settings.api_key_cache_s)
    app.state.answer_cache = AnswerCache(settings.api_answer_cache)
    app.state.series_cache = SeriesCache(settings.api_series_cache_mb << 20)
    track_writes(app.state.session_factory)
    install_error_handlers(app)
    # Each add wraps the ones before: the request context is outermost, ETags see the plain body.
    app.add_middleware(ETagMiddleware)
    # Level 1: a day of 1-minute buckets (160 kB) takes 2.5 ms to 52 kB; level 5, 6.7 ms to 48 kB.
    app.add_middleware(GZipMiddleware, minimum_size=4096, compresslevel=1)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.api_max_body_bytes,
        max_upload_bytes=settings.image_max_bytes + UPLOAD_FRAMING_BYTES,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["ETag", "X-Request-ID", "Link", "X-Truncated"],
        )
    app.add_middleware(ConcurrencyLimitMiddleware, limit=settings.api_max_concurrency)
    app.add_middleware(RequestContextMiddleware)
    if settings.api_metrics:
        app.add_route("/metrics", metrics_endpoint(app.state.session_factory), include_in_schema=False)
    app.include_router(health_router)
    app.include_router(_v1_router())
    log.debug("API built for %s", engine.url.render_as_string(hide_password=True))
    return app
