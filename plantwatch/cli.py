"""The `plantwatch` command: start everything (`up`) or one component, and administer the database.

Each component command runs one process for a production deployment (docker-compose.yml runs them
one per container); `up` runs them all for trying plantwatch out. This module wires the packages
together and is the only place, with plantwatch/up.py, that imports the service packages.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from plantwatch.settings import Settings, get_settings

app = typer.Typer(
    help="plantwatch: predictive maintenance and quality control for factories.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys (stored hashed; shown once on creation).", no_args_is_help=True)
import_app = typer.Typer(help="Import a plant's history from CSV files.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(apikey_app, name="apikey")
app.add_typer(import_app, name="import")

err = typer.echo


def _setup_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _settings() -> Settings:
    settings = get_settings()
    _setup_logging(settings)
    return settings


def _database_url(settings: Settings) -> str:
    if not settings.database_url:
        err(
            "DATABASE_URL is not set. Point it at PostgreSQL (postgresql://user:pass@host:5432/db), "
            "or run `plantwatch up`, which starts an embedded database.",
            err=True,
        )
        raise typer.Exit(2)
    return settings.database_url


def _require_mqtt(settings: Settings) -> None:
    if not settings.mqtt_url:
        err(
            "MQTT_URL is not set. Point it at your broker (mqtt://host:1883), "
            "or run `plantwatch up`, which starts an embedded broker.",
            err=True,
        )
        raise typer.Exit(2)


def _run_until_signal(run: Callable[[threading.Event], None]) -> None:
    """Run a component until SIGINT/SIGTERM, which ask it to stop cleanly (no traceback)."""
    stop = threading.Event()

    def ask_to_stop(signum: int, _frame: object) -> None:
        logging.getLogger("plantwatch").info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, ask_to_stop)
    signal.signal(signal.SIGTERM, ask_to_stop)
    run(stop)


@app.command()
def up() -> None:
    """Start everything: database, broker, migrations, simulator, ingest, scheduler, API, dashboard.

    Uses an embedded PostgreSQL and MQTT broker unless DATABASE_URL / MQTT_URL name real ones.
    Ctrl-C stops all of it.
    """
    from plantwatch.up import run_up

    raise typer.Exit(run_up(_settings()))


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate the database schema to the latest version (or REVISION)."""
    from db.migrate import upgrade

    upgrade(_database_url(_settings()), revision)
    err(f"database migrated to {revision}")


@app.command()
def ingest() -> None:
    """Subscribe to telemetry over MQTT and write it to PostgreSQL (bad messages to dead letters)."""
    from ingest.service import run_ingestor

    settings = _settings()
    _database_url(settings)
    _require_mqtt(settings)
    _run_until_signal(lambda stop: run_ingestor(settings, stop))


@app.command()
def simulate(
    replay_cmapss: Annotated[
        Path | None,
        typer.Option(help="Replay a C-MAPSS file (one engine per machine, one cycle per tick).", exists=True),
    ] = None,
    truncated: Annotated[
        bool, typer.Option(help="The C-MAPSS file is test-format: engines end without a failure.")
    ] = False,
    sites: Annotated[int | None, typer.Option(help="Sites to simulate.", min=1)] = None,
    lines: Annotated[int | None, typer.Option(help="Lines per site.", min=1)] = None,
    machines: Annotated[int | None, typer.Option(help="Machines per line.", min=1)] = None,
    interval: Annotated[float | None, typer.Option(help="Seconds between readings.", min=0.001)] = None,
) -> None:
    """Publish simulated production lines (degrading machines, failures, repairs) over MQTT."""
    from plantwatch.simulator import run_simulator

    overrides = {
        "simulate_sites": sites,
        "simulate_lines": lines,
        "simulate_machines": machines,
        "simulate_interval_s": interval,
    }
    settings = _settings().model_copy(update={k: v for k, v in overrides.items() if v is not None})
    _require_mqtt(settings)
    _run_until_signal(
        lambda stop: run_simulator(settings, replay_cmapss=replay_cmapss, truncated=truncated, stop=stop)
    )


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Serve the REST API (OpenAPI docs at /docs)."""
    import uvicorn

    from api.app import create_app

    settings = _settings()
    _database_url(settings)
    uvicorn.run(
        create_app(settings),
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level=settings.log_level.lower(),
    )


@app.command()
def scheduler() -> None:
    """Run scheduled jobs (and jobs requested through the API), each run recorded in job runs."""
    from jobs.scheduler import run_scheduler

    settings = _settings()
    _database_url(settings)
    _run_until_signal(lambda stop: run_scheduler(settings, stop))


@app.command()
def dashboard(
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Serve the Streamlit dashboard (it reads the API at PLANTWATCH_API_URL)."""
    import dashboard as dashboard_package

    settings = _settings()
    entry = Path(dashboard_package.__file__).parent / "app.py"
    command = [
        sys.executable, "-m", "streamlit", "run", str(entry),
        "--server.address", settings.dashboard_host,
        "--server.port", str(port or settings.dashboard_port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    os.execv(sys.executable, command)


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Option(help="Who or what uses the key (shown in audit logs).")],
    role: Annotated[str, typer.Option(help="viewer, engineer, mes or admin.")] = "viewer",
) -> None:
    """Create an API key and print it once."""
    from db.engine import make_engine, make_session_factory, transaction
    from services.api_keys import UnknownRoleError, create_key

    factory = make_session_factory(make_engine(_database_url(_settings())))
    try:
        with transaction(factory) as session:
            key, plaintext = create_key(session, name, role)
    except UnknownRoleError as error:
        err(str(error), err=True)
        raise typer.Exit(2) from error
    err(f"Created key #{key.id} '{name}' with role {role}. It is shown only now; store it safely:")
    typer.echo(plaintext)


@apikey_app.command("list")
def apikey_list() -> None:
    """List API keys (never their secrets)."""
    from db.engine import make_engine, make_session_factory, transaction
    from services.api_keys import list_keys

    factory = make_session_factory(make_engine(_database_url(_settings())))
    with transaction(factory) as session:
        for key in list_keys(session):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            typer.echo(f"#{key.id}\t{key.name}\t{key.role}\tpw_{key.prefix}_…\t{state}")


@apikey_app.command("revoke")
def apikey_revoke(key_id: Annotated[int, typer.Argument(help="Key number, from `apikey list`.")]) -> None:
    """Revoke an API key at once."""
    from db.engine import make_engine, make_session_factory, transaction
    from services.api_keys import revoke

    factory = make_session_factory(make_engine(_database_url(_settings())))
    with transaction(factory) as session:
        revoked = revoke(session, key_id)
    if not revoked:
        err(f"no active key #{key_id}", err=True)
        raise typer.Exit(1)
    err(f"key #{key_id} revoked")


@import_app.command("readings")
def import_readings(
    file: Annotated[
        Path, typer.Argument(help="CSV: machine,ts,sensor,value or machine,ts,<sensor>...", exists=True)
    ],
) -> None:
    """Import historical readings (idempotent: importing a file twice adds nothing)."""
    from ingest.importer import CsvFormatError, import_readings_csv

    settings = _settings()
    _database_url(settings)
    try:
        summary = import_readings_csv(settings, file)
    except CsvFormatError as error:
        err(f"{file}: {error}", err=True)
        raise typer.Exit(2) from error
    err(str(summary))
    if summary.bad_rows:
        raise typer.Exit(1)


@import_app.command("events")
def import_events(
    file: Annotated[Path, typer.Argument(help="CSV: machine,kind,ts[,note][,work_order_id]", exists=True)],
) -> None:
    """Import a failure and maintenance log (the labels the models learn from)."""
    from db.engine import make_engine, make_session_factory, transaction
    from services.events import EventImportError, import_events_csv

    factory = make_session_factory(make_engine(_database_url(_settings())))
    try:
        with transaction(factory) as session:
            summary = import_events_csv(session, file)
    except EventImportError as error:
        err(f"{file}: {error}", err=True)
        raise typer.Exit(2) from error
    for row_error in summary.errors:
        err(f"{file}:{row_error.line}: {row_error.reason}", err=True)
    err(
        f"{summary.imported} events imported, {summary.duplicates} already present, "
        f"{len(summary.errors)} rows refused"
    )
    if not summary.ok:
        raise typer.Exit(1)
