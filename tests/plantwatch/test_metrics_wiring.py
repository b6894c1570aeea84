"""Metrics of the simulator over HTTP, and `up` giving each long-running component its own port."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from plantwatch.embedded import EmbeddedBroker, free_port
from plantwatch.settings import Settings
from plantwatch.simulator import run_simulator
from plantwatch.up import COMPONENTS, METRICS_COMPONENTS, component_env, metrics_ports


def _scrape(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if not s.labels
    }


def test_the_simulator_serves_messages_published(mqtt_broker: EmbeddedBroker) -> None:
    port = free_port()
    settings = Settings(
        mqtt_url=mqtt_broker.url,
        api_url=f"http://127.0.0.1:{free_port()}",  # nobody there: events are dropped, readings are not
        metrics_port=port,
        simulate_sites=1,
        simulate_lines=1,
        simulate_machines=2,
        simulate_interval_s=0.01,
    )
    run_simulator(settings, max_ticks=1)  # starts the endpoint, which outlives the run in this process
    before = _scrape(port)
    run_simulator(settings.model_copy(update={"metrics_port": None}), max_ticks=3)
    after = _scrape(port)
    published = "plantwatch_simulator_messages_published_total"
    confirmed = "plantwatch_simulator_messages_confirmed_total"
    assert after[published] - before[published] == 6  # 2 machines x 3 ticks
    assert after[confirmed] - before[confirmed] == 6


def test_up_gives_each_long_running_component_its_own_metrics_port() -> None:
    ports = metrics_ports()
    assert set(ports) == set(METRICS_COMPONENTS) == {"ingest", "scheduler", "classify", "api", "simulate"}
    assert len(set(ports.values())) == len(ports)
    base = {"DATABASE_URL": "postgresql://x", "PLANTWATCH_METRICS_PORT": "9999"}
    keys = {"dashboard": "pw_dash", "simulate": "pw_sim"}
    envs = {name: component_env(name, base, keys, ports) for name in COMPONENTS}
    for name in METRICS_COMPONENTS:
        assert envs[name]["PLANTWATCH_METRICS_PORT"] == str(ports[name])
    # The dashboard serves no metrics, and never inherits up's own port.
    assert "PLANTWATCH_METRICS_PORT" not in envs["dashboard"]
    assert envs["simulate"]["PLANTWATCH_API_KEY"] == "pw_sim" and "PLANTWATCH_API_KEY" not in envs["ingest"]
    assert all(env["DATABASE_URL"] == "postgresql://x" for env in envs.values())
