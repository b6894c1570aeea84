"""The ingestor under test, a child process: started with the benchmark's settings, probed until it
stores readings, sampled with py-spy, stopped."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from bench import ingest_db
from bench.common import REPO
from bench.mqtt_load import rfc3339
from plantwatch.embedded import EmbeddedBroker

log = logging.getLogger("bench.ingest")

TOPIC_ROOT = "plantwatch/v1"
CLIENT_ID = "bench-ingest"


def start_ingestor(
    url: str, mqtt_url: str, work: Path, machines: int, extra_env: dict[str, str]
) -> subprocess.Popen[bytes]:
    """`python -m plantwatch ingest` on the benchmark's database and broker, its log in `work`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANTWATCH_")}
    env.update(
        DATABASE_URL=url,
        MQTT_URL=mqtt_url,
        PLANTWATCH_MQTT_CLIENT_ID=CLIENT_ID,
        PLANTWATCH_VAR_DIR=str(work / "var"),
        PLANTWATCH_INGEST_MAX_NEW_MACHINES_PER_HOUR=str(machines + 10),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    env.update(extra_env)
    log_file = open(work / "ingest.log", "ab")  # noqa: SIM115 - the child keeps it
    # In the temporary folder: a developer's .env in the checkout does not apply.
    return subprocess.Popen(
        [sys.executable, "-m", "plantwatch", "ingest"], env=env, cwd=work, stdout=log_file, stderr=log_file
    )


def wait_for_ingestor(
    conn: psycopg.Connection[Any], broker: EmbeddedBroker, ingestor: subprocess.Popen[bytes], work: Path
) -> None:
    """Publish a probe reading every half second until the ingestor has stored one."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-probe")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    topic = f"{TOPIC_ROOT}/{'/'.join(ingest_db.PROBE)}/telemetry"
    deadline = time.time() + 60
    try:
        while not ingest_db.probe_stored(conn):
            if ingestor.poll() is not None or time.time() > deadline:
                tail = (work / "ingest.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the ingestor did not start storing readings; its log ends:\n{tail}")
            client.publish(topic, f'{{"ts":"{rfc3339(time.time())}","values":{{"s01":1}}}}', qos=1)
            time.sleep(0.5)
    finally:
        client.disconnect()
        client.loop_stop()
    log.info("the ingestor is storing readings")


def profile(pid: int, out: Path, seconds: float) -> subprocess.Popen[bytes]:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    log.info("profiling the ingestor (pid %d) with py-spy into %s", pid, out)
    command = [py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200"]
    # --gil: only the thread holding the GIL is sampled, i.e. where the process's Python time goes.
    options = ["--format", "raw", "--threads", "--gil", "--nonblocking", "--output", str(out)]
    return subprocess.Popen([*command, *options], stdout=sys.stderr)  # stdout is for the result


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
