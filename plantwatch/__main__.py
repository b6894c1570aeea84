"""`python -m plantwatch` runs the CLI (how `up` starts its components)."""

from plantwatch.cli import app

app(prog_name="plantwatch")
