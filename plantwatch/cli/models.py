"""`plantwatch train rul|qc` (train now, with a progress display) and `plantwatch models` (the registry)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from plantwatch.cli import common

if TYPE_CHECKING:
    from models.fitting import TrainingProgress

train_app = typer.Typer(help="Train models now, from the data in PostgreSQL.", no_args_is_help=True)
models_app = typer.Typer(help="The model registry: list versions, promote, roll back.", no_args_is_help=True)
err = common.err
COLUMNS = ("id", "kind", "scope", "version", "status", "created (UTC)", "quality", "note")
# The figures shown per kind: RUL error and interval coverage, QC held-out accuracy, health windows.
QUALITY = {"rul": ("rmse", "coverage"), "qc": ("accuracy", "macro_f1"), "health": ("healthy_windows",)}


@train_app.command("rul")
def train_rul(
    scope: Annotated[
        str | None, typer.Option(help="Machine type to train (default: every type with a failure).")
    ] = None,
) -> None:
    """Train RUL models, register them and apply the promotion rule (recorded as a `train_rul` run)."""
    from jobs.train_rul import train_rul_job

    _train_now("train_rul", train_rul_job, "RUL", scope)


@train_app.command("qc")
def train_qc(
    scope: Annotated[
        str | None,
        typer.Option(help="Line to train, as site/line (default: every line with labelled images)."),
    ] = None,
) -> None:
    """Train inspection-image classifiers, register them and apply the promotion rule (a `train_qc` run)."""
    from jobs.train_qc import train_qc_job

    _train_now("train_qc", train_qc_job, "QC", scope)


def _train_now(job_name: str, job: Callable[..., dict[str, Any]], label: str, scope: str | None) -> None:
    from db.base import utcnow
    from db.engine import make_engine, make_session_factory
    from jobs.runs import run_job

    settings = common.settings()
    factory = make_session_factory(make_engine(common.database_url(settings, embedded_ok=True)))
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} epochs  {task.fields[detail]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    ) as bar:
        tasks: dict[str, Any] = {}

        def show(name: str, p: TrainingProgress) -> None:
            key = f"{name} member {p.member + 1}/{p.members}" if p.members > 1 else name
            if key not in tasks:
                tasks[key] = bar.add_task(f"{label} {key}", total=p.epochs, detail="")
            detail = f"loss {p.loss:.3g}  val {p.val_loss:.3g}  best {p.best_val_loss:.3g}"
            bar.update(tasks[key], completed=p.epoch, total=p.epochs, detail=detail)

        params: dict[str, Any] = {"scope": scope, "progress": show}
        # In this process (unlike the scheduler's worker), so that the progress bar can follow it.
        result = run_job(
            factory, settings, job_name, utcnow(), trigger="request", params=params, jobs={job_name: job}
        )
    if result.status != "succeeded":
        err(f"training failed: {result.error}")
        raise typer.Exit(1)
    typer.echo(json.dumps(result.summary, default=str))


@models_app.command("list")
def list_models(
    kind: Annotated[str | None, typer.Option(help="rul, qc or health.")] = None,
    scope: Annotated[str | None, typer.Option(help="Machine type (rul) or line (qc).")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many, newest first.", min=1)] = 30,
) -> None:
    """List registered model versions, newest first, with their status and main metrics."""
    from db.engine import transaction
    from services import model_registry

    with transaction(common.session_factory()) as session:
        table = Table(box=None)
        for column in COLUMNS:
            table.add_column(column, no_wrap=column != "note")
        rows = model_registry.list_versions(session, kind, scope, limit)
        for row in rows:
            promotion = row.params.get("promotion") or {}
            table.add_row(
                str(row.id),
                row.kind,
                row.scope,
                str(row.version),
                row.status,
                f"{row.created_at:%Y-%m-%d %H:%M}",
                "  ".join(f"{m} {_figure(row.metrics.get(m))}" for m in QUALITY.get(row.kind, ())),
                str(promotion.get("reason", "")),
            )
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 250)
    console.print(table if rows else "no model versions")


@models_app.command("promote")
def promote(version_id: Annotated[int, typer.Argument(help="Model version id (see `models list`).")]) -> None:
    """Make a version the champion of its scope (the current champion is retired)."""
    from db.engine import transaction
    from services import model_registry

    try:
        with transaction(common.session_factory()) as session:
            row = model_registry.promote(session, version_id)
            common.audit(session, f"models promote {version_id}")
            typer.echo(f"{row.kind} {row.scope} v{row.version} (id {row.id}) is champion")
    except model_registry.RegistryError as exc:
        err(str(exc))
        raise typer.Exit(1) from None


@models_app.command("rollback")
def rollback(
    scope: Annotated[str, typer.Option(help="Machine type (rul) or line (qc).")],
    kind: Annotated[str, typer.Option(help="rul or qc.")] = "rul",
) -> None:
    """Retire the champion of a scope and bring the previous champion back."""
    from db.engine import transaction
    from services import model_registry

    try:
        with transaction(common.session_factory()) as session:
            row = model_registry.rollback(session, kind, scope)
            common.audit(session, f"models rollback --scope {scope} --kind {kind}")
            typer.echo(f"{row.kind} {row.scope} v{row.version} (id {row.id}) is champion again")
    except model_registry.RegistryError as exc:
        err(str(exc))
        raise typer.Exit(1) from None


def _figure(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, int | float) else "-"
