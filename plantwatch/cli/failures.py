"""Turn the failures a user can fix (database unreachable or not migrated, a bad URL or file) into
one clear line on stderr and exit status 2, instead of a traceback.

Set PLANTWATCH_LOG_LEVEL=DEBUG to see the traceback as well.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import typer
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, ProgrammingError


def explain(error: BaseException) -> str | None:
    """A one-line explanation of a failure the user can fix, or None for a genuine bug."""
    if isinstance(error, OperationalError):
        first = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        return (
            f"cannot reach the database: {first}. Is PostgreSQL running and DATABASE_URL right? "
            "(`plantwatch up` starts an embedded one.)"
        )
    if isinstance(error, ProgrammingError) and "UndefinedTable" in type(error.orig).__name__:
        return "the database has no plantwatch schema (or an old one): run `plantwatch db upgrade`."
    if isinstance(error, DBAPIError):
        first = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        return f"the database refused the request: {first}"
    if isinstance(error, ArgumentError):
        return f"invalid DATABASE_URL: {error}"
    if isinstance(error, ValueError | OSError):
        return str(error)
    return None


def run_explaining_failures(app: Callable[[], object]) -> None:
    try:
        app()
    except Exception as error:
        message = explain(error)
        if message is None or os.environ.get("PLANTWATCH_LOG_LEVEL", "").upper() == "DEBUG":
            raise
        typer.echo(f"plantwatch: {message}", err=True)
        raise SystemExit(2) from None
