"""Property-based tests of the whole API from its OpenAPI schema (schemathesis): whatever a client
sends that the schema allows (positive cases), the API answers without a 5xx, with a documented
status and content type and a body that matches the schema; what the schema forbids (negative cases:
wrong types, values out of range, missing required fields) it refuses with a 4xx, never a 5xx. Runs
as admin so that every route is reached; revoking keys runs last, so that a generated key id that
happens to be the test's own cannot lock the other operations out.

Not checked: that every schema-valid request is accepted (`positive_data_acceptance`). The schema
cannot say all the API's rules (timestamps between 1900 and 9000, cursors the API gave out, a page
at most PLANTWATCH_API_MAX_PAGE, "ids or reason, not both"); those answer 422 with the reason."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from api.app import create_app
from plantwatch.settings import Settings
from tests.api.conftest import Fleet, auth

EXAMPLES = 12  # positive cases per operation: about 30 s for all of them
NEGATIVE_EXAMPLES = 6
OFFLINE_URL = "postgresql+psycopg://nobody@127.0.0.1:1/none"  # the schema needs no database
LAST = ("DELETE", "/api/v1/keys/{key_id}")
OPERATIONS = sorted(
    ((method.upper(), path)
     for path, methods in create_app(Settings(database_url=OFFLINE_URL)).openapi()["paths"].items()
     for method in methods),
    key=lambda operation: (operation == LAST, operation),
)  # fmt: skip


def test_the_api_keeps_its_schema(api_settings: Settings, fleet: Fleet, keys: dict[str, str]) -> None:
    """Every operation in one test (one app, one seed: an app and a seed per operation would cost a
    minute of CI); every operation's failure is reported at the end."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(api_settings))
    headers = auth(keys["admin"])
    failures = {}
    for method, path in OPERATIONS:
        for mode, examples in (
            (GenerationMode.POSITIVE, EXAMPLES),
            (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES),
        ):

            @given(case=schema[path][method].as_strategy(generation_mode=mode))
            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Any) -> None:
                case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

            try:
                check()
            except Unsatisfiable:  # nothing to get wrong: no parameter and no body (the probes)
                assert mode is GenerationMode.NEGATIVE, f"{method} {path}: no positive case"
            except (Exception, BaseExceptionGroup) as error:  # schemathesis groups what it found
                failures[f"{method} {path} ({mode.value})"] = str(error)[:3000]
    assert not failures, "\n\n".join(f"{name}:\n{text}" for name, text in failures.items())
