"""Who schedules: the one place that decides whether this process fires scheduled jobs.

Today every scheduler process schedules; the claim of (job, scheduled_for) in `job_runs` already makes
each firing run once across replicas. Leader election (e.g. a PostgreSQL advisory lock held on a
dedicated connection) will implement `Leadership` here without touching the jobs.
"""

from __future__ import annotations

from typing import Protocol

from plantwatch.settings import Settings


class Leadership(Protocol):
    def is_leader(self) -> bool:
        """Whether this process should fire scheduled jobs and pick up job requests right now."""
        ...

    def release(self) -> None:
        """Give up leadership (at shutdown)."""
        ...


class AlwaysLeader:
    """A single scheduler, or replicas that rely on the per-firing claim only."""

    def is_leader(self) -> bool:
        return True

    def release(self) -> None:
        return None


def leadership_for(settings: Settings) -> Leadership:
    return AlwaysLeader()
