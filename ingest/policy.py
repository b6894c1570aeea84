"""Which machines ingest may register on first sight, and what happens to the readings of the others.

A registered machine is always accepted. An unknown one is registered only when auto-registration is
on (else `unknown_machine`), its path matches one of the allowed fnmatch patterns (else
`not_allowed`) and fewer than the hourly cap of machines were registered in the last hour (else
`registration_cap`). The cap is counted from `machines.created_at` under a transaction-level advisory
lock, so several ingest processes together never register more than the cap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase

from sqlalchemy.orm import Session

from db.repositories import assets
from db.repositories.dead_letters import PAYLOAD_LIMIT
from ingest.asset_cache import AssetView
from ingest.messages import Rejection, Telemetry
from plantwatch.settings import Settings

ALL_MACHINES = ("*/*/*",)
CAP_WINDOW = timedelta(hours=1)
REGISTRATION_LOCK = 7302  # pg_advisory_xact_lock key; 7301 serialises sensor positions


@dataclass(frozen=True, slots=True)
class IngestPolicy:
    """What the writer may register and how much of a refused payload it keeps."""

    auto_register: bool = True
    allowed_machines: tuple[str, ...] = ALL_MACHINES
    max_new_machines_per_hour: int | None = None  # None: no cap
    payload_limit: int = PAYLOAD_LIMIT

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestPolicy:
        return cls(
            auto_register=settings.ingest_auto_register,
            allowed_machines=tuple(settings.ingest_allowed_machines),
            max_new_machines_per_hour=settings.ingest_max_new_machines_per_hour,
            payload_limit=settings.ingest_max_payload_bytes,
        )

    def allows(self, path: str) -> bool:
        return any(fnmatchcase(path, pattern) for pattern in self.allowed_machines)

    def static_refusal(self, path: str) -> Rejection | None:
        """Why an unknown machine may not be registered whatever the count (None: it may)."""
        if not self.auto_register:
            return Rejection(
                "unknown_machine", f"machine {path!r} is not registered and auto-registration is off"
            )
        if not self.allows(path):
            patterns = ", ".join(repr(p) for p in self.allowed_machines)
            return Rejection(
                "not_allowed",
                f"machine {path!r} is not registered and matches none of the allowed patterns "
                f"({patterns}; PLANTWATCH_INGEST_ALLOWED_MACHINES)",
            )
        return None


def admit_machines(
    session: Session, policy: IngestPolicy, batch: Sequence[Telemetry], view: AssetView
) -> tuple[dict[str, int], dict[str, Rejection]]:
    """Ids of the batch's machines by path, registering the unknown ones the policy admits (in order of
    first appearance); the refused paths with the reason."""
    ids = view.machine_ids(session, (t.path for t in batch))
    unknown: dict[str, Telemetry] = {}
    for telemetry in batch:
        if telemetry.path not in ids:
            unknown.setdefault(telemetry.path, telemetry)
    refused: dict[str, Rejection] = {}
    candidates: list[Telemetry] = []
    for path, telemetry in unknown.items():
        refusal = policy.static_refusal(path)
        if refusal is None:
            candidates.append(telemetry)
        else:
            refused[path] = refusal
    if not candidates:
        return ids, refused
    budget = len(candidates)
    if policy.max_new_machines_per_hour is not None:
        # Held until commit: another process's registrations are counted once it has committed.
        assets.lock_registrations(session, REGISTRATION_LOCK)
        recent = assets.count_machines_created_since(session, datetime.now(UTC) - CAP_WINDOW)
        budget = max(0, policy.max_new_machines_per_hour - recent)
        # Another process may have registered some of them meanwhile: those cost nothing.
        ids.update(assets.machine_ids_by_path(session, (t.path for t in candidates)))
    for telemetry in candidates:
        if telemetry.path in ids:
            continue
        if budget <= 0:
            refused[telemetry.path] = Rejection(
                "registration_cap",
                f"machine {telemetry.path!r} is not registered and {policy.max_new_machines_per_hour} "
                "machines were already registered in the last hour "
                "(PLANTWATCH_INGEST_MAX_NEW_MACHINES_PER_HOUR); replay it later",
            )
            continue
        machine = assets.register_machine(session, telemetry.site, telemetry.line, telemetry.machine)
        ids[telemetry.path] = machine.id
        view.learn_machine(telemetry.path, machine.id)
        budget -= 1
    return ids, refused
