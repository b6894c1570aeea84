"""The production deployment files: docker-compose.yml, the Mosquitto config, the image and .env.example.

Structure is checked with PyYAML; `docker compose config` runs only where Docker Compose is installed;
our Mosquitto configuration is started for real when `mosquitto` is on PATH.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml

from jobs.scheduler import HEARTBEAT_FILE
from plantwatch.embedded import free_port, wait_for_port
from plantwatch.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPONENTS = {
    "migrate": ["db", "upgrade"],
    "scheduler": ["scheduler"],
    "classify": ["classify"],
    "api": ["api"],
    "dashboard": ["dashboard"],
}
INGEST_REPLICAS = ["ingest-1", "ingest-2"]
LONG_RUNNING = ["postgres", "mosquitto", *INGEST_REPLICAS, "scheduler", "classify", "api", "dashboard"]


class _ComposeLoader(yaml.SafeLoader):
    """PyYAML's safe loader plus Compose's `!reset` tag (loaded as the pair ("!reset", None))."""


_ComposeLoader.add_constructor("!reset", lambda loader, node: ("!reset", None))


def _load(path: Path) -> dict[str, Any]:
    loaded = yaml.load(path.read_text(), Loader=_ComposeLoader)
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _load(ROOT / "docker-compose.yml")


def mosquitto_conf() -> dict[str, list[str]]:
    options: dict[str, list[str]] = {}
    for line in (ROOT / "deploy" / "mosquitto.conf").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.strip().partition(" ")
            options.setdefault(key, []).append(value.strip())
    return options


def test_every_service_is_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == set(LONG_RUNNING) | set(COMPONENTS)
    assert compose["services"]["postgres"]["image"] == "postgres:16"
    assert compose["services"]["mosquitto"]["image"] == "eclipse-mosquitto:2"


def test_components_share_one_image_and_differ_by_command(compose: dict[str, Any]) -> None:
    services = compose["services"]
    images = {services[name]["image"] for name in [*COMPONENTS, *INGEST_REPLICAS]}
    builds = {repr(services[name]["build"]) for name in [*COMPONENTS, *INGEST_REPLICAS]}
    assert len(images) == 1 and len(builds) == 1
    assert services["api"]["build"]["context"] == "."
    for name, command in COMPONENTS.items():
        assert services[name]["command"] == command, name
        assert "plantwatch-var:/var/lib/plantwatch" in services[name]["volumes"]
        # One images folder for all: ingest writes it, the API and the classifier read it.
        assert "plantwatch-images:/var/lib/plantwatch-images" in services[name]["volumes"]
        assert services[name]["environment"]["PLANTWATCH_IMAGES_DIR"] == "/var/lib/plantwatch-images"
        assert services[name]["env_file"] == ".env"
        environment = services[name]["environment"]
        assert environment["PLANTWATCH_API_HOST"] == environment["PLANTWATCH_DASHBOARD_HOST"] == "0.0.0.0"
    assert services["dashboard"]["environment"]["PLANTWATCH_API_URL"] == "http://api:8000"
    assert services["migrate"]["restart"] == "no"


def test_start_order_and_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in LONG_RUNNING:
        check = services[name].get("healthcheck", {}).get("test")
        assert check and check[0] in ("CMD", "CMD-SHELL"), f"{name} has no health check"
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"][1]
    assert "http://127.0.0.1:8000/healthz" in services["api"]["healthcheck"]["test"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in (*INGEST_REPLICAS, "scheduler", "classify", "api"):
        depends = services[name]["depends_on"]
        assert depends["postgres"] == {"condition": "service_healthy"}, name
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
    for name in INGEST_REPLICAS:
        assert services[name]["depends_on"]["mosquitto"] == {"condition": "service_healthy"}
    assert services["dashboard"]["depends_on"]["api"] == {"condition": "service_healthy"}
    # The scheduler's health check reads the heartbeat file the scheduler touches.
    assert f"/tmp/{HEARTBEAT_FILE.name}" in services["scheduler"]["healthcheck"]["test"]


def test_ports_gpu_and_named_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["api"]["ports"] == ["8000:8000"]
    assert services["dashboard"]["ports"] == ["8501:8501"]
    assert services["mosquitto"]["ports"] == ["1883:1883"]
    (device,) = services["scheduler"]["deploy"]["resources"]["reservations"]["devices"]
    assert device == {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}
    spools = {f"{name}-spool" for name in INGEST_REPLICAS}
    assert (
        set(compose["volumes"])
        == {"pgdata", "mosquitto-data", "plantwatch-var", "plantwatch-images"} | spools
    )
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "mosquitto-data:/mosquitto/data" in services["mosquitto"]["volumes"]
    cpu = _load(ROOT / "deploy" / "compose.cpu.yaml")
    assert cpu["services"]["scheduler"]["deploy"] == ("!reset", None)


def test_ingest_replicas_share_the_load_each_with_its_session_and_spool(compose: dict[str, Any]) -> None:
    services = compose["services"]
    client_ids = set()
    for name in INGEST_REPLICAS:
        replica = services[name]
        assert replica["command"] == ["ingest"] and replica["restart"] == "unless-stopped"
        environment = replica["environment"]
        assert environment["PLANTWATCH_MQTT_CLIENT_ID"] == f"plantwatch-{name}"
        assert environment["PLANTWATCH_INGEST_SHARED_GROUP"] == "plantwatch"
        assert environment["PLANTWATCH_VAR_DIR"] == "/var/lib/plantwatch"
        # Its own volume for its spool (never the shared one), and time to finish the batch in hand.
        assert replica["volumes"] == [
            f"{name}-spool:/var/lib/plantwatch",
            "plantwatch-images:/var/lib/plantwatch-images",
        ]
        assert replica["stop_grace_period"] == "30s" and replica["healthcheck"]["test"][0] == "CMD"
        assert int(environment["PLANTWATCH_METRICS_PORT"]) > 0
        client_ids.add(environment["PLANTWATCH_MQTT_CLIENT_ID"])
    assert len(client_ids) == len(INGEST_REPLICAS)


def test_our_mosquitto_config_is_mounted_and_queues_generously(compose: dict[str, Any]) -> None:
    mounts = {m["target"]: m for m in compose["services"]["mosquitto"]["volumes"] if isinstance(m, dict)}
    config = mounts["/mosquitto/config/mosquitto.conf"]
    assert config["source"] == "./deploy/mosquitto.conf" and config["read_only"] is True
    options = mosquitto_conf()
    assert int(options["max_queued_messages"][0]) >= 100_000
    assert options["max_queued_bytes"] == ["0"]
    inflight = int(options["max_inflight_messages"][0])
    # Ingest acknowledges after commit: the in-flight window must hold at least a full batch.
    assert inflight == 0 or inflight >= Settings.model_fields["ingest_batch_messages"].default
    assert options["persistence"] == ["true"] and options["persistence_location"] == ["/mosquitto/data/"]
    assert options["listener"] == ["1883"]
    assert options["allow_anonymous"] == ["false"]
    (password_file,) = options["password_file"]
    assert mounts[password_file]["source"] == "./deploy/mosquitto.passwd"


def test_env_example_names_real_settings_and_every_compose_variable(compose: dict[str, Any]) -> None:
    example = (ROOT / ".env.example").read_text()
    names = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, re.MULTILINE))
    assert {"DATABASE_URL", "MQTT_URL", "PLANTWATCH_API_KEY", "POSTGRES_PASSWORD"} <= names
    compose_only = {"PLANTWATCH_IMAGE", "PLANTWATCH_GPU_IMAGE"}
    settings = {f"PLANTWATCH_{name.upper()}" for name in Settings.model_fields}
    unknown = {n for n in names if n.startswith("PLANTWATCH_")} - settings - compose_only
    assert not unknown, f".env.example names settings that do not exist: {unknown}"
    used = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()))
    assert used <= names, f"compose variables missing from .env.example: {used - names}"
    # The example's URLs agree with the PostgreSQL credentials it sets.
    values = dict(re.findall(r"^([A-Z_]+)=(.*)$", example, re.MULTILINE))
    user, password, db = values["POSTGRES_USER"], values["POSTGRES_PASSWORD"], values["POSTGRES_DB"]
    assert values["DATABASE_URL"] == f"postgresql://{user}:{password}@postgres:5432/{db}"
    assert values["MQTT_URL"].endswith("@mosquitto:1883")


def test_dockerfile_and_dockerignore() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.MULTILINE)
    (user,) = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert user not in ("root", "0")
    assert 'ENTRYPOINT ["plantwatch"]' in dockerfile
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".venv", "var", ".git", "deploy/mosquitto.passwd"} <= ignored
    assert "deploy" not in ignored and "README.md" not in ignored  # health checks; pip install needs it


def test_requirements_for_the_image_layer() -> None:
    def run(*extra: str) -> list[str]:
        script = ROOT / "deploy" / "requirements.py"
        done = subprocess.run(
            [sys.executable, str(script), str(ROOT / "pyproject.toml"), *extra],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.split()

    cpu, gpu = run(), run("--gpu")
    assert any(r.startswith("tensorflow>") for r in cpu) and not any("and-cuda" in r for r in cpu)
    assert any(r.startswith("tensorflow[and-cuda]") for r in gpu)
    assert len(cpu) == len(gpu) and any(r.startswith("fastapi") for r in cpu)


def _healthcheck(*args: str) -> int:
    script = ROOT / "deploy" / "healthcheck.py"
    return subprocess.run([sys.executable, str(script), *args], capture_output=True).returncode


def test_healthcheck_script(tmp_path: Path) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 503)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert _healthcheck("http", f"{base}/healthz") == 0
        assert _healthcheck("http", f"{base}/broken") == 1
        assert _healthcheck("tcp", f"127.0.0.1:{server.server_address[1]}") == 0
    finally:
        server.shutdown()
        server.server_close()
    assert _healthcheck("tcp", f"127.0.0.1:{free_port()}") == 1
    beat = tmp_path / "alive"
    assert _healthcheck("fresh", str(beat), "60") == 1
    beat.touch()
    assert _healthcheck("fresh", str(beat), "60") == 0
    old = time.time() - 120
    os.utime(beat, (old, old))
    assert _healthcheck("fresh", str(beat), "60") == 1
    assert _healthcheck("nonsense") == 2


@pytest.fixture
def our_mosquitto() -> Iterator[int]:
    """Mosquitto from PATH running deploy/mosquitto.conf (paths moved into a temporary folder)."""
    binary, passwd = shutil.which("mosquitto"), shutil.which("mosquitto_passwd")
    if binary is None or passwd is None:
        pytest.skip("mosquitto and mosquitto_passwd are not on PATH")
    # World-readable: Mosquitto started as root drops to its own user before reading the password file.
    work = Path(tempfile.mkdtemp(prefix="plantwatch-mosquitto-"))
    work.chmod(0o777)
    subprocess.run(
        [passwd, "-c", "-b", str(work / "passwd"), "line1", "s3cret"], check=True, capture_output=True
    )
    (work / "passwd").chmod(0o644)
    port = free_port()
    config = (ROOT / "deploy" / "mosquitto.conf").read_text()
    config = config.replace("/mosquitto/config/passwd", str(work / "passwd"))
    config = config.replace("/mosquitto/data/", f"{work}/")
    config = config.replace("listener 1883", f"listener {port} 127.0.0.1")
    (work / "mosquitto.conf").write_text(config)
    (work / "mosquitto.conf").chmod(0o644)
    log = open(work / "log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen([binary, "-c", str(work / "mosquitto.conf")], stdout=log, stderr=log)
    try:
        if not wait_for_port(port, 10):
            pytest.fail(f"mosquitto did not start with our config: {(work / 'log').read_text()}")
        yield port
    finally:
        process.terminate()
        process.wait(10)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def _connack(port: int, username: str | None = None, password: str | None = None) -> str:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    if username is not None:
        client.username_pw_set(username, password)
    answered = threading.Event()
    reason: list[str] = []

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, code: Any, properties: Any) -> None:
        reason.append(str(code))
        answered.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert answered.wait(5), "no CONNACK"
    finally:
        client.disconnect()
        client.loop_stop()
    return reason[0]


def test_our_mosquitto_config_runs_and_requires_a_password(our_mosquitto: int) -> None:
    assert _connack(our_mosquitto, "line1", "s3cret") == "Success"
    assert _connack(our_mosquitto) != "Success"
    assert _connack(our_mosquitto, "line1", "wrong") != "Success"


def _compose_available() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    return subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _compose_available(), reason="Docker Compose (`docker compose`) is not installed")
def test_docker_compose_config_is_valid(tmp_path: Path) -> None:
    for name in ("docker-compose.yml", "Dockerfile", ".dockerignore"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    (tmp_path / "deploy" / "mosquitto.passwd").touch()
    base = ["docker", "compose", "-f", "docker-compose.yml"]
    for command in (base, [*base, "-f", "deploy/compose.cpu.yaml"]):
        done = subprocess.run([*command, "config", "-q"], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [*base, "-f", "deploy/compose.cpu.yaml", "config", "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "deploy" not in json.loads(done.stdout)["services"]["scheduler"]
