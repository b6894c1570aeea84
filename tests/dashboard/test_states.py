"""Error, empty and login states: each says what to do next."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.tables import ApiKey
from plantwatch.embedded import free_port
from plantwatch.settings import get_settings
from services.api_keys import create_key
from tests.dashboard.conftest import ApiServer, Seed, app_test


def use_env(monkeypatch: pytest.MonkeyPatch, **values: str | None) -> None:
    for name, value in values.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    get_settings.cache_clear()


@pytest.mark.parametrize("page", [None, "views/machine.py"])
def test_api_down_says_to_start_the_api(
    dashboard_env: Seed, monkeypatch: pytest.MonkeyPatch, page: str | None
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    use_env(monkeypatch, PLANTWATCH_API_URL=url)
    at = app_test().run()
    if page:
        at.switch_page(page).run()

    assert not at.exception
    assert at.error[0].value.startswith(
        f"Cannot reach the plantwatch API at {url}: is `plantwatch api` running?"
    )
    assert not at.dataframe and not at.get("vega_lite_chart")


def test_refused_key_asks_for_a_valid_one_and_pasting_one_logs_in(
    dashboard_env: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_env(monkeypatch, PLANTWATCH_API_KEY="pw_00000000_not-a-real-key")
    at = app_test().run()

    assert at.main.error[0].value.startswith("Your API key was refused: paste a valid key")
    assert at.sidebar.error[0].value.startswith("The API refused this key")
    at.sidebar.text_input(key="pw_login_key").input(dashboard_env.engineer_key)
    at.sidebar.button(key="pw_login_submit").click().run()

    assert not at.error
    assert at.metric[0].value == "4"
    assert at.sidebar.caption[0].value == "Logged in as **dash-engineer** (engineer)"


def test_a_key_revoked_while_logged_in_asks_for_another_on_the_next_page(
    dashboard_env: Seed, api_server: ApiServer, session_factory: sessionmaker[Session]
) -> None:
    at = app_test().run()
    assert at.sidebar.caption[0].value.startswith("Logged in as **dash-engineer**")
    with transaction(session_factory) as session:
        admin = create_key(session, "dash-admin", "admin")[1]
        key_id = session.scalars(select(ApiKey.id).where(ApiKey.name == "dash-engineer")).one()
    httpx.delete(f"{api_server.url}/api/v1/keys/{key_id}", headers={"X-API-Key": admin}).raise_for_status()

    # The sidebar still knows who was logged in (for a minute); the page, reading afresh, is refused.
    at.switch_page("views/alerts.py").run()

    assert at.main.error[0].value.startswith("Your API key was refused: paste a valid key")
    assert at.sidebar.error[0].value.startswith("The API refused this key")
    assert at.sidebar.text_input(key="pw_login_key") is not None


def test_without_a_key_the_sidebar_asks_for_one_and_logout_forgets_it(
    dashboard_env: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_env(monkeypatch, PLANTWATCH_API_KEY=None)
    at = app_test().run()

    assert at.info[0].value.startswith("Paste your plantwatch API key in the sidebar")
    assert not at.metric
    at.sidebar.text_input(key="pw_login_key").input(dashboard_env.viewer_key)
    at.sidebar.button(key="pw_login_submit").click().run()
    assert at.metric[0].value == "4"
    assert at.session_state["pw_api_key"] == dashboard_env.viewer_key

    at.sidebar.button(key="pw_logout").click().run()
    assert "pw_api_key" not in at.session_state
    assert at.info[0].value.startswith("Paste your plantwatch API key")
    assert at.sidebar.text_input(key="pw_login_key").value == ""


def test_logout_also_sets_aside_the_key_from_the_environment(dashboard_env: Seed) -> None:
    at = app_test().run()
    assert (
        at.sidebar.caption[0].value == "Logged in as **dash-engineer** (engineer) (from PLANTWATCH_API_KEY)"
    )

    at.sidebar.button(key="pw_logout").click().run()

    assert not at.metric
    assert at.sidebar.text_input(key="pw_login_key") is not None


def test_no_machines_says_how_to_get_some(
    dashboard_env: Seed, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session, session.begin():
        session.execute(text("TRUNCATE machines, sensors, readings, machine_events CASCADE"))

    for page in (None, "views/machine.py"):
        at = app_test().run()
        if page:
            at.switch_page(page).run()
        assert at.info[0].value.startswith(
            "No machines yet: start the simulator (`plantwatch simulate`) or publish readings to "
            "`plantwatch/v1/<site>/<line>/<machine>/telemetry`"
        )


def test_pages_render_with_auto_refresh_on(dashboard_env: Seed, monkeypatch: pytest.MonkeyPatch) -> None:
    use_env(monkeypatch, PLANTWATCH_DASHBOARD_REFRESH_S="10")
    at = app_test().run()
    assert not at.exception and at.metric[0].value == "4"

    at.query_params["machine"] = "plant-a/press/m1"
    at.switch_page("views/machine.py").run()
    assert not at.exception and len(at.get("vega_lite_chart")) == 2
