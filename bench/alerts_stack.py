"""The product stack of bench.alerts: bench.cmapss_replay's, plus `plantwatch scheduler` and a running fleet.

`AlertStack` adds to `ReplayStack` (embedded PostgreSQL, broker, `plantwatch ingest`, `plantwatch api`,
the C-MAPSS replay) the real scheduler process on the compressed clock (`clock_env`), the simulator's
own fleet run for a while, and the bench's side of the run: retiring the training machines, waiting
for the scheduler's first scoring and for ingest to drain.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bench import ingestor as ingestor_proc
from bench.alerts_db import reading_count, retire
from bench.cmapss_replay_model import train_through_job
from bench.cmapss_replay_stack import ReplayStack
from db.engine import transaction
from db.tables import JobRun
from models.config import RulConfig
from plantwatch.settings import Settings
from services.api_keys import create_key

log = logging.getLogger("bench.alerts")

START_TIMEOUT_S = 180.0
DRAIN_QUIET_S = 3.0
DRAIN_TIMEOUT_S = 300.0


def clock_env(pace_s: float, score_interval_s: int, min_duration_cycles: float) -> dict[str, str]:
    """The scheduler's settings on a clock where one cycle lasts `pace_s` seconds.

    Scoring every `score_interval_s` (the settings' lowest is 10 s), the alert rules every second,
    so each new prediction is judged within a second; the rules' minimum duration in cycles; a
    machine is stale after three scoring periods, as with the defaults (900 s = 3 x 300 s). The
    nightly trainings are moved 12 hours away so that none starts during a run.
    """
    far = (datetime.now(UTC).hour + 12) % 24
    return {
        "PLANTWATCH_SCORE_INTERVAL_S": str(score_interval_s),
        "PLANTWATCH_ALERT_INTERVAL_S": "1",
        "PLANTWATCH_ALERT_MIN_DURATION_S": str(round(min_duration_cycles * pace_s)),
        "PLANTWATCH_SCORE_STALE_AFTER_S": str(3 * score_interval_s),
        "PLANTWATCH_NOTIFY_INTERVAL_S": "1",
        "PLANTWATCH_RUL_TRAIN_HOUR_UTC": str(far),
        "PLANTWATCH_QC_TRAIN_HOUR_UTC": str(far),
    }


class AlertStack(ReplayStack):
    def retire(self, prefix: str) -> int:
        with transaction(self.session_factory()) as session:
            return retire(session, prefix, datetime.now(UTC))

    def start_scheduler(self, env: dict[str, str]) -> datetime:
        """Start `plantwatch scheduler`; returns once it has run `score_machines` (its start time)."""
        started = datetime.now(UTC)
        process = self.processes["scheduler"] = self._component("scheduler", [], env)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._scored_since(started):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the scheduler did not score; its log ends:\n{self._log('scheduler')[-3000:]}"
                )
            time.sleep(0.5)
        log.info("the scheduler is scoring")
        return started

    def _scored_since(self, since: datetime) -> bool:
        with self.session_factory()() as session:
            found = session.scalar(
                select(JobRun.id)
                .where(
                    JobRun.job_name == "score_machines",
                    JobRun.status == "succeeded",
                    JobRun.started_at >= since,
                )
                .limit(1)
            )
        return found is not None

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None and process.poll() is None:
            ingestor_proc.stop(process)

    def run_fleet(self, args: list[str], seconds: float, prefix: str, seed: int) -> dict[str, float]:
        """`plantwatch simulate <args>` (the simulator's own fleet) for `seconds`, until stored."""
        with transaction(self.session_factory()) as session:
            key = create_key(session, f"bench-fleet-{time.time_ns()}", "mes")[1]
        env = {
            "PLANTWATCH_API_URL": self.api_url,
            "PLANTWATCH_API_KEY": key,
            "PLANTWATCH_SIMULATE_SEED": str(seed),
        }
        started = time.perf_counter()
        process = self.processes["simulate"] = self._component("simulate", args, env)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"the simulator exited with {process.returncode}; see {self.work / 'simulate.log'}"
                )
            time.sleep(0.5)
        self.stop("simulate")  # it posts the events it still holds before it exits
        simulate_s = time.perf_counter() - started
        if "could not post" in self._log("simulate"):
            raise RuntimeError(f"the simulator dropped events; see {self.work / 'simulate.log'}")
        rows = self.drain(prefix)
        return {"simulate_seconds": round(simulate_s, 1), "rows": rows}

    def drain(self, prefix: str) -> int:
        """Wait until the readings under `prefix` stop growing (ingest has caught up); their count."""
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        with self.session_factory()() as session:
            rows, quiet_since = reading_count(session, prefix), time.monotonic()
        while time.monotonic() - quiet_since < DRAIN_QUIET_S:
            if time.monotonic() > deadline:
                raise RuntimeError(f"ingest did not catch up within {DRAIN_TIMEOUT_S:.0f} s")
            time.sleep(0.5)
            with self.session_factory()() as session:
                now_rows = reading_count(session, prefix)
            if now_rows != rows:
                rows, quiet_since = now_rows, time.monotonic()
        return rows

    def train(self, config: RulConfig) -> dict[str, Any]:
        """Train the RUL model on what is stored, through the job (the champion of scope default)."""
        settings = Settings(database_url=self.url, var_dir=self.work / "var", rul_resample_s=0)
        log.info("training through jobs.train_rul.train_scope")
        with transaction(self.session_factory()) as session:
            job = train_through_job(session, settings, config)
        if job["status"] != "champion":
            raise RuntimeError(f"the trained model is not the champion: {job}")
        keep = ("version", "status", "runs", "failed_runs", "train_seconds", "job_seconds", "epochs_run")
        return {**{key: job[key] for key in keep}, "validation_rmse": job["validation"].get("rmse")}

    def close(self, keep: bool = False) -> None:
        self.stop("scheduler")
        super().close(keep)
