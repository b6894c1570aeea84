"""Counts of what ingest did, logged once a minute (accepted, duplicates, dead letters by reason)."""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from ingest.writer import BatchResult


@dataclass
class IngestStats:
    period_s: float = 60.0
    accepted: int = 0
    duplicates: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    started: float = field(default_factory=time.monotonic)

    def add(self, result: BatchResult) -> None:
        self.accepted += result.accepted
        self.duplicates += result.duplicates
        self.dead_letters.update(result.dead_letters)
        self.batches += 1

    def log_if_due(self, log: logging.Logger) -> None:
        elapsed = time.monotonic() - self.started
        if elapsed < self.period_s:
            return
        messages = self.accepted + self.duplicates + self.dead_letters.total()
        reasons = ", ".join(f"{reason} {count}" for reason, count in self.dead_letters.most_common())
        log.info(
            "last %.0fs: %d accepted, %d duplicates, %d dead letters%s; %d batches, %.1f messages/s",
            elapsed,
            self.accepted,
            self.duplicates,
            self.dead_letters.total(),
            f" ({reasons})" if reasons else "",
            self.batches,
            messages / elapsed,
        )
        self.accepted = self.duplicates = self.batches = 0
        self.dead_letters.clear()
        self.started = time.monotonic()
