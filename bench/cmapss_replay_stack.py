"""The product stack that bench.cmapss_replay replays C-MAPSS engines through, as real processes.

In a temporary folder: an embedded PostgreSQL (migrated), an MQTT broker on a free port (Mosquitto from
PATH with plantwatch's configuration, else amqtt), `plantwatch ingest`, `plantwatch api` (the simulator
posts each engine's failure event there, with a `mes` key), then `plantwatch simulate --replay-cmapss`
until the replay ends. `replay` waits until every row of the file and every failure event is in the
database. `close` stops the processes, the broker and the database, and removes the folder.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bench import ingestor as ingestor_proc
from bench.common import REPO
from db.engine import make_engine, make_session_factory, transaction
from db.migrate import upgrade
from db.tables import DeadLetter, Machine, MachineEvent, Reading
from plantwatch.embedded import EmbeddedBroker, EmbeddedPostgres, free_port, wait_for_port
from services.api_keys import create_key

log = logging.getLogger("bench.cmapss_replay")

REPLAY_PREFIX = "cmapss/"  # plantwatch.simulator names a replayed engine cmapss/<line>/engine-NNN
START_TIMEOUT_S = 90.0
REPLAY_TIMEOUT_S = 900.0
DRAIN_TIMEOUT_S = 300.0


class ReplayStack:
    """PostgreSQL, broker, ingestor and API started in `work`; `sessions` opens the database."""

    def __init__(self) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="plantwatch-bench-cmapss-replay-"))
        self.work.chmod(0o755)  # the embedded PostgreSQL runs as its own user when we are root
        self.database = EmbeddedPostgres(self.work / "pg")
        self.broker = EmbeddedBroker(self.work / "broker", free_port())
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.url = ""
        self.api_url = ""
        self.engine: Any = None
        self.sessions: sessionmaker[Session] | None = None

    def start(self) -> None:
        self.url = self.database.start()
        upgrade(self.url)
        self.engine = make_engine(self.url, pool_size=2)
        self.sessions = make_session_factory(self.engine)
        self.broker.start()
        log.info("PostgreSQL in %s, %s broker at %s", self.work, self.broker.kind, self.broker.url)
        # amqtt speaks MQTT 3.1.1 only: spare the ingestor its MQTT 5 attempt.
        protocol = {"PLANTWATCH_MQTT_PROTOCOL": "3.1.1"} if self.broker.kind == "amqtt" else {}
        self.processes["ingest"] = ingestor_proc.start_ingestor(
            self.url, self.broker.url, self.work, 1000, protocol
        )
        api_port = free_port()
        self.api_url = f"http://127.0.0.1:{api_port}"
        self.processes["api"] = self._component("api", ["--port", str(api_port)], {})
        self._wait_for_log("ingest", "subscribed to ")
        if not wait_for_port(api_port, START_TIMEOUT_S) or not self._healthy():
            raise RuntimeError(f"the API did not answer; see {self.work / 'api.log'}")

    def replay(self, train_path: Path, rows: int, engines: int, interval_s: float) -> dict[str, Any]:
        """Replay `train_path` through the simulator; figures once rows and failures are all stored."""
        with transaction(self.session_factory()) as session:
            key = create_key(session, "bench-simulator", "mes")[1]
        env = {"PLANTWATCH_API_URL": self.api_url, "PLANTWATCH_API_KEY": key}
        args = ["--replay-cmapss", str(train_path.resolve()), "--interval", str(interval_s)]
        started = time.perf_counter()
        simulator = self.processes["simulate"] = self._component("simulate", args, env)
        try:
            code = simulator.wait(REPLAY_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"the replay took over {REPLAY_TIMEOUT_S:.0f} s") from None
        if code != 0:
            raise RuntimeError(f"the simulator exited with {code}; see {self.work / 'simulate.log'}")
        simulate_s = time.perf_counter() - started
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while (counts := self.counts())["rows"] < rows:
            if time.monotonic() > deadline:
                raise RuntimeError(f"not every reading was stored within {DRAIN_TIMEOUT_S:.0f} s: {counts}")
            time.sleep(0.25)
        ingest_s = time.perf_counter() - started
        # The simulator posts the events itself before it exits; one it could not post is dropped.
        if counts["failures"] < engines:
            dropped = [line for line in self._log("simulate").splitlines() if "could not post" in line]
            raise RuntimeError(
                f"{engines - counts['failures']} failure events are missing (a slower --interval lets "
                "ingest register each engine before its failure is posted); the simulator said:\n"
                + "\n".join(dropped[:5])
            )
        return {**counts, "simulate_seconds": round(simulate_s, 2), "ingest_seconds": round(ingest_s, 2)}

    def counts(self) -> dict[str, int]:
        """Readings and failure events of the replayed engines in the database, and dead letters."""
        replayed = Machine.path.startswith(REPLAY_PREFIX)
        with self.session_factory()() as session:
            rows = session.scalar(
                select(func.count()).select_from(Reading).join(Machine, Machine.id == Reading.machine_id)
                .where(replayed)
            )  # fmt: skip
            failures = session.scalar(
                select(func.count()).select_from(MachineEvent)
                .join(Machine, Machine.id == MachineEvent.machine_id)
                .where(replayed, MachineEvent.kind == "failure")
            )  # fmt: skip
            machines = session.scalar(select(func.count()).select_from(Machine).where(replayed))
            dead = session.scalar(select(func.count()).select_from(DeadLetter))
        return {
            "rows": rows or 0,
            "failures": failures or 0,
            "machines": machines or 0,
            "dead_letters": dead or 0,
        }

    def stop_processes(self) -> None:
        """Stop the simulator, API and ingestor (training needs only the database)."""
        for name in ("simulate", "api", "ingest"):
            process = self.processes.pop(name, None)
            if process is not None and process.poll() is None:
                ingestor_proc.stop(process)

    def close(self, keep: bool = False) -> None:
        """Stop everything; remove the folder unless `keep` (logs, database, model artifacts)."""
        self.stop_processes()
        if self.engine is not None:
            self.engine.dispose()
        self.database.stop()
        self.broker.stop()
        if keep:
            log.info("kept %s", self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    def session_factory(self) -> sessionmaker[Session]:
        if self.sessions is None:
            raise RuntimeError("the stack is not started")
        return self.sessions

    def _component(self, name: str, args: list[str], extra: dict[str, str]) -> subprocess.Popen[bytes]:
        """`python -m plantwatch <name> <args>` on this stack, in `work` (no developer .env applies)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLANTWATCH_")}
        env.update(
            DATABASE_URL=self.url,
            MQTT_URL=self.broker.url,
            PLANTWATCH_VAR_DIR=str(self.work / "var"),
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            **extra,
        )
        log_file = open(self.work / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        command = [sys.executable, "-m", "plantwatch", name, *args]
        return subprocess.Popen(command, env=env, cwd=self.work, stdout=log_file, stderr=log_file)

    def _wait_for_log(self, name: str, text: str) -> None:
        """Until the component's log says `text` (the ingestor's broker session exists once subscribed)."""
        process = self.processes[name]
        deadline = time.monotonic() + START_TIMEOUT_S
        while text not in self._log(name):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start; its log ends:\n{self._log(name)[-3000:]}")
            time.sleep(0.2)

    def _log(self, name: str) -> str:
        path = self.work / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _healthy(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.api_url}/healthz", timeout=2).is_success:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        return False
