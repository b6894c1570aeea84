"""`python -m plantwatch` runs the CLI (how `up` starts its components)."""

from plantwatch.cli import main

main()
