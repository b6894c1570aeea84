"""Helpers for tests that need ingest running: the ingestor in a thread, publishing with paho, waiting."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from ingest.service import run_ingestor
from plantwatch.mqtt import parse_mqtt_url
from plantwatch.settings import Settings


class RunningIngestor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="ingestor", daemon=True)

    def _run(self) -> None:
        try:
            run_ingestor(self.settings, self.stop_event, ready=self.ready)
        except BaseException as error:  # surfaced by stop()
            self.error = error

    def start(self) -> RunningIngestor:
        self.thread.start()
        assert self.ready.wait(20), "the ingestor did not subscribe within 20 s"
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(30)
        assert not self.thread.is_alive(), "the ingestor did not stop within 30 s"
        if self.error is not None:
            raise self.error


Start = Callable[[Settings], RunningIngestor]


@pytest.fixture
def start_ingestor() -> Iterator[Start]:
    """Start ingestors (in threads, waiting for their subscription); stopped at the end of the test."""
    running: list[RunningIngestor] = []

    def start(settings: Settings) -> RunningIngestor:
        ingestor = RunningIngestor(settings).start()
        running.append(ingestor)
        return ingestor

    yield start
    for ingestor in running:
        if ingestor.thread.is_alive():
            ingestor.stop()


def publish(settings: Settings, messages: list[tuple[str, bytes]], qos: int = 1) -> None:
    """Publish and wait until the broker has every message (PUBACK for QoS 1)."""
    address = parse_mqtt_url(settings.mqtt_url or "")
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"test-pub-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv311
    )
    client.connect(address.host, address.port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=qos) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(10)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def wait_for(condition: Callable[[], Any], timeout_s: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what} (last: {value!r})")
        time.sleep(0.05)


def count(factory: sessionmaker[Session], sql: str) -> int:
    with factory() as session:
        return int(session.execute(text(sql)).scalar_one())
