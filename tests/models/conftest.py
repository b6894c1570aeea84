"""A tiny model trained once per test session on synthetic data, and its saved artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.artifacts import save_rul_artifacts
from models.training import TrainedRul, train_rul
from tests.models.synthetic import synthetic_dataset, tiny_config


@pytest.fixture(scope="session")
def trained() -> TrainedRul:
    return train_rul(synthetic_dataset(), tiny_config())


@pytest.fixture(scope="session")
def artifacts(trained: TrainedRul, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(model directory, the sidecar's SHA-256) — treat as read-only; copy it to tamper with it."""
    directory = tmp_path_factory.mktemp("rul-model")
    return directory, save_rul_artifacts(trained, directory)
