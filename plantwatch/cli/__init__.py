"""The `plantwatch` command: start everything (`up`) or one component, and administer the database.

Each component command runs one process for a production deployment (docker-compose.yml runs them
one per container); `up` runs them all for trying plantwatch out. This package wires the packages
together and is the only place, with plantwatch/up.py, that imports the service packages.
"""

from __future__ import annotations

import typer

from plantwatch.cli import admin, backtest, components, dead_letters, images, models
from plantwatch.cli.failures import run_explaining_failures

app = typer.Typer(
    help="plantwatch: predictive maintenance and quality control for factories.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.registered_commands += components.app.registered_commands
app.registered_commands += images.app.registered_commands
app.registered_commands += backtest.app.registered_commands
app.add_typer(admin.db_app, name="db")
app.add_typer(admin.apikey_app, name="apikey")
app.add_typer(admin.import_app, name="import")
app.add_typer(dead_letters.app, name="deadletters")
app.add_typer(models.train_app, name="train")
app.add_typer(models.models_app, name="models")


def main() -> None:
    """The `plantwatch` console script: the CLI, with fixable failures explained in one line."""
    run_explaining_failures(lambda: app(prog_name="plantwatch"))
