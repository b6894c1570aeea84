"""Administration commands: database schema, API keys, CSV imports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from plantwatch.cli import common

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys (stored hashed; shown once on creation).", no_args_is_help=True)
import_app = typer.Typer(help="Import a plant's history from CSV files.", no_args_is_help=True)
err = common.err


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate the database schema to the latest version (or REVISION)."""
    from db.migrate import upgrade

    upgrade(common.database_url(common.settings(), embedded_ok=True), revision)
    err(f"database migrated to {revision}")


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Option(help="Who or what uses the key (shown in audit logs).")],
    role: Annotated[str, typer.Option(help="viewer, engineer, mes or admin.")] = "viewer",
) -> None:
    """Create an API key and print it once."""
    from db.engine import transaction
    from services.api_keys import UnknownRoleError, create_key

    factory = common.session_factory()
    try:
        with transaction(factory) as session:
            key, plaintext = create_key(session, name, role)
            common.audit(session, f"apikey create --name {name} --role {role} (key #{key.id})")
    except UnknownRoleError as error:
        err(str(error))
        raise typer.Exit(2) from error
    err(f"Created key #{key.id} '{name}' with role {role}. It is shown only now; store it safely:")
    typer.echo(plaintext)


@apikey_app.command("list")
def apikey_list() -> None:
    """List API keys (never their secrets)."""
    from db.engine import transaction
    from services.api_keys import list_keys

    factory = common.session_factory()
    with transaction(factory) as session:
        for key in list_keys(session):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            typer.echo(f"#{key.id}\t{key.name}\t{key.role}\tpw_{key.prefix}_…\t{state}")


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: Annotated[int, typer.Argument(help="Key number, from `apikey list`.", min=1, max=2**31 - 1)],
) -> None:
    """Revoke an API key at once."""
    from db.engine import transaction
    from services.api_keys import revoke

    factory = common.session_factory()
    with transaction(factory) as session:
        revoked = revoke(session, key_id)
        if revoked:
            common.audit(session, f"apikey revoke {key_id}")
    if not revoked:
        err(f"no active key #{key_id}")
        raise typer.Exit(1)
    err(f"key #{key_id} revoked")


@import_app.command("readings")
def import_readings(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: machine,ts,sensor,value or machine,ts,<sensor>...", exists=True, dir_okay=False
        ),
    ],
) -> None:
    """Import historical readings (idempotent: importing a file twice adds nothing)."""
    from ingest.importer import CsvFormatError, import_readings_csv

    settings = common.settings()
    settings = settings.model_copy(update={"database_url": common.database_url(settings, embedded_ok=True)})
    try:
        summary = import_readings_csv(settings, file)
    except CsvFormatError as error:
        err(f"{file}: {error}")
        raise typer.Exit(2) from error
    err(str(summary))
    if summary.bad_rows:
        raise typer.Exit(1)


@import_app.command("events")
def import_events(
    file: Annotated[
        Path, typer.Argument(help="CSV: machine,kind,ts[,note][,work_order_id]", exists=True, dir_okay=False)
    ],
) -> None:
    """Import a failure and maintenance log (the labels the models learn from)."""
    from db.engine import transaction
    from services.events import EventImportError, import_events_csv

    factory = common.session_factory()
    try:
        with transaction(factory) as session:
            summary = import_events_csv(session, file)
    except EventImportError as error:
        err(f"{file}: {error}")
        raise typer.Exit(2) from error
    for row_error in summary.errors:
        err(f"{file}:{row_error.line}: {row_error.reason}")
    err(
        f"{summary.imported} events imported, {summary.duplicates} already present, "
        f"{len(summary.errors)} rows refused"
    )
    if not summary.ok:
        raise typer.Exit(1)
