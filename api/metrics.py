"""Prometheus metrics of the API: requests by route and status, their latency, and figures read
from the database at scrape time (how old the newest reading is, the champion model versions).

Request metrics live in the process's default registry (also served on PLANTWATCH_METRICS_PORT);
`/metrics` on the API itself is mounted only when `api_metrics` is on. With several worker processes
(`plantwatch api` sets PROMETHEUS_MULTIPROC_DIR for them), each worker writes its figures to files in
that directory and every scrape, whichever worker or the parent answers it, adds them all up.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import Response

from db.base import utcnow
from db.tables import Machine, ModelVersion

log = logging.getLogger(__name__)

REQUESTS = Counter(
    "plantwatch_api_requests_total",
    "API requests, by method, route template and status",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "plantwatch_api_request_seconds",
    "API request latency, by method and route template",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own switch, read at import


def request_registry() -> CollectorRegistry:
    """The request metrics to serve: all workers' when they share a multiprocess directory."""
    if MULTIPROCESS_DIR_ENV not in os.environ:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


class DatabaseCollector(Collector):
    """Figures that only the database knows, read once per scrape."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            with self.session_factory() as session:
                newest = session.scalar(
                    select(func.max(Machine.last_seen_at)).where(Machine.retired_at.is_(None))
                )
                champions = session.execute(
                    select(ModelVersion.kind, ModelVersion.scope, ModelVersion.version).where(
                        ModelVersion.status == "champion"
                    )
                ).all()
        except SQLAlchemyError as exc:  # the request metrics are still worth a scrape; /readyz says why
            log.warning("metrics: database figures left out: %s", type(exc).__name__)
            return
        lag = GaugeMetricFamily(
            "plantwatch_ingest_newest_reading_age_seconds",
            "Seconds since the newest stored reading of any active machine (ingest lag, as stored)",
        )
        if newest is not None:
            lag.add_metric([], (utcnow() - newest).total_seconds())
        yield lag
        versions = GaugeMetricFamily(
            "plantwatch_model_champion_version",
            "Version number of each scope's champion model",
            labels=["kind", "scope"],
        )
        for kind, scope, version in champions:
            versions.add_metric([kind, scope], version)
        yield versions


def metrics_endpoint(session_factory: sessionmaker[Session]) -> Callable[[Request], Response]:
    """A /metrics route for this app: the process's registry plus the database figures."""
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector(session_factory))
    requests = request_registry()

    def metrics(request: Request) -> Response:
        body = generate_latest(requests) + generate_latest(database)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return metrics
