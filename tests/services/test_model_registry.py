"""The model registry on the real database: versions, the promotion rule, manual promote and rollback."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.tables import ModelVersion
from services import model_registry as registry

MACHINES = ["s/l/m1", "s/l/m2"]


def _register(
    session: Session, rmse: float | None, machines: list[str] = MACHINES, scope: str = "pump"
) -> ModelVersion:
    metrics: dict[str, Any] = {"rmse": rmse if rmse is not None else float("nan"), "coverage": 0.9}
    return registry.register_version(
        session,
        kind="rul",
        scope=scope,
        metrics=metrics,
        params={"epochs": 1},
        data_start=None,
        data_end=None,
        artifact_path="/tmp/x",
        artifact_sha256="0" * 64,
        evaluation_machines=machines,
        code_version="1.0+abc",
        duration_s=1.5,
        device="torch/cpu:0",
    )


def _status(session: Session, *rows: ModelVersion) -> list[str]:
    for row in rows:
        session.refresh(row)
    return [row.status for row in rows]


def test_versions_count_up_per_scope_and_record_how_they_were_made(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        first, second = _register(session, 10.0), _register(session, 9.0)
        other = _register(session, 9.0, scope="press")
        assert (first.version, second.version, other.version) == (1, 2, 1)
        assert second.params["code_version"] == "1.0+abc"
        assert second.params["evaluation_machines"] == MACHINES
        assert second.params["device"] == "torch/cpu:0"
        assert second.status == "candidate"
        nan_row = _register(session, None)
        session.refresh(nan_row)
        assert nan_row.metrics["rmse"] is None  # NaN stored as null, not refused by JSONB


def test_first_candidate_becomes_champion_and_only_a_better_one_replaces_it(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        first = _register(session, 10.0)
        assert registry.promote_if_better(session, first) == (True, "no champion yet")
        worse = _register(session, 10.5)
        promoted, reason = registry.promote_if_better(session, worse)
        assert not promoted and "does not beat" in reason
        assert worse.params["promotion"]["reason"] == reason
        within_margin = _register(session, 9.8)
        assert not registry.promote_if_better(session, within_margin, margin=0.05)[0]
        better = _register(session, 9.0)
        assert registry.promote_if_better(session, better, margin=0.05)[0]
        assert _status(session, first, worse, within_margin, better) == [
            "retired",
            "candidate",
            "candidate",
            "champion",
        ]
        assert better.promoted_at is not None


def test_a_candidate_evaluated_on_other_machines_is_not_promoted_automatically(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        champion = _register(session, 10.0)
        registry.promote_if_better(session, champion)
        other = _register(session, 1.0, machines=["s/l/m3"])
        promoted, reason = registry.promote_if_better(session, other)
        assert not promoted and "other machines" in reason
        registry.promote(session, other.id)  # by hand it can be
        assert _status(session, champion, other) == ["retired", "champion"]


def test_rollback_brings_back_the_previous_champion_and_goes_further_back_when_repeated(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        v1, v2, v3 = _register(session, 10.0), _register(session, 9.0), _register(session, 8.0)
        for row in (v1, v2, v3):
            assert registry.promote_if_better(session, row)[0]
        assert registry.rollback(session, "rul", "pump").id == v2.id
        assert _status(session, v1, v2, v3) == ["retired", "champion", "retired"]
        assert registry.rollback(session, "rul", "pump").id == v1.id
        assert _status(session, v1, v2, v3) == ["champion", "retired", "retired"]
        with pytest.raises(registry.RegistryError, match="no earlier champion"):
            registry.rollback(session, "rul", "pump")
        with pytest.raises(registry.RegistryError, match="no champion"):
            registry.rollback(session, "rul", "press")
        with pytest.raises(registry.RegistryError, match="no model version"):
            registry.promote(session, 999_999)
        assert [r.version for r in registry.list_versions(session, "rul", "pump")] == [3, 2, 1]
