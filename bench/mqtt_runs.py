"""Running the MQTT load of the ingest benchmark in child processes, and the broker ceiling."""

from __future__ import annotations

import logging
import multiprocessing
import queue
from typing import Any

from bench.mqtt_load import Load, publish, subscribe

log = logging.getLogger("bench.ingest")

SPAWN = multiprocessing.get_context("spawn")  # no copy of the parent's threads and connections


def run_publisher(load: Load) -> dict[str, Any]:
    """Publish `load` from a child process; its figures once every message is acknowledged."""
    results: Any = SPAWN.Queue()
    process = SPAWN.Process(target=publish, args=(load, results), name="bench-publisher")
    process.start()
    try:
        return _result_of(process, results)
    finally:
        process.join(timeout=30)


def broker_ceiling(load: Load) -> dict[str, Any]:
    """Messages/s from the publisher to a bare QoS 1 subscriber process (no database), from the
    first publish to the last message received; and the CPU each side spent per message."""
    ready, expected, results = SPAWN.Event(), SPAWN.Queue(), SPAWN.Queue()
    topic_filter = f"{load.topic_root}/+/+/+/telemetry"
    subscriber = SPAWN.Process(
        target=subscribe,
        args=(load.host, load.port, topic_filter, ready, expected, results),
        name="bench-subscriber",
    )
    subscriber.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("the bare subscriber did not subscribe within 30 s")
        sent = run_publisher(load)
        expected.put(sent["sent"])
        received = _result_of(subscriber, results)
    finally:
        subscriber.join(timeout=30)
    if received["received"] < sent["sent"]:
        raise RuntimeError(f"the bare subscriber got {received['received']} of {sent['sent']} messages")
    rate = sent["sent"] / (received["last"] - sent["started"])
    log.info("broker ceiling: %d messages, %.0f/s", sent["sent"], rate)
    return {
        "messages_per_s": round(rate),
        "publisher_cpu_us": round(sent["cpu_s"] / sent["sent"] * 1e6, 1),
        "subscriber_cpu_us": round(received["cpu_s"] / sent["sent"] * 1e6, 1),
    }


def _result_of(process: Any, results: Any) -> dict[str, Any]:
    """What a child process puts on `results`; raises if it dies first."""
    while True:
        try:
            figures: dict[str, Any] = results.get(timeout=0.5)
            return figures
        except queue.Empty:
            if not process.is_alive():
                raise RuntimeError(f"{process.name} died (exit code {process.exitcode}); see above") from None
