"""The MQTT side of the ingest benchmark, each run in its own process: the publisher, the bare subscriber.

The publisher sends one message per machine and tick at QoS 1, as fast as its in-flight window lets
it (or paced at a given rate): topic `{root}/bench/line{m // 100}/m{m:04d}/telemetry`, payload
`{"ts": <publish wall time, RFC 3339 with microseconds>, "seq": <tick>, "values": {"s01": tick +
0.01, ...}}`. The timestamps are distinct per machine (a tick takes far more than a microsecond)
and say when the message was published, so the database can tell the latency of every reading;
`seq` lets it count what was lost or doubled. The bare subscriber acknowledges at once and counts.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

CONNECT_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Load:
    host: str
    port: int
    topic_root: str
    machines: int
    sensors: int
    first_tick: int
    seconds: float | None = None  # publish whole ticks until this many seconds have passed…
    ticks: int | None = None  # …or exactly this many ticks
    rate: float | None = None  # messages per second; None: as fast as the window allows
    window: int = 1000  # unacknowledged QoS 1 messages at most


def machine_name(index: int) -> tuple[str, str, str]:
    return "bench", f"line{index // 100}", f"m{index:04d}"


def topics(root: str, machines: int) -> list[str]:
    return [f"{root}/{'/'.join(machine_name(m))}/telemetry" for m in range(machines)]


def sensor_names(sensors: int) -> list[str]:
    return [f"s{k:02d}" for k in range(1, sensors + 1)]


def values_json(tick: int, sensors: int) -> str:
    return json.dumps({name: tick + k / 100 for k, name in enumerate(sensor_names(sensors), 1)})


def rfc3339(wall: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wall)) + f".{int(wall * 1e6) % 1_000_000:06d}Z"


def _connect(client_id: str, host: str, port: int, window: int = 20) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True, protocol=mqtt.MQTTv311
    )
    client.max_inflight_messages_set(window)  # only before connecting
    client.max_queued_messages_set(0)
    connected = threading.Event()
    client.on_connect = lambda *_args: connected.set()
    client.connect(host, port, keepalive=60)
    client.loop_start()
    if not connected.wait(CONNECT_TIMEOUT_S):
        raise RuntimeError(f"could not connect to the MQTT broker at {host}:{port}")
    return client


def publish(load: Load, results: Queue[dict[str, Any]]) -> None:
    """Publish `load`, wait for every PUBACK, then put the figures on `results`."""
    client = _connect(f"bench-pub-{uuid.uuid4().hex[:8]}", load.host, load.port, load.window)
    window = threading.Semaphore(load.window)
    client.on_publish = lambda *_args: window.release()
    names = topics(load.topic_root, load.machines)
    cpu_before = time.process_time()
    started = time.time()
    deadline = started + load.seconds if load.seconds is not None else None
    sent = 0
    tick = load.first_tick
    while (load.ticks is None or tick < load.first_tick + load.ticks) and (
        deadline is None or time.time() < deadline
    ):
        values = values_json(tick, load.sensors)
        for topic in names:
            if load.rate is not None:
                wait = started + sent / load.rate - time.time()
                if wait > 0:
                    time.sleep(wait)
            window.acquire()
            payload = f'{{"ts":"{rfc3339(time.time())}","seq":{tick},"values":{values}}}'
            client.publish(topic, payload, qos=1)
            sent += 1
        tick += 1
    published = time.time()
    for _ in range(load.window):  # every PUBACK back: the broker has them all
        if not window.acquire(timeout=60):
            raise RuntimeError("the broker did not acknowledge every message within 60 s")
    acked = time.time()
    client.disconnect()
    client.loop_stop()
    results.put(
        {
            "sent": sent,
            "first_tick": load.first_tick,
            "last_tick": tick - 1,
            "started": started,
            "published": published,
            "acked": acked,
            "cpu_s": time.process_time() - cpu_before,  # all threads, paho's network thread included
        }
    )


def subscribe(
    host: str,
    port: int,
    topic_filter: str,
    ready: Event,
    expected: Queue[int],
    results: Queue[dict[str, Any]],
) -> None:
    """A bare QoS 1 subscriber (paho acknowledges on receipt): counts until it has `expected` messages."""
    lock = threading.Lock()
    counts = {"received": 0}
    times = {"first": 0.0, "last": 0.0}

    def on_message(_client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        now = time.time()
        with lock:
            counts["received"] += 1
            times["last"] = now
            if counts["received"] == 1:
                times["first"] = now

    client = _connect(f"bench-sub-{uuid.uuid4().hex[:8]}", host, port)
    client.on_message = on_message
    client.on_subscribe = lambda *_args: ready.set()
    client.subscribe(topic_filter, qos=1)
    cpu_before = time.process_time()  # before the first message: the publisher starts later
    wanted = expected.get()
    deadline = time.time() + 120
    while time.time() < deadline:
        with lock:
            if counts["received"] >= wanted:
                break
        time.sleep(0.01)
    client.disconnect()
    client.loop_stop()
    with lock:
        results.put({"received": counts["received"], **times, "cpu_s": time.process_time() - cpu_before})
