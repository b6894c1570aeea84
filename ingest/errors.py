"""Which database errors are worth retrying (PostgreSQL unreachable) and which mean "refused"."""

from __future__ import annotations

import psycopg
from sqlalchemy import exc

# Raw psycopg errors appear too: the writer's COPY talks to the driver connection directly.
_TRANSIENT = (
    exc.OperationalError,
    exc.InterfaceError,
    exc.TimeoutError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    ConnectionError,
)


def is_transient(error: BaseException) -> bool:
    """PostgreSQL down, restarting or unreachable, a lost connection, a deadlock: try again later."""
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, _TRANSIENT)


def is_database_error(error: BaseException) -> bool:
    """An error the database answered with (a constraint, a bad value): retrying will not help."""
    return isinstance(error, exc.DBAPIError | psycopg.Error) and not is_transient(error)
