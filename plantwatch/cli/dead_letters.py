"""`plantwatch deadletters`: list the messages ingest refused, and replay them after a fix."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from plantwatch.cli import common

app = typer.Typer(help="Messages ingest refused: list them, replay them after a fix.", no_args_is_help=True)
err = common.err
DETAIL_CHARS = 80


@app.command("list")
def list_letters(
    reason: Annotated[str | None, typer.Option(help="Only this reason, e.g. not_json.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many, newest first.", min=1)] = 20,
    replayed: Annotated[
        bool | None, typer.Option("--replayed/--open", help="Only replayed letters, or only the others.")
    ] = None,
) -> None:
    """List dead letters, newest first, with a count by reason."""
    from db.engine import transaction
    from db.repositories import dead_letters

    factory = common.session_factory()
    with transaction(factory) as session:
        letters = dead_letters.list_dead_letters(
            session, reason=reason, replayed=replayed, limit=limit, newest_first=True
        )
        counts = dead_letters.counts(session)
        table = Table(box=None)
        for column in ("id", "received (UTC)", "reason", "topic", "state"):
            table.add_column(column, no_wrap=True)
        table.add_column("detail")
        for letter in letters:
            detail = letter.replay_error or letter.detail
            if len(detail) > DETAIL_CHARS:
                detail = detail[: DETAIL_CHARS - 1] + "…"
            table.add_row(
                str(letter.id),
                f"{letter.received_at:%Y-%m-%d %H:%M:%S}",
                letter.reason,
                letter.topic,
                _state(letter.payload_truncated, letter.replayed_at is not None, letter.replay_error),
                detail,
            )
    # A wide table when piped (to grep, say); fitted to the terminal otherwise.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 250)
    if letters:
        console.print(table)
    else:
        console.print("no dead letters" + (f" with reason {reason!r}" if reason else ""))
    reasons = ", ".join(f"{name} {count}" for name, count in sorted(counts.open_by_reason.items()))
    console.print(
        f"\n{counts.total} dead letters, {counts.replayed} replayed, "
        f"{counts.total - counts.replayed} open{f' ({reasons})' if reasons else ''}"
    )


def _state(truncated: bool, replayed: bool, replay_error: str | None) -> str:
    if replayed:
        return "replayed"
    if truncated:
        return "truncated"
    return "replay failed" if replay_error else "open"


@app.command("replay")
def replay(
    ids: Annotated[list[int] | None, typer.Option("--id", help="A dead letter id (repeat for more).")] = None,
    reason: Annotated[str | None, typer.Option(help="Every open letter with this reason.")] = None,
    all_letters: Annotated[bool, typer.Option("--all", help="Every open letter.")] = False,
) -> None:
    """Replay dead letters with the current rules and settings (after a fix); idempotent."""
    from ingest.replay import replay_dead_letters

    if not ids and reason is None and not all_letters:
        err(
            "say which dead letters to replay: --id N (repeatable), --reason REASON, or --all; "
            "`plantwatch deadletters list` shows them"
        )
        raise typer.Exit(2)
    if all_letters and (ids or reason is not None):
        err("--all replays every open letter; leave out --id and --reason with it")
        raise typer.Exit(2)
    settings = common.settings()
    summary = replay_dead_letters(common.session_factory(), settings, ids=ids or None, reason=reason)
    err(str(summary))
    if summary.failed or summary.not_replayable:
        err("`plantwatch deadletters list --open` shows why the others were refused")
        raise typer.Exit(1)
