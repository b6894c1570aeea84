"""Where a trained model version's artifacts go, and which code trained it (shared by RUL and QC)."""

from __future__ import annotations

import re
import subprocess
from importlib import metadata
from pathlib import Path

from plantwatch.settings import Settings


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
