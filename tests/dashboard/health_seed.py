"""Predictions and alerts on top of the dashboard tests' seed (tests/dashboard/conftest.py), shared by
the Fleet and Machine page tests.

m1 is critical (RUL 12, interval 8-18, three predictions in the last hour and one 3 days ago, with
drivers), m2 warning (failure probability 0.6), p1 ok (RUL 150), a1 withheld. m1 has two active
alerts (one acknowledged) and one resolved a day ago; p1 one open alert; m2 one resolved 2 days ago.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.tables import Prediction
from services import alerts
from tests.dashboard.conftest import Seed

WITHHELD = "too few readings: 3 of 30 in the window"
DRIVERS = [{"sensor": "temperature", "score": 9.5}, {"sensor": "vibration", "score": 2.25}]


@dataclass
class HealthSeed:
    alert_ids: dict[str, int]


def seed_health(seed: Seed, session_factory: sessionmaker[Session]) -> HealthSeed:
    m1, m2 = seed.ids["plant-a/press/m1"], seed.ids["plant-a/press/m2"]
    p1, a1 = seed.ids["plant-a/paint/p1"], seed.ids["plant-b/assembly/a1"]
    now = seed.now
    with transaction(session_factory) as session:
        history = [(timedelta(days=3), 90.0), (timedelta(minutes=50), 30.0), (timedelta(minutes=30), 20.0),
                   (timedelta(minutes=10), 12.0)]  # fmt: skip
        session.add_all(
            Prediction(
                machine_id=m1,
                made_at=now - ago,
                rul=rul,
                rul_low=rul - 4,
                rul_high=rul + 6,
                failure_probability=0.3,
                health_score=55.0,
                status="ok",
                detail={"top_sensors": DRIVERS, "reasons": [], "coverage": 0.9, "horizon": 30.0},
            )
            for ago, rul in history
        )
        session.add_all(
            [
                Prediction(
                    machine_id=m2,
                    made_at=now - timedelta(minutes=5),
                    rul=80.0,
                    rul_low=60.0,
                    rul_high=95.0,
                    failure_probability=0.6,
                    status="ok",
                    detail={},
                ),
                Prediction(
                    machine_id=p1,
                    made_at=now - timedelta(minutes=5),
                    rul=150.0,
                    rul_low=130.0,
                    rul_high=170.0,
                    failure_probability=0.05,
                    status="ok",
                    detail={},
                ),
                Prediction(
                    machine_id=a1,
                    made_at=now - timedelta(minutes=5),
                    status="withheld",
                    detail={"reasons": [WITHHELD]},
                ),
            ]
        )
        low = alerts.raise_or_update(session, m1, "rul_low", "critical", "predicted RUL 12", now)
        stuck = alerts.raise_or_update(
            session, m1, "sensor_stuck", "warning", "stuck: vibration", now - timedelta(minutes=40)
        )
        alerts.acknowledge(session, stuck, "dash-engineer", "looking", now - timedelta(minutes=35))
        old = alerts.raise_or_update(
            session, m1, "silent", "warning", "quiet", now - timedelta(days=1, hours=2)
        )
        alerts.resolve(session, old, "system", now - timedelta(days=1))
        humid = alerts.raise_or_update(session, p1, "sensor_stuck", "warning", "stuck: humidity", now)
        gone = alerts.raise_or_update(
            session, m2, "silent", "warning", "quiet", now - timedelta(days=2, hours=1)
        )
        alerts.resolve(session, gone, "system", now - timedelta(days=2))
        ids = {"low": low.id, "stuck": stuck.id, "old": old.id, "humid": humid.id, "gone": gone.id}
    return HealthSeed(alert_ids=ids)
