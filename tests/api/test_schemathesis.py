"""Property-based tests of the whole API from its OpenAPI schema (schemathesis): whatever a client
sends that the schema allows, or nearly allows, the API answers without a 5xx, with a documented
status and content type, a body that matches the schema, and refuses what the schema forbids. Runs
as admin so that every route is reached.

Not checked: that every schema-valid request is accepted (`positive_data_acceptance`). The schema
cannot say all the API's rules (timestamps between 1900 and 9000, cursors the API gave out, a page
at most PLANTWATCH_API_MAX_PAGE, "ids or reason, not both"); those answer 422 with the reason."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from api.app import create_app
from plantwatch.settings import Settings
from tests.api.conftest import Fleet, auth

EXAMPLES = 12  # per operation: about 30 s for all of them
OFFLINE_URL = "postgresql+psycopg://nobody@127.0.0.1:1/none"  # the schema needs no database
OPERATIONS = sorted(
    (method.upper(), path)
    for path, methods in create_app(Settings(database_url=OFFLINE_URL)).openapi()["paths"].items()
    for method in methods
)


def test_the_api_keeps_its_schema(api_settings: Settings, fleet: Fleet, keys: dict[str, str]) -> None:
    """Every operation in one test (one app, one seed: an app and a seed per operation would cost a
    minute of CI); every operation's failure is reported at the end."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(api_settings))
    headers = auth(keys["admin"])
    failures = {}
    for method, path in OPERATIONS:

        @given(case=schema[path][method].as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def check(case: Any) -> None:
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        try:
            check()
        except Exception as error:
            failures[f"{method} {path}"] = str(error)[:3000]
    assert not failures, "\n\n".join(f"{name}:\n{text}" for name, text in failures.items())
