"""p-chart quality statistics and the quality alert of a line, on a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories.assets import register_machine
from db.tables import Alert, Inspection
from jobs.quality_check import quality_check
from plantwatch.settings import Settings
from services.alert_rules import Thresholds, set_override
from services.quality import p_chart

T0 = datetime(2026, 5, 4, tzinfo=UTC)
HOUR = 3600


def _inspections(
    session: Session, line_id: int, hour: int, total: int, defects: int, station: str = "cam"
) -> None:
    """`total` inspections in hour `hour` after T0, `defects` of them classed as a defect."""
    for i in range(total):
        label = "scratch" if i < defects else "ok"
        session.add(
            Inspection(
                line_id=line_id,
                station=station,
                taken_at=T0 + timedelta(hours=hour, seconds=i),
                image_path=f"x/{line_id}/{station}/{hour}/{i}",
                image_sha256=f"{line_id:04d}{hour:06d}{i:06d}{station}".ljust(64, "0")[:64],
                content_type="image/png",
                size_bytes=1,
                # Half of them labelled by a person, half only by the classifier: both count.
                known_label=label if i % 2 else None,
                predicted_label=None if i % 2 else label,
            )
        )
    session.flush()


@pytest.fixture
def line_id(session_factory: sessionmaker[Session]) -> int:
    with transaction(session_factory) as session:
        line = register_machine(session, "plant", "press-line", "m1").line_id
        for hour in range(10):
            _inspections(session, line, hour, total=100, defects=5)  # a steady 5 %
        _inspections(session, line, 10, total=100, defects=20)  # then 20 %
        _inspections(session, line, 11, total=100, defects=6)
        # Unclassified and unlabelled: not counted.
        session.add(
            Inspection(line_id=line, station="cam", taken_at=T0 + timedelta(hours=11, minutes=30),
                       image_path="x/none", image_sha256="f" * 64, content_type="image/png", size_bytes=1)
        )  # fmt: skip
        return line


def test_p_chart_limits_come_from_the_samples_before(
    session_factory: sessionmaker[Session], line_id: int
) -> None:
    with transaction(session_factory) as session:
        samples = p_chart(session, line_id, None, T0, T0 + timedelta(hours=12), bucket_s=HOUR, baseline=10,
                          good_labels=["ok"])  # fmt: skip
    assert [s.inspected for s in samples] == [100] * 12
    assert samples[0].center is None and not samples[0].out_of_control  # no history yet
    tenth = samples[10]
    assert tenth.center == pytest.approx(0.05) and tenth.rate == 0.2
    assert tenth.upper == pytest.approx(0.05 + 3 * (0.05 * 0.95 / 100) ** 0.5)
    assert tenth.out_of_control
    assert not samples[11].out_of_control and samples[11].center == pytest.approx((9 * 5 + 20) / 1000)
    assert all(not s.out_of_control for s in samples[:10])


def test_an_out_of_control_sample_raises_one_line_alert_resolved_when_back_in_control(
    session_factory: sessionmaker[Session], settings: Settings, line_id: int
) -> None:
    hourly = settings.model_copy(
        update={"quality_bucket_s": HOUR, "quality_baseline_buckets": 10, "qc_good_labels": ["ok"]}
    )
    with transaction(session_factory) as session:
        figures = quality_check(session, hourly, T0 + timedelta(hours=11, minutes=1))
        assert figures["lines_out_of_control"] == 1 and figures["stations"] == 1
        alert = session.scalars(select(Alert)).one()
        assert alert.line_id == line_id and alert.machine_id is None and alert.rule == "quality"
        assert alert.state == "open" and "cam: 20 of 100 defective (20.0%" in alert.message
    with transaction(session_factory) as session:
        figures = quality_check(session, hourly, T0 + timedelta(hours=12, minutes=1))
        assert figures["lines_out_of_control"] == 0 and figures["resolved"] == 1
        assert session.scalars(select(Alert)).one().state == "resolved"


def test_the_quality_rule_can_be_switched_off_for_a_line(
    session_factory: sessionmaker[Session], settings: Settings, line_id: int
) -> None:
    hourly = settings.model_copy(
        update={"quality_bucket_s": HOUR, "quality_baseline_buckets": 10, "qc_good_labels": ["ok"]}
    )
    with transaction(session_factory) as session:
        quality_check(session, hourly, T0 + timedelta(hours=11, minutes=1))
        set_override(
            session, "quality", line_id, None, Thresholds(False, None, None, 0, 0, "test"), "eve", T0
        )
    with transaction(session_factory) as session:
        figures = quality_check(session, hourly, T0 + timedelta(hours=11, minutes=2))
        assert figures["lines_out_of_control"] == 0 and figures["resolved"] == 1
        assert session.scalars(select(Alert)).one().state == "resolved"
