"""Dead letters: what ingest refused, listed and summarised, and replays asked for."""
