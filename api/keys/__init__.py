"""API keys as seen by their holder."""
