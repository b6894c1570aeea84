"""Prometheus metrics endpoint of a long-running process (ingest, scheduler, simulator).

Each process serves its own registry on `PLANTWATCH_METRICS_PORT` when that is set (`up` gives each
component a port of its own and prints it). Metric objects live beside the code they measure
(for example ingest/metrics.py); this module only serves them.
"""

from __future__ import annotations

import logging

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

from plantwatch.settings import Settings

log = logging.getLogger(__name__)


def serve_metrics(settings: Settings, component: str, registry: CollectorRegistry = REGISTRY) -> int | None:
    """Start the /metrics HTTP endpoint in a daemon thread; returns the port, or None when off."""
    if settings.metrics_port is None:
        return None
    start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=registry)
    log.info("%s metrics at http://%s:%d/metrics", component, settings.metrics_host, settings.metrics_port)
    return settings.metrics_port
