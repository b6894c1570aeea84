"""Commands that run plantwatch's components: everything (`up`) or one per process for production."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from plantwatch.cli import common

app = typer.Typer()


@app.command()
def up() -> None:
    """Start everything: database, broker, migrations, simulator, ingest, scheduler, API, dashboard.

    Uses an embedded PostgreSQL and MQTT broker unless DATABASE_URL / MQTT_URL name real ones.
    Ctrl-C stops all of it.
    """
    from plantwatch.up import run_up

    raise typer.Exit(run_up(common.settings()))


@app.command()
def ingest(
    retire: Annotated[
        bool,
        typer.Option(
            help="Retire this replica for good: store what its broker session and spool still hold, "
            "then end the session so the broker stops routing shared messages to it.",
        ),
    ] = False,
) -> None:
    """Subscribe to telemetry over MQTT and write it to PostgreSQL (bad messages to dead letters)."""
    from ingest.service import run_ingestor

    settings = common.settings()
    common.database_url(settings)
    common.require_mqtt(settings)
    common.run_until_signal(lambda stop: run_ingestor(settings, stop, retire=retire))


@app.command()
def simulate(
    replay_cmapss: Annotated[
        Path | None,
        typer.Option(
            help="Replay a C-MAPSS file (one engine per machine, one cycle per tick).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    truncated: Annotated[
        bool, typer.Option(help="The C-MAPSS file is test-format: engines end without a failure.")
    ] = False,
    sites: Annotated[
        int | None, typer.Option(help="Sites to simulate [default: PLANTWATCH_SIMULATE_SITES, 1].", min=1)
    ] = None,
    lines: Annotated[
        int | None, typer.Option(help="Lines per site [default: PLANTWATCH_SIMULATE_LINES, 2].", min=1)
    ] = None,
    machines: Annotated[
        int | None, typer.Option(help="Machines per line [default: PLANTWATCH_SIMULATE_MACHINES, 5].", min=1)
    ] = None,
    interval: Annotated[
        float | None,
        typer.Option(
            help="Seconds between readings [default: PLANTWATCH_SIMULATE_INTERVAL_S, 1.0].", min=0.001
        ),
    ] = None,
) -> None:
    """Publish simulated production lines (degrading machines, failures, repairs) over MQTT."""
    from plantwatch.simulator import run_simulator

    overrides = {
        "simulate_sites": sites,
        "simulate_lines": lines,
        "simulate_machines": machines,
        "simulate_interval_s": interval,
    }
    settings = common.settings().model_copy(update={k: v for k, v in overrides.items() if v is not None})
    common.require_mqtt(settings)
    common.run_until_signal(
        lambda stop: run_simulator(settings, replay_cmapss=replay_cmapss, truncated=truncated, stop=stop)
    )


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Serve the REST API (OpenAPI docs at /docs); PLANTWATCH_API_WORKERS processes."""
    from plantwatch.cli.api_server import serve

    settings = common.settings()
    common.database_url(settings)
    serve(settings, host or settings.api_host, port or settings.api_port)


@app.command()
def scheduler() -> None:
    """Run scheduled jobs (and jobs requested through the API), each run recorded in job runs."""
    from jobs.scheduler import run_scheduler

    settings = common.settings()
    common.database_url(settings)
    common.run_until_signal(lambda stop: run_scheduler(settings, stop))


@app.command()
def classify() -> None:
    """Classify new inspection images with each line's champion model, within seconds of arrival."""
    from jobs.classify import run_classifier

    settings = common.settings()
    common.database_url(settings)
    common.run_until_signal(lambda stop: run_classifier(settings, stop))


def streamlit_command(entry: Path, host: str, port: int) -> list[str]:
    """`streamlit run` of a dashboard script as `plantwatch dashboard` serves it. Two Streamlit defaults
    are off, each a large share of a Fleet page's time with 1,000 machines: watching the source files
    (a served dashboard is not edited; the watcher scans every imported module after each page run)
    and a full garbage collection after each page run (Python collects as it goes anyway)."""
    return [
        sys.executable, "-m", "streamlit", "run", str(entry),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--runner.postScriptGC", "false",
        "--client.toolbarMode", "viewer",  # no Deploy button or developer menu for plant engineers
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip


@app.command()
def dashboard(
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Serve the Streamlit dashboard (it reads the API at PLANTWATCH_API_URL)."""
    import dashboard as dashboard_package

    settings = common.settings()
    entry = Path(dashboard_package.__file__).parent / "app.py"
    command = streamlit_command(entry, settings.dashboard_host, port or settings.dashboard_port)
    os.execv(sys.executable, command)
