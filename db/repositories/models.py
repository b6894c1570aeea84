"""Queries on registered model versions (`model_versions`): next version, champion, listing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, select, text, tuple_
from sqlalchemy.orm import Session, defer

from db.tables import ModelVersion


def lock_scope(session: Session, kind: str, scope: str) -> None:
    """Serialise registrations and promotions of one (kind, scope) until the transaction ends."""
    session.execute(text("SELECT pg_advisory_xact_lock(7303, hashtext(:k))"), {"k": f"{kind}/{scope}"})


def next_version(session: Session, kind: str, scope: str) -> int:
    latest = session.scalar(
        select(func.max(ModelVersion.version)).where(ModelVersion.kind == kind, ModelVersion.scope == scope)
    )
    return int(latest or 0) + 1


def get_version(session: Session, version_id: int) -> ModelVersion | None:
    return session.get(ModelVersion, version_id)


_CHAMPION = select(ModelVersion).where(
    ModelVersion.kind == bindparam("kind"),
    ModelVersion.scope == bindparam("scope"),
    ModelVersion.status == "champion",
)
# Scoring needs the version and its artifacts, not the metrics and parameters (JSON, decoded per row):
# POST /predict/rul looks the champion up on every request.
_CHAMPION_TO_SERVE = _CHAMPION.options(defer(ModelVersion.metrics), defer(ModelVersion.params))


def champion(session: Session, kind: str, scope: str, *, to_serve: bool = False) -> ModelVersion | None:
    """The champion of (kind, scope); `to_serve`: its metrics and params left unread until asked for."""
    statement = _CHAMPION_TO_SERVE if to_serve else _CHAMPION
    return session.scalar(statement, {"kind": kind, "scope": scope})


def champion_scopes(session: Session, kind: str) -> list[str]:
    """Scopes of `kind` that have a champion."""
    query = select(ModelVersion.scope).where(ModelVersion.kind == kind, ModelVersion.status == "champion")
    return sorted(session.scalars(query).all())


def previous_champion(session: Session, kind: str, scope: str, before_id: int) -> ModelVersion | None:
    """The retired, not rolled-back version of the scope promoted most recently (not `before_id`)."""
    return session.scalar(
        select(ModelVersion)
        .where(
            ModelVersion.kind == kind,
            ModelVersion.scope == scope,
            ModelVersion.status == "retired",
            ModelVersion.promoted_at.is_not(None),
            ModelVersion.id != before_id,
            ~ModelVersion.params.has_key("rolled_back_at"),
        )
        .order_by(ModelVersion.promoted_at.desc(), ModelVersion.id.desc())
        .limit(1)
    )


def list_versions(
    session: Session,
    kind: str | None = None,
    scope: str | None = None,
    limit: int = 100,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    before: tuple[datetime, int] | None = None,
) -> Sequence[ModelVersion]:
    """Versions newest first, by (created_at, id) (created in [since, until) when given); `before`:
    the (created_at, id) keyset cursor, only versions after it in that order."""
    query = select(ModelVersion)
    if before is not None:
        query = query.where(tuple_(ModelVersion.created_at, ModelVersion.id) < tuple_(*before))
    if since is not None:
        query = query.where(ModelVersion.created_at >= since)
    if until is not None:
        query = query.where(ModelVersion.created_at < until)
    if kind is not None:
        query = query.where(ModelVersion.kind == kind)
    if scope is not None:
        query = query.where(ModelVersion.scope == scope)
    return session.scalars(
        query.order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc()).limit(limit)
    ).all()
