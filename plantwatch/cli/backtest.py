"""`plantwatch backtest`: what the alert rules would have fired over stored history, and what it costs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from plantwatch.cli import common

app = typer.Typer()


def _when(text: str | None, default: datetime) -> datetime:
    if text is None:
        return default
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        common.err(f"not a date or time: {text!r} (use ISO 8601, e.g. 2026-11-01 or 2026-11-01T06:00+01:00)")
        raise typer.Exit(2) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command()
def backtest(
    scope: Annotated[str, typer.Option(help="Machine type to replay ('default': machines without a type).")],
    start: Annotated[str | None, typer.Option(help="Replay from (ISO 8601; default 30 days ago).")] = None,
    end: Annotated[str | None, typer.Option(help="Replay until (ISO 8601; default now).")] = None,
    step_minutes: Annotated[float, typer.Option(min=0.01, help="Score every this many minutes.")] = 60.0,
    rul_warning: Annotated[
        float | None, typer.Option(help="rul_low warning (default: the settings).")
    ] = None,
    rul_critical: Annotated[
        float | None, typer.Option(help="rul_low critical (default: the settings).")
    ] = None,
    probability_warning: Annotated[
        float | None, typer.Option(help="failure_probability_high warning (default: the settings).")
    ] = None,
    min_duration_minutes: Annotated[
        float | None, typer.Option(help="Minimum duration of a condition (default: the settings).")
    ] = None,
    lead_hours: Annotated[float, typer.Option(help="An alert this long before a failure is in time.")] = 24.0,
    horizon_hours: Annotated[
        float, typer.Option(help="An alert with no failure this long after it is a false alarm.")
    ] = 24.0 * 14,
    failure_cost: Annotated[float, typer.Option(help="Cost of one failure not foreseen.")] = 10000.0,
    false_alarm_cost: Annotated[float, typer.Option(help="Cost of one needless inspection.")] = 500.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object on stdout instead of tables.")
    ] = False,
    pin: Annotated[
        str | None,
        typer.Option(
            help="Keep this history from retention under this name (`backtest-unpin NAME` frees it)."
        ),
    ] = None,
) -> None:
    """Replay stored history through today's champion models and the alert rules; nothing is written."""
    from dataclasses import replace

    from db.engine import make_engine, make_session_factory
    from jobs.backtest import run_backtest
    from services.alert_rules import default_thresholds

    settings = common.settings()
    until = _when(end, datetime.now(UTC))
    since = _when(start, until - timedelta(days=30))
    if since >= until:
        common.err("--start must be before --end")
        raise typer.Exit(2)
    rul = default_thresholds("rul_low", settings)
    rul = replace(rul, warning=rul_warning if rul_warning is not None else rul.warning,
                  critical=rul_critical if rul_critical is not None else rul.critical)  # fmt: skip
    probability = default_thresholds("failure_probability_high", settings)
    if probability_warning is not None:
        probability = replace(probability, warning=probability_warning)
    if min_duration_minutes is not None:
        rul = replace(rul, min_duration_s=int(min_duration_minutes * 60))
        probability = replace(probability, min_duration_s=int(min_duration_minutes * 60))
    factory = make_session_factory(make_engine(common.database_url(settings, embedded_ok=True)))
    columns = (
        TextColumn("backtest {task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
    )
    with (
        factory() as session,
        Progress(*columns, TimeElapsedColumn(), console=Console(stderr=True), disable=as_json) as bar,
    ):
        task = bar.add_task(scope, total=None)
        try:
            rules = {"rul_low": rul, "failure_probability_high": probability}
            result = run_backtest(
                session, settings, scope, since, until, rules, timedelta(minutes=step_minutes),
                timedelta(hours=lead_hours), timedelta(hours=horizon_hours),
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )  # fmt: skip
        except ValueError as exc:
            common.err(str(exc))
            raise typer.Exit(1) from None
        finally:
            session.rollback()  # scoring may have refitted a baseline: the backtest changes nothing
    if pin:
        from db.engine import transaction
        from db.repositories.retention import pin_backtest

        with transaction(factory) as session:
            pin_backtest(session, pin, scope, since, until, "cli")
        common.err(
            f"pinned as {pin!r}: retention keeps the raw readings of {since:%Y-%m-%d} to {until:%Y-%m-%d}"
        )
    figures = result.figures(failure_cost, false_alarm_cost)
    if as_json:
        alerts = [{**a, "opened_at": a["opened_at"].isoformat()} for a in result.alerts]
        typer.echo(json.dumps({**figures, "would_have_opened": alerts}))
        return
    console = Console()
    summary = Table(title=f"Backtest of {scope}, {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC")
    for column in figures:
        summary.add_column(column)
    summary.add_row(*[str(value) for value in figures.values()])
    console.print(summary)
    detail = Table(title="Alerts that would have opened")
    for column in ("machine id", "rule", "severity", "opened (UTC)", "value", "verdict", "lead h"):
        detail.add_column(column)
    for a in result.alerts:
        detail.add_row(str(a["machine_id"]), a["rule"], a["severity"], f"{a['opened_at']:%Y-%m-%d %H:%M}",
                       str(a["value"]), a["verdict"], str(a.get("lead_h", "")))  # fmt: skip
    console.print(detail)


@app.command("backtest-unpin")
def backtest_unpin(name: Annotated[str, typer.Argument(help="The name given with --pin.")]) -> None:
    """Let retention drop the history a pinned backtest kept."""
    from db.engine import make_engine, make_session_factory, transaction
    from db.repositories.retention import unpin_backtest

    settings = common.settings()
    factory = make_session_factory(make_engine(common.database_url(settings, embedded_ok=True)))
    with transaction(factory) as session:
        found = unpin_backtest(session, name)
    if not found:
        common.err(f"no pinned backtest named {name!r}")
        raise typer.Exit(1)
    common.err(f"unpinned {name!r}: retention may drop that history again")
