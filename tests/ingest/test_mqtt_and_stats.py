"""Broker URLs from settings, and the ingestor's once-a-minute log line."""

from __future__ import annotations

import logging

import pytest

from ingest.stats import IngestStats
from ingest.writer import BatchResult
from plantwatch.mqtt import BrokerAddress, parse_mqtt_url


def test_broker_urls() -> None:
    assert parse_mqtt_url("mqtt://broker.plant:1884") == BrokerAddress(
        "broker.plant", 1884, False, None, None
    )
    assert parse_mqtt_url("mqtts://ingest:p%40ss%3Aword@broker") == BrokerAddress(
        "broker", 8883, True, "ingest", "p@ss:word"
    )
    assert parse_mqtt_url("mqtt://10.0.0.5").port == 1883
    for bad in ("http://broker", "broker:1883", "mqtt://"):
        with pytest.raises(ValueError, match="MQTT_URL"):
            parse_mqtt_url(bad)


def test_stats_log_line(caplog: pytest.LogCaptureFixture) -> None:
    stats = IngestStats(period_s=3600)
    stats.add(BatchResult(["accepted", "accepted", "duplicate", "not_json", "conflict", "not_json"]))
    log = logging.getLogger("test.ingest")
    with caplog.at_level(logging.INFO):
        stats.log_if_due(log)
        assert caplog.records == []  # not a minute yet
        stats.period_s = 0
        stats.log_if_due(log)
    (record,) = caplog.records
    assert "2 accepted, 1 duplicates, 3 dead letters (not_json 2, conflict 1)" in record.getMessage()
    assert stats.accepted == 0 and not stats.dead_letters
