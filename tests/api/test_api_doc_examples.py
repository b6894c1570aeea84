"""docs/api.md is true: every `bash` example runs, in order, against a real API on a seeded database.

The API is uvicorn in a thread on a free port; the examples run with `bash -euo pipefail` and the
environment the page describes (PLANTWATCH_URL and a key per role; DATABASE_URL for the
`plantwatch apikey` commands). An example must exit 0 (its `curl -f` fails on an HTTP error), and
where the page shows a ```json response right after it, the output must be JSON with every key shown
(recursively; list items pairwise) and the same value for the keys in VALUES_CHECKED. Only blocks
whose first line is SKIP_MARK are not run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories.assets import register_machine, register_sensors
from db.tables import Machine, Prediction, Sensor
from plantwatch.settings import Settings
from services import alerts
from tests.api.conftest import insert_readings
from tests.live_api import ApiServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
SKIP_MARK = "# not run by the test"
FENCE = re.compile(r"^```(?P<lang>\w*)[^\n]*\n(?P<code>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
# Values the page's responses must show exactly as the API answers them (other keys: presence only).
VALUES_CHECKED = frozenset({"error", "state", "status", "kind", "path", "machine", "external_code"})
MIN_RUNNABLE = 20  # the page has more; fewer means the blocks are no longer found
EXAMPLE_TIMEOUT_S = 60


@dataclass(frozen=True)
class Example:
    line: int  # of the opening fence in docs/api.md
    code: str
    response: Any | None  # the JSON shown right after the block, if any


def bash_examples(markdown: str) -> list[Example]:
    """Every ```bash block, with the ```json block that follows it with nothing but blank lines between."""
    fences = list(FENCE.finditer(markdown))
    examples = []
    for i, fence in enumerate(fences):
        if fence.group("lang") != "bash":
            continue
        response = None
        after = fences[i + 1] if i + 1 < len(fences) else None
        if (
            after is not None
            and after.group("lang") == "json"
            and not markdown[fence.end() : after.start()].strip()
        ):
            response = json.loads(after.group("code"))
        line = markdown.count("\n", 0, fence.start()) + 1
        examples.append(Example(line=line, code=fence.group("code"), response=response))
    return examples


def assert_shape(shown: Any, got: Any, where: str = "response") -> None:
    """`got` has every key of `shown` (nested dicts, list items pairwise), and its VALUES_CHECKED."""
    if isinstance(shown, dict):
        assert isinstance(got, dict), f"{where}: the page shows an object, the API answered {got!r}"
        missing = sorted(shown.keys() - got.keys())
        assert not missing, f"{where}: the API's answer has no {missing}; it has {sorted(got)}"
        for key, value in shown.items():
            if key in VALUES_CHECKED:
                assert got[key] == value, f"{where}.{key}: the page shows {value!r}, the API {got[key]!r}"
            assert_shape(value, got[key], f"{where}.{key}")
    elif isinstance(shown, list):
        assert isinstance(got, list), f"{where}: the page shows a list, the API answered {got!r}"
        assert len(got) >= len(shown), f"{where}: the page shows {len(shown)} items, the API {len(got)}"
        for index, item in enumerate(shown):
            assert_shape(item, got[index], f"{where}[{index}]")


def run_example(example: Example, env: dict[str, str], cwd: Path) -> None:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", example.code],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=EXAMPLE_TIMEOUT_S,
    )
    said = (
        f"docs/api.md line {example.line}:\n{example.code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    )
    assert result.returncode == 0, f"exit code {result.returncode}, {said}"
    if example.response is not None:
        try:
            got = json.loads(result.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"not JSON ({exc}), {said}") from exc
        try:
            assert_shape(example.response, got)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{said}") from exc


@pytest.fixture(scope="module")
def api_server(migrated_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed; the examples of docs/api.md are curl commands")
    server = ApiServer(Settings(database_url=migrated_url, var_dir=tmp_path_factory.mktemp("api-var")))
    server.start()
    yield server
    server.stop()


def seed_press_line(session_factory: sessionmaker[Session]) -> None:
    """s1/press/p7 (id 1; sensors, readings, an `ok` prediction) and s1/press/p8 (id 2, not scored);
    open alerts 42 (rul_low on p7) and 43 (sensor_stuck on p8), the ids the page uses."""
    now = datetime.now(UTC).replace(microsecond=0)
    with transaction(session_factory) as session:
        p7 = register_machine(session, "s1", "press", "p7").id
        p8 = register_machine(session, "s1", "press", "p8").id
        session.execute(update(Machine).values(machine_type="press"))
        register_sensors(session, p7, ["temperature", "vibration"])
        session.execute(
            update(Sensor)
            .where(Sensor.machine_id == p7, Sensor.name == "temperature")
            .values(unit="degC", normal_min=20.0, normal_max=80.0)
        )
        insert_readings(session, p7, [(now - timedelta(minutes=2 - i), [47.0 + i, 2.4]) for i in range(3)])
        session.add(
            Prediction(
                machine_id=p7, made_at=now, status="ok", rul=41.5, rul_low=28.0, rul_high=57.0,
                failure_probability=0.22, health_score=63.0,
                detail={
                    "coverage": 0.9, "horizon": 30.0, "reasons": [],
                    "top_sensors": [{"sensor": "vibration", "score": 12.4}],
                    "health_sensors": [{"sensor": "vibration", "z": 3.1}],
                    "rul_model": {"id": 3, "version": 2}, "health_model": {"id": 4, "version": 1},
                },
            )
        )  # fmt: skip
        session.execute(text("SELECT setval(pg_get_serial_sequence('alerts', 'id'), 41)"))
        detail = {"value": 17.0, "warning": 50.0, "critical": 20.0}
        message = "predicted RUL 17 (90% interval 6 to 31); threshold 20"
        assert (
            alerts.raise_or_update(session, p7, "rul_low", "critical", message, now, detail=detail).id == 42
        )
        stuck = "sensor vibration reported 2.4 for 30 minutes"
        assert alerts.raise_or_update(session, p8, "sensor_stuck", "warning", stuck, now).id == 43


@pytest.fixture
def doc_env(
    api_server: ApiServer,
    db_url: str,
    keys: dict[str, str],
    session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> dict[str, str]:
    """The environment docs/api.md describes, on freshly seeded tables."""
    seed_press_line(session_factory)
    venv_bin = str(Path(sys.executable).parent)  # where `plantwatch` is installed
    return {
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "DATABASE_URL": db_url,
        "PLANTWATCH_VAR_DIR": str(tmp_path / "var"),
        "PLANTWATCH_URL": api_server.url,
        "PLANTWATCH_KEY": keys["mes"],
        "PLANTWATCH_ENGINEER_KEY": keys["engineer"],
        "PLANTWATCH_ADMIN_KEY": keys["admin"],
    }


def test_every_example_of_the_api_doc_runs(doc_env: dict[str, str], tmp_path: Path) -> None:
    examples = bash_examples(DOC.read_text(encoding="utf-8"))
    runnable = [e for e in examples if not e.code.startswith(SKIP_MARK)]
    skipped = [e for e in examples if e.code.startswith(SKIP_MARK)]
    assert len(runnable) >= MIN_RUNNABLE, f"only {len(runnable)} runnable bash blocks found in {DOC}"
    assert all("curl" not in e.code for e in skipped), "a skipped block holds a curl example"
    assert sum(e.response is not None for e in runnable) >= MIN_RUNNABLE // 2
    for example in runnable:
        run_example(example, doc_env, tmp_path)


def test_a_broken_example_fails(doc_env: dict[str, str], tmp_path: Path) -> None:
    """The checks bite: a wrong path fails by curl -f; a key or error code the API lacks, by the response."""
    broken_path = Example(
        1, 'curl -sf -H "X-API-Key: $PLANTWATCH_KEY" "$PLANTWATCH_URL/api/v1/machinez"\n', None
    )
    with pytest.raises(AssertionError, match="exit code 22"):
        run_example(broken_path, doc_env, tmp_path)
    me = 'curl -sf -H "X-API-Key: $PLANTWATCH_KEY" "$PLANTWATCH_URL/api/v1/me"\n'
    with pytest.raises(AssertionError, match="has no \\['department'\\]"):
        run_example(Example(1, me, {"name": "mes-key", "department": "maintenance"}), doc_env, tmp_path)
    no_key = 'curl -s "$PLANTWATCH_URL/api/v1/machines"\n'
    with pytest.raises(AssertionError, match="error: the page shows 'forbidden'"):
        run_example(Example(1, no_key, {"error": "forbidden"}), doc_env, tmp_path)
