"""What RUL and QC training share: training each scope in turn, where a version's artifacts go, and
which code trained it."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from models.config import InsufficientDataError
from plantwatch.settings import Settings
from services import model_registry

log = logging.getLogger(__name__)


def train_each(
    scopes: Sequence[str], train_one: Callable[[str], dict[str, Any]], *, explicit: bool, what: str
) -> dict[str, Any]:
    """Train every scope; one with too little data is skipped with its reason, unless it was asked
    for by name (`explicit`). Raises InsufficientDataError when none could be trained."""
    trained: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name in scopes:
        try:
            trained[name] = train_one(name)
        except InsufficientDataError as exc:
            if explicit:
                raise
            log.warning("%s model for %r not trained: %s", what, name, exc)
            skipped[name] = str(exc)
    if not trained:
        raise InsufficientDataError(
            f"no {what} scope has enough labelled data: " + "; ".join(f"{k}: {v}" for k, v in skipped.items())
        )
    return {"trained": trained, "skipped": skipped}


def reserve_version_dir(session: Session, settings: Settings, kind: str, scope: str) -> tuple[int, Path]:
    """The next version of (kind, scope), held for this transaction, and its empty artifact folder."""
    version = model_registry.reserve_version(session, kind, scope)
    directory = artifact_dir(settings, kind, scope, version)
    if directory.exists():  # left by a run that failed before it could register this version
        shutil.rmtree(directory)
    return version, directory


def artifact_dir(settings: Settings, kind: str, scope: str, version: int) -> Path:
    """`{var_dir}/models/{kind}/{scope}/v{version}`, the scope made safe for a folder name."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", scope) or "_"
    return settings.var_dir / "models" / kind / safe / f"v{version}"


def code_version() -> str:
    """The package version, and the git commit when running from a checkout."""
    try:
        version = metadata.version("plantwatch")
    except metadata.PackageNotFoundError:
        version = "unknown"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version}+{commit}" if commit else version
