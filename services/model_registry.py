"""The model registry: register versions, promote by rule or by hand, roll back to the last champion.

One champion per (kind, scope). A candidate replaces the champion automatically only when both were
evaluated on the same machines and the candidate's metric (lower is better) beats the champion's by
more than `margin` (a fraction of the champion's value); otherwise it stays a candidate and the reason
is recorded in `params["promotion"]`. Services never commit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from db.base import utcnow
from db.repositories import models as repo
from db.tables import ModelVersion


class RegistryError(ValueError):
    """A promotion or rollback that cannot be done (unknown version, nothing to roll back to)."""


def clean_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """JSONB refuses NaN and infinities: they become null."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in metrics.items()}


def register_version(
    session: Session,
    *,
    kind: str,
    scope: str,
    metrics: dict[str, Any],
    params: dict[str, Any],
    data_start: datetime | None,
    data_end: datetime | None,
    artifact_path: str | None,
    artifact_sha256: str | None,
    evaluation_machines: Sequence[str] = (),
    code_version: str | None = None,
    duration_s: float | None = None,
    device: str | None = None,
    version: int | None = None,
) -> ModelVersion:
    """Add a candidate version (`version`: one reserved with `reserve_version`, else the next one)."""
    repo.lock_scope(session, kind, scope)
    row = ModelVersion(
        kind=kind,
        scope=scope,
        version=version if version is not None else repo.next_version(session, kind, scope),
        status="candidate",
        metrics=clean_metrics(metrics),
        params={
            **params,
            "evaluation_machines": sorted(evaluation_machines),
            "code_version": code_version,
            "duration_s": duration_s,
            "device": device,
        },
        data_start=data_start,
        data_end=data_end,
        artifact_path=artifact_path,
        artifact_sha256=artifact_sha256,
    )
    session.add(row)
    session.flush()
    return row


def reserve_version(session: Session, kind: str, scope: str) -> int:
    """The next version number, held for this transaction (artifacts are written under it first)."""
    repo.lock_scope(session, kind, scope)
    return repo.next_version(session, kind, scope)


@dataclass(frozen=True)
class SameSetComparison:
    """Candidate and champion `champion_id` scored by the caller on the candidate's evaluation set."""

    champion_id: int
    candidate: float
    champion: float
    size: int  # windows or images compared


def promote_if_better(
    session: Session,
    candidate: ModelVersion,
    metric: str = "rmse",
    margin: float = 0.0,
    comparison: SameSetComparison | None = None,
) -> tuple[bool, str]:
    """Apply the promotion rule to `candidate`; returns (promoted, reason), the reason also recorded.

    With `comparison` (of the current champion), the two figures in it decide; otherwise the metrics
    recorded at training, when both versions were evaluated on the same machines.
    """
    repo.lock_scope(session, candidate.kind, candidate.scope)
    current = repo.champion(session, candidate.kind, candidate.scope)
    if comparison is not None and current is not None and comparison.champion_id == current.id:
        promoted, reason = _decide_same_set(comparison, current, metric, margin)
    else:
        promoted, reason = _decide(candidate, current, metric, margin)
    if promoted:
        _make_champion(session, candidate, current)
    candidate.params = {
        **candidate.params,
        "promotion": {
            "promoted": promoted,
            "reason": reason,
            "metric": metric,
            "margin": margin,
            "champion_id": current.id if current is not None else None,
            "same_set": asdict(comparison) if comparison is not None else None,
        },
    }
    session.flush()
    return promoted, reason


def promote(session: Session, version_id: int) -> ModelVersion:
    """Make a version champion by hand (the current champion is retired)."""
    row = repo.get_version(session, version_id)
    if row is None:
        raise RegistryError(f"no model version {version_id}")
    repo.lock_scope(session, row.kind, row.scope)
    if row.status == "champion":
        return row
    current = repo.champion(session, row.kind, row.scope)
    _make_champion(session, row, current)
    row.params = {k: v for k, v in row.params.items() if k != "rolled_back_at"}
    session.flush()
    return row


def rollback(session: Session, kind: str, scope: str) -> ModelVersion:
    """Retire the champion and bring back the previous one; returns the restored version."""
    repo.lock_scope(session, kind, scope)
    current = repo.champion(session, kind, scope)
    if current is None:
        raise RegistryError(f"no champion for {kind} {scope!r} to roll back")
    previous = repo.previous_champion(session, kind, scope, before_id=current.id)
    if previous is None:
        raise RegistryError(f"{kind} {scope!r} has no earlier champion to roll back to")
    now = utcnow()
    current.status = "retired"
    # Marked so that a second rollback goes further back instead of returning to this version.
    current.params = {**current.params, "rolled_back_at": now.isoformat()}
    session.flush()
    previous.status = "champion"
    previous.promoted_at = now
    session.flush()
    return previous


def list_versions(
    session: Session,
    kind: str | None = None,
    scope: str | None = None,
    limit: int = 100,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Sequence[ModelVersion]:
    return repo.list_versions(session, kind, scope, limit, since, until)


def _decide_same_set(
    comparison: SameSetComparison, current: ModelVersion, metric: str, margin: float
) -> tuple[bool, str]:
    if not (math.isfinite(comparison.candidate) and math.isfinite(comparison.champion)):
        return False, f"{metric} could not be computed for both versions on the same evaluation set"
    needed = comparison.champion * (1 - margin)
    where = f"on the same {comparison.size} evaluation examples"
    if comparison.candidate < needed:
        return True, (
            f"{metric} {comparison.candidate:.4g} beats champion v{current.version}'s "
            f"{comparison.champion:.4g} {where} (margin {margin:g})"
        )
    return False, (
        f"{metric} {comparison.candidate:.4g} does not beat champion v{current.version}'s "
        f"{comparison.champion:.4g} {where} by the margin {margin:g} (needs < {needed:.4g})"
    )


def _decide(
    candidate: ModelVersion, current: ModelVersion | None, metric: str, margin: float
) -> tuple[bool, str]:
    if current is None:
        return True, "no champion yet"
    value = candidate.metrics.get(metric)
    if not isinstance(value, int | float):
        return False, f"the candidate has no {metric}"
    best = current.metrics.get(metric)
    if not isinstance(best, int | float):
        return True, f"champion v{current.version} has no {metric}"
    ours = candidate.params.get("evaluation_machines")
    theirs = current.params.get("evaluation_machines")
    if not ours or ours != theirs:
        return False, (
            f"evaluated on other machines than champion v{current.version}; "
            "the metrics are not comparable (promote by hand if wanted)"
        )
    needed = best * (1 - margin)
    if value < needed:
        return (
            True,
            f"{metric} {value:.4g} beats champion v{current.version}'s {best:.4g} (margin {margin:g})",
        )
    return False, (
        f"{metric} {value:.4g} does not beat champion v{current.version}'s {best:.4g} "
        f"by the margin {margin:g} (needs < {needed:.4g})"
    )


def _make_champion(session: Session, row: ModelVersion, current: ModelVersion | None) -> None:
    if current is not None and current.id != row.id:
        current.status = "retired"
        session.flush()  # one champion at a time, should a unique index ever enforce it
    row.status = "champion"
    row.promoted_at = utcnow()
