"""Saving and loading RUL model artifacts: Keras model, ONNX export and a JSON sidecar, hash-checked.

A model directory holds `model.keras`, `model.onnx` and `model.json`. The sidecar carries everything
needed to score besides the network (sensor names, scaler, dropped sensors, window, cap, horizon,
conformal offsets, healthy reference for explanations, metrics) and the SHA-256 of the two model files.
Loading verifies every hash first (and the sidecar's own, when the caller knows it, e.g. from the
model registry) and raises `ArtifactIntegrityError` on a mismatch. Nothing is ever unpickled: the
sidecar is JSON and the Keras file is loaded with `safe_mode=True`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from models.config import RulConfig
from models.evaluation import Conformal
from models.features import FeatureScaler
from models.names import FAILURE_OUTPUT, INPUT_NAME, RUL_OUTPUT

if TYPE_CHECKING:
    import keras

log = logging.getLogger(__name__)

FORMAT = "plantwatch-rul/1"
KERAS_FILE = "model.keras"
ONNX_FILE = "model.onnx"
SIDECAR_FILE = "model.json"


class ArtifactIntegrityError(RuntimeError):
    """A model file is missing, altered or not what the sidecar (or the registry) says it is."""


@dataclass(frozen=True)
class RulMetadata:
    """The parsed sidecar: what serving needs besides the network itself."""

    scaler: FeatureScaler
    conformal: Conformal
    config: RulConfig
    healthy: list[float]  # per kept sensor, scaled: the occlusion baseline
    onnx_outputs: dict[str, str]  # our output name -> ONNX output name
    onnx_input: str
    raw: dict[str, Any]

    @property
    def window(self) -> int:
        return self.config.window

    @property
    def sensor_names(self) -> list[str]:
        return self.scaler.sensor_names


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_rul_artifacts(trained: Any, directory: Path, extra: dict[str, Any] | None = None) -> str:
    """Write the three files of a `TrainedRul` into `directory`; returns the sidecar's SHA-256."""
    import keras  # here, not at import time: serving needs only ONNX Runtime

    from models.rul import as_float32, is_float32

    directory.mkdir(parents=True, exist_ok=True)
    config: RulConfig = trained.config
    n_features = len(trained.scaler.kept)
    trained.model.save(directory / KERAS_FILE)
    export = trained.model
    if not is_float32(export):
        export = as_float32(export, config.architecture, config.window, n_features, config.cap)
    onnx_path = directory / ONNX_FILE
    signature = [keras.InputSpec(shape=(None, config.window, n_features), dtype="float32", name=INPUT_NAME)]
    export.export(str(onnx_path), format="onnx", verbose=False, input_signature=signature)
    onnx_input, outputs, max_diff = _match_onnx_outputs(export, onnx_path, config.window, n_features)
    log.info("ONNX export matches Keras within %.2g", max_diff)
    sidecar = {
        "format": FORMAT,
        "window": config.window,
        "cap": config.cap,
        "horizon": config.horizon,
        "sensor_names": trained.scaler.sensor_names,
        "dropped_sensors": trained.scaler.dropped,
        "scaler": trained.scaler.to_dict(),
        "conformal": trained.conformal.to_dict(),
        "healthy": list(trained.healthy),
        "metrics": {k: (None if v != v else v) for k, v in trained.metrics.items()},  # NaN -> null
        "config": config.to_dict(),
        "device": trained.device,
        "train_seconds": trained.train_seconds,
        "epochs_run": trained.epochs_run,
        "split": {
            "train": trained.split.train,
            "validation": trained.split.validation,
            "calibration": trained.split.calibration,
        },
        "keras_version": keras.__version__,
        "backend": keras.config.backend(),
        "onnx": {"input": onnx_input, "outputs": outputs, "max_abs_diff": max_diff},
        "files": {name: sha256_file(directory / name) for name in (KERAS_FILE, ONNX_FILE)},
        **(extra or {}),
    }
    path = directory / SIDECAR_FILE
    path.write_text(json.dumps(sidecar, indent=2, allow_nan=False, default=_jsonable))
    return sha256_file(path)


def load_metadata(directory: Path, sidecar_sha256: str | None = None) -> RulMetadata:
    """Read the sidecar and verify the hashes of every file it lists (and its own, when given)."""
    path = directory / SIDECAR_FILE
    if not path.is_file():
        raise ArtifactIntegrityError(f"{path} is missing: not a RUL model directory")
    if sidecar_sha256 is not None and sha256_file(path) != sidecar_sha256:
        raise ArtifactIntegrityError(f"{path} does not match its recorded SHA-256: refusing to load it")
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactIntegrityError(f"{path} is not valid JSON: {exc}") from None
    if raw.get("format") != FORMAT:
        raise ArtifactIntegrityError(f"{path}: unknown format {raw.get('format')!r}, expected {FORMAT}")
    for name, expected in raw["files"].items():
        file = directory / name
        if not file.is_file():
            raise ArtifactIntegrityError(f"{file} is missing")
        if sha256_file(file) != expected:
            raise ArtifactIntegrityError(
                f"{file} does not match the SHA-256 in {SIDECAR_FILE}: refusing to load it"
            )
    return RulMetadata(
        scaler=FeatureScaler.from_dict(raw["scaler"]),
        conformal=Conformal.from_dict(raw["conformal"]),
        config=RulConfig.from_dict(raw["config"]),
        healthy=[float(v) for v in raw["healthy"]],
        onnx_outputs={str(k): str(v) for k, v in raw["onnx"]["outputs"].items()},
        onnx_input=str(raw["onnx"]["input"]),
        raw=raw,
    )


def load_keras_model(directory: Path, sidecar_sha256: str | None = None) -> tuple[keras.Model, RulMetadata]:
    """The Keras model (for retraining or explaining with gradients) after verifying every hash."""
    import keras

    meta = load_metadata(directory, sidecar_sha256)
    model = keras.saving.load_model(directory / KERAS_FILE, compile=False, safe_mode=True)
    return model, meta


def _match_onnx_outputs(
    model: keras.Model, onnx_path: Path, window: int, n_features: int
) -> tuple[str, dict[str, str], float]:
    """Which ONNX output is which (backends name them differently), checked on a probe batch."""
    import keras
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    probe = np.random.default_rng(0).random((4, window, n_features), dtype=np.float32)
    input_name = session.get_inputs()[0].name
    results = dict(
        zip([o.name for o in session.get_outputs()], session.run(None, {input_name: probe}), strict=True)
    )
    expected = {k: keras.ops.convert_to_numpy(v) for k, v in model(probe, training=False).items()}
    mapping: dict[str, str] = {}
    worst = 0.0
    for ours in (RUL_OUTPUT, FAILURE_OUTPUT):
        diffs = {name: float(np.max(np.abs(out.reshape(-1) - expected[ours].reshape(-1))))
                 for name, out in results.items() if out.size == expected[ours].size}  # fmt: skip
        if not diffs:
            raise ArtifactIntegrityError(f"the ONNX export has no output shaped like {ours!r}")
        name = min(diffs, key=lambda k: diffs[k])
        tolerance = 1e-2 * max(1.0, float(np.max(np.abs(expected[ours]))))
        if diffs[name] > tolerance:
            raise ArtifactIntegrityError(
                f"the ONNX export differs from Keras on {ours!r} by {diffs[name]:.3g}"
            )
        mapping[ours] = name
        worst = max(worst, diffs[name])
    return input_name, mapping, worst


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
