"""A model directory: Keras file, ONNX export and a JSON sidecar with the SHA-256 of each, verified on load.

Shared by every kind of model (RUL, quality control). `write_model_dir` saves the Keras model, exports a
float32 copy to ONNX with a fixed input signature, checks on a probe batch that ONNX Runtime gives what
Keras gives (and records which ONNX output is which), then writes the sidecar listing each file's hash
and returns the sidecar's own hash (the model registry keeps it). `read_sidecar` verifies all of it
before anything is opened and raises `ArtifactIntegrityError` on any mismatch. Nothing is unpickled:
the sidecar is JSON and Keras files load with `safe_mode=True`. Keras is imported only inside the
functions that need it, so that serving (ONNX Runtime only) never loads it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import keras

log = logging.getLogger(__name__)

KERAS_FILE = "model.keras"
ONNX_FILE = "model.onnx"
SIDECAR_FILE = "model.json"


class ArtifactIntegrityError(RuntimeError):
    """A model file is missing, altered or not what the sidecar (or the registry) says it is."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_model_dir(
    directory: Path,
    model: keras.Model,
    export: keras.Model,
    input_name: str,
    probe: NDArray[np.float32],
    format: str,
    fields: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Save `model` (Keras) and `export` (its float32 twin) to ONNX, then the sidecar; returns its SHA-256.

    The ONNX input takes float32 batches shaped like `probe` with any batch size. The sidecar is
    `{"format", **fields, keras_version, backend, onnx, files, **extra}`.
    """
    import keras  # here, not at import time: serving needs only ONNX Runtime

    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory / KERAS_FILE)
    onnx_path = directory / ONNX_FILE
    signature = [keras.InputSpec(shape=(None, *probe.shape[1:]), dtype="float32", name=input_name)]
    export.export(str(onnx_path), format="onnx", verbose=False, input_signature=signature)
    onnx_input, outputs, max_diff = match_onnx_outputs(onnx_path, probe, keras_outputs(export, probe))
    log.info("ONNX export matches Keras within %.2g", max_diff)
    sidecar = {
        "format": format,
        **fields,
        "keras_version": keras.__version__,
        "backend": keras.config.backend(),
        "onnx": {"input": onnx_input, "outputs": outputs, "max_abs_diff": max_diff},
        "files": {name: sha256_file(directory / name) for name in (KERAS_FILE, ONNX_FILE)},
        **(extra or {}),
    }
    path = directory / SIDECAR_FILE
    path.write_text(json.dumps(sidecar, indent=2, allow_nan=False, default=jsonable))
    return sha256_file(path)


def keras_outputs(model: keras.Model, x: NDArray[np.float32]) -> dict[str, NDArray[Any]]:
    """The model's outputs on `x` by name (a single output by its layer's name, else "output")."""
    import keras

    out = model(x, training=False)
    if isinstance(out, Mapping):
        return {str(k): keras.ops.convert_to_numpy(v) for k, v in out.items()}
    names = list(getattr(model, "output_names", None) or ["output"])
    return {str(names[0]): keras.ops.convert_to_numpy(out)}


def match_onnx_outputs(
    onnx_path: Path, probe: NDArray[np.float32], expected: Mapping[str, NDArray[Any]]
) -> tuple[str, dict[str, str], float]:
    """(ONNX input name, our output name -> ONNX output name, worst difference), checked on `probe`.

    Backends name ONNX outputs differently, so each of ours is matched to the same-sized ONNX output
    closest to it; a difference beyond 1 % of the output's scale is an `ArtifactIntegrityError`.
    """
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    results = dict(
        zip([o.name for o in session.get_outputs()], session.run(None, {input_name: probe}), strict=True)
    )
    mapping: dict[str, str] = {}
    worst = 0.0
    for ours, want in expected.items():
        diffs = {name: float(np.max(np.abs(out.reshape(-1) - want.reshape(-1))))
                 for name, out in results.items() if out.size == want.size}  # fmt: skip
        if not diffs:
            raise ArtifactIntegrityError(f"the ONNX export has no output shaped like {ours!r}")
        name = min(diffs, key=lambda k: diffs[k])
        tolerance = 1e-2 * max(1.0, float(np.max(np.abs(want))))
        if diffs[name] > tolerance:
            raise ArtifactIntegrityError(
                f"the ONNX export differs from Keras on {ours!r} by {diffs[name]:.3g}"
            )
        mapping[ours] = name
        worst = max(worst, diffs[name])
    return input_name, mapping, worst


def read_sidecar(
    directory: Path, format: str, kind: str, sidecar_sha256: str | None = None
) -> dict[str, Any]:
    """The sidecar of a `format` model directory after verifying every file hash (and its own, when given).

    `kind` names the model in messages ("RUL", "quality-control").
    """
    path = directory / SIDECAR_FILE
    if not path.is_file():
        raise ArtifactIntegrityError(f"{path} is missing: not a {kind} model directory")
    if sidecar_sha256 is not None and sha256_file(path) != sidecar_sha256:
        raise ArtifactIntegrityError(f"{path} does not match its recorded SHA-256: refusing to load it")
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactIntegrityError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict) or raw.get("format") != format:
        found = raw.get("format") if isinstance(raw, dict) else None
        raise ArtifactIntegrityError(f"{path}: unknown format {found!r}, expected {format}")
    files = raw.get("files")
    if not isinstance(files, dict) or set(files) != {KERAS_FILE, ONNX_FILE}:
        raise ArtifactIntegrityError(f"{path} does not list the hashes of {KERAS_FILE} and {ONNX_FILE}")
    for name, expected in files.items():
        file = directory / name
        if not file.is_file():
            raise ArtifactIntegrityError(f"{file} is missing")
        if sha256_file(file) != expected:
            raise ArtifactIntegrityError(
                f"{file} does not match the SHA-256 in {SIDECAR_FILE}: refusing to load it"
            )
    return raw


def load_keras_file(directory: Path) -> keras.Model:
    """The Keras model of a directory whose sidecar was verified (`read_sidecar`), in safe mode."""
    import keras

    return keras.saving.load_model(directory / KERAS_FILE, compile=False, safe_mode=True)


def jsonable(value: Any) -> Any:
    """`json.dumps` default for numpy scalars and arrays."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
