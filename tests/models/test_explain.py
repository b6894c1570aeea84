"""Occlusion explanations on a model whose answer is known: only sensor 0 matters."""

from __future__ import annotations

import numpy as np
import pytest

from models.explain import occlusion_scores, top_sensors


def _rul(x: np.ndarray) -> np.ndarray:
    return 100 - 50 * x[:, -1, 0] + 0 * x[:, :, 1].sum(axis=1)


def test_occlusion_credits_the_sensor_the_model_uses() -> None:
    x = np.zeros((2, 5, 3), dtype=np.float32)
    x[0, -1, 0] = 1.0  # degraded: predicted RUL 50 instead of 100
    x[1, :, 1] = 1.0  # unusual but ignored by the model
    scores = occlusion_scores(_rul, x, reference=[0.0, 0.0, 0.0])
    np.testing.assert_allclose(scores, [[50.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    top = top_sensors(scores, ["temp", "vib", "noise"], k=2)
    assert top[0][0].sensor == "temp" and top[0][0].score == 50.0
    assert len(top[1]) == 2


def test_occlusion_checks_its_inputs() -> None:
    with pytest.raises(ValueError, match="reference has 2 sensors"):
        occlusion_scores(_rul, np.zeros((1, 5, 3), dtype=np.float32), [0.0, 0.0])
    with pytest.raises(ValueError, match="do not match"):
        top_sensors(np.zeros((1, 3)), ["a"])
