"""Backtests on a small plant with a tiny trained model: verdicts follow the thresholds, nothing written."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.tables import Alert, Prediction
from jobs.backtest import run_backtest
from jobs.train_rul import train_scope
from plantwatch.settings import Settings
from services.alert_rules import default_thresholds
from tests.jobs.plant import RUN, T0, add_machine, tiny_settings

EVENTS = ["failure", "maintenance", "failure"]
END = T0 + timedelta(minutes=3 * RUN + 6)


def _backtest(factory: sessionmaker[Session], settings: Settings, warning: float) -> dict:
    rul = replace(default_thresholds("rul_low", settings), warning=warning, critical=None, min_duration_s=0)
    with factory() as session:
        result = run_backtest(
            session, settings, "pump", T0, END, {"rul_low": rul}, step=timedelta(minutes=1),
            lead=timedelta(minutes=5), horizon=timedelta(minutes=30),
        )  # fmt: skip
        session.rollback()
    return result.figures(failure_cost=1000, false_alarm_cost=10) | {
        "verdicts": [a["verdict"] for a in result.alerts]
    }


def test_verdicts_follow_the_thresholds_and_nothing_is_written(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    tiny = tiny_settings(settings).model_copy(update={"score_stale_after_s": 3600})
    with transaction(session_factory) as session:
        for i in range(4):
            add_machine(session, f"pump{i}", "pump", EVENTS)
        assert train_scope(session, tiny, "pump")["status"] == "champion"
    never = _backtest(session_factory, tiny, warning=-1)
    # Each pump fails at minutes 23.5 and 71.5: 8 failures, none foreseen.
    assert (never["failures"], never["alerts"], never["missed"], never["cost"]) == (8, 0, 8, 8000)

    always = _backtest(session_factory, tiny, warning=1e9)
    # One alert per pump as soon as it has a window (minute 3), never resolved: in time for the first
    # failure, opened too long before the second (more than the 30-minute horizon) to count for it.
    assert (always["alerts"], always["caught"], always["missed"], always["false_alarms"]) == (4, 4, 4, 0), (
        always
    )
    assert set(always["verdicts"]) == {"in time"} and always["cost"] == 4000
    with transaction(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Prediction)) == 0
        assert session.scalar(select(func.count()).select_from(Alert)) == 0
