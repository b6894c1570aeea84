"""The evaluation phase of bench.alerts, shared by the C-MAPSS and the simulated-fleet runs.

With the model trained and the training machines retired: start the notification sink and the real
`plantwatch scheduler` on the compressed clock, feed the evaluation machines (a replay, or the fleet
for a while), give the scheduler two more scoring periods to judge the last readings and the
notification job time to deliver, stop the scheduler, then read everything back and compute the
figures (bench.alerts_figures) for the alert engine and for the fixed-age baseline.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench.alerts_db import alert_events, job_runs, notification_counts, timelines
from bench.alerts_figures import Life, counted, figures, lives_of, prediction_error, with_age_alerts
from bench.alerts_notify import NotificationSink, notify_job_present
from bench.alerts_stack import AlertStack, clock_env
from bench.common import machine
from plantwatch.settings import Settings

log = logging.getLogger("bench.alerts")

TARGETS = {"recall": 0.95, "false_alarm_rate": 0.1, "duplicate_notifications": 0}
NOTIFY_QUIET_S = 5.0
NOTIFY_WAIT_S = 60.0


def evaluation_phase(
    stack: AlertStack,
    args: argparse.Namespace,
    feed: Callable[[], dict[str, Any]],
    prefix: str,
    new_at_start: bool,
    window: int,
    age: int,
) -> dict[str, Any]:
    """Run the scheduler while `feed` feeds the machines under `prefix`; the figures of the result."""
    defaults = Settings.model_construct()
    present = notify_job_present(defaults)
    sink = NotificationSink(stack.broker.port, defaults.mqtt_topic_root)
    env = {**clock_env(args.pace, args.score_interval_s, args.min_duration_cycles), **sink.route_env()}
    try:
        started = stack.start_scheduler(env)
        fed = feed()
        log.info("fed: %s; two more scoring periods for the last readings", fed)
        time.sleep(2 * args.score_interval_s + 2)
        if present:
            _wait_quiet(sink)
    finally:
        stack.stop("scheduler")
        sink.close()
    with stack.session_factory()() as session:
        lines = timelines(session, prefix, new_at_start)
        runs, events = job_runs(session, started), alert_events(session)
        sent = notification_counts(session)
    lives = counted([life for line in lines for life in lives_of(line)], window + args.horizon)
    return {
        **figures(lives, args.lead, args.horizon),
        **sink.figures(present, sent),
        "baseline": {"age": age, **figures(with_age_alerts(lives, age), args.lead, args.horizon)},
        "prediction_error_within_h": prediction_error(lives, args.horizon),
        "first_alert_leads": _leads(lives),
        "machines": len(lines),
        "lives_counted": len(lives),
        "lives_not_counted": sum(len(lives_of(line)) for line in lines) - len(lives),
        "fed": fed,
        "alert_events": events,
        "scheduler_runs": {
            k: v for k, v in runs.items() if k in ("score_machines", "evaluate_alerts", "notify_alerts")
        },
    }


def _wait_quiet(sink: NotificationSink) -> None:
    """Until no notification has arrived for NOTIFY_QUIET_S (NOTIFY_WAIT_S at most)."""
    deadline = time.monotonic() + NOTIFY_WAIT_S
    seen, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - quiet_since < NOTIFY_QUIET_S:
        count = sink.webhook.received + sink.mqtt.received
        if count != seen:
            seen, quiet_since = count, time.monotonic()
        time.sleep(0.5)


def _leads(lives: list[Life]) -> list[tuple[str, int, int | None]]:
    """(machine, cycles, lead of its first alert or None) of each failed life."""
    return [
        (life.machine.split("/", 1)[-1], life.cycles, life.end - min(life.alerts) if life.alerts else None)
        for life in lives
        if life.failed
    ]


def summarise(
    mode: str,
    args: argparse.Namespace,
    measured: dict[str, Any],
    extra: dict[str, Any],
    began: float,
    load: float,
) -> dict[str, Any]:
    """The result line: the headline figures and targets first, then how they came about."""
    met = {
        "recall": measured["recall"] is not None and measured["recall"] >= TARGETS["recall"],
        "median_lead": measured["median_lead"] is not None and measured["median_lead"] >= args.lead,
        "false_alarm_rate": measured["false_alarm_rate"] is not None
        and measured["false_alarm_rate"] <= TARGETS["false_alarm_rate"],
        "duplicate_notifications": None
        if measured["duplicate_notifications"] is None
        else measured["duplicate_notifications"] == 0,
    }
    head = ("recall", "median_lead", "p10_lead", "false_alarm_rate", "duplicate_notifications")
    return {
        "benchmark": "alerts",
        "mode": mode,
        **{key: measured[key] for key in head},
        "targets_met": met,
        "lead_l": args.lead,
        "horizon_h": args.horizon,
        **{key: value for key, value in measured.items() if key not in head},
        "clock": {
            "pace_s_per_cycle": args.pace,
            "score_interval_s": args.score_interval_s,
            "cycles_per_scoring": round(args.score_interval_s / args.pace, 2),
            "alert_interval_s": 1,
            "alert_min_duration_cycles": args.min_duration_cycles,
        },
        "thresholds": _thresholds(),
        **extra,
        "seconds_total": round(time.time() - began, 1),
        "load_avg_1m_before": round(load, 2),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _thresholds() -> str:
    s = Settings.model_construct()
    return (
        f"settings defaults: rul_low warning {s.alert_rul_warning:g} / critical {s.alert_rul_critical:g} / "
        f"hysteresis {s.alert_rul_hysteresis:g} cycles; failure_probability_high "
        f"{s.alert_failure_probability_warning:g} / {s.alert_failure_probability_critical:g} / "
        f"{s.alert_failure_probability_hysteresis:g}"
    )
