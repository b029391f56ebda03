"""Schemathesis drives the API from its own OpenAPI document, as a district's fuzzer would.

Every operation gets generated requests, valid and invalid; each answer must not be a server error,
must use a documented status code and content type, and must match the documented schema; data the
schema forbids must be refused. The app runs on SQLite with a seeded building, a Data Privacy Team
token (every action) and Flask's TESTING mode, so an unhandled exception fails the test outright.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance, negative_data_rejection, not_a_server_error,
    response_schema_conformance, status_code_conformance,
)

from hub.auth import services as auth_services
from hub.db import get_database
from hub.keyring import get_keyring
from tests.hub.conftest import NOW, make_test_app
from tests.hub.factories import seed


@pytest.fixture
def fuzz_app(tmp_path):
    """The hub on SQLite with two buildings of people, cards and doors."""
    app = make_test_app(f"sqlite:///{tmp_path}/hub.db", tmp_path)
    with get_database(app).session() as s:
        seed(s, get_keyring(app), NOW)
        seed(s, get_keyring(app), NOW, building="adams", controllers=1, holders=("A1",))
    yield app
    get_database(app).dispose()


@pytest.fixture
def api_schema(fuzz_app):
    """The API's own document, loaded through the app, with a Data Privacy Team token (every route).

    The token goes in through Schemathesis' auth hook so that its negative mode knows the header is
    the credential and does not count "request sent without Authorization" as data we accepted.
    """
    with get_database(fuzz_app).session() as s:
        _tok, raw = auth_services.create_api_token(
            s, auth_services.console_actor("fuzz"), name="fuzz", role="privacy_team", buildings=[],
            actions=None, days=1, max_days=365, now=datetime.now(UTC))
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app)

    @schema.auth()
    class Bearer:
        def get(self, case, context):
            return raw

        def set(self, case, data, context):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    return schema


OPERATIONS = [("GET", "/people"), ("POST", "/people"), ("POST", "/people/import"),
              ("GET", "/people/{staff_id}"), ("GET", "/people/{staff_id}/credentials"),
              ("POST", "/people/{staff_id}/keycards"), ("POST", "/keycards/{card_id}/status"),
              ("POST", "/people/{staff_id}/terminate"), ("GET", "/revocations/{revocation_id}"),
              ("GET", "/buildings/{building_id}/doors"), ("GET", "/buildings/{building_id}/visits"),
              ("GET", "/buildings/{building_id}/master-list.csv"), ("GET", "/events")]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, negative_data_rejection]


def test_every_documented_operation_is_fuzzed(api_schema) -> None:
    documented = {(op.method.upper(), op.path) for op in (r.ok() for r in api_schema.get_all_operations())}
    assert documented == set(OPERATIONS)


# pytest 9 and Schemathesis' pytest plugin disagree (node ids), so the Hypothesis strategies are
# driven directly: positive (schema-valid) and negative (schema-violating) requests per operation.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_api_answers_generated_requests_as_documented(api_schema, method, path, mode) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=15, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case) -> None:
        case.call_and_validate(checks=CHECKS)

    run()
