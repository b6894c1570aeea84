"""`python -m plantwatch` runs the CLI (how `up` starts its components)."""

from plantwatch.cli import main

if __name__ == "__main__":  # not when a spawned worker process re-imports it
    main()
