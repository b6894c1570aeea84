"""Fixtures of the ingest tests."""

from tests.ingest.helpers import start_ingestor

__all__ = ["start_ingestor"]
