"""API edges an OpenAPI fuzzer found: a mistyped dry run, 405 without Allow, empty times."""

from __future__ import annotations

import pytest

from hub.db import get_database
from hub.keyring import get_keyring
from hub.services import people
from tests.hub.conftest import NOW
from tests.hub.factories import seed
from tests.hub.test_api import token

CSV = "staff_id,name,title,buildings,status\nS2,Person S2,,lincoln,terminated\n"


@pytest.fixture
def world(app):
    with get_database(app).session() as s:
        seed(s, get_keyring(app), NOW)
    return app


@pytest.mark.parametrize("flag", ["banana", "2", "", "on"])
def test_a_mistyped_dry_run_is_refused_and_changes_nothing(world, client, flag) -> None:
    h = token(world, "principal", ["lincoln"])
    r = client.post(f"/api/v1/people/import?dry_run={flag}", data=CSV, headers=h)
    assert r.status_code == 422 and r.json["field"] == "dry_run"
    with get_database(world).session() as s:
        assert people.get_person(s, "S2").status == "active"


@pytest.mark.parametrize("flag", ["0", "false", "no"])
def test_dry_run_off_spelled_out_applies(world, client, flag) -> None:
    h = token(world, "principal", ["lincoln"])
    r = client.post(f"/api/v1/people/import?dry_run={flag}", data=CSV, headers=h)
    assert r.status_code == 200 and r.json["dry_run"] is False and len(r.json["revocations"]) == 1


def test_dry_run_yes_writes_nothing(world, client) -> None:
    h = token(world, "principal", ["lincoln"])
    r = client.post("/api/v1/people/import?dry_run=yes", data=CSV, headers=h)
    assert r.status_code == 200 and r.json["dry_run"] is True and r.json["revocations"] == []
    with get_database(world).session() as s:
        assert people.get_person(s, "S2").status == "active"


def test_method_not_allowed_names_the_allowed_methods(world, client) -> None:
    h = token(world, "principal", ["lincoln"])
    r = client.delete("/api/v1/people/S1", headers=h)
    assert r.status_code == 405 and r.json["error"] == "method_not_allowed"
    assert set(r.headers["Allow"].replace(" ", "").split(",")) >= {"GET"}
    assert "DELETE" not in r.headers["Allow"]


@pytest.mark.parametrize("name", ["since", "until"])
def test_an_empty_time_filter_is_refused(world, client, name) -> None:
    h = token(world, "auditor", [])
    r = client.get(f"/api/v1/events?{name}=", headers=h)
    assert r.status_code == 422 and r.json["field"] == name


def test_terminate_without_a_body_and_with_a_null_reason(world, client) -> None:
    h = token(world, "principal", ["lincoln"])
    first = client.post("/api/v1/people/S1/terminate", headers=h)
    assert first.status_code == 201
    again = client.post("/api/v1/people/S1/terminate", json={"reason": None}, headers=h)
    assert again.status_code == 200 and again.json["revocation_id"] == first.json["revocation_id"]


def test_an_unknown_query_parameter_is_refused_not_ignored(world, client) -> None:
    h = token(world, "principal", ["lincoln"])
    r = client.post("/api/v1/people/import?dryrun=1", data=CSV, headers=h)  # typo of dry_run
    assert r.status_code == 422 and r.json["field"] == "dryrun" and "dry_run" in r.json["message"]
    with get_database(world).session() as s:
        assert people.get_person(s, "S2").status == "active"
    assert client.get("/api/v1/people/S1?x=1", headers=h).status_code == 422
    assert client.get("/api/v1/people?limit=5", headers=h).status_code == 200


@pytest.mark.parametrize("query", ["building=Lincoln%20Elem", "door=%F0%9F%9A%AA", "holder=-x",
                                   "limit=%D9%A3", "limit=5&limit=6", "status=gone"])
def test_query_values_must_fit_the_documented_form(world, client, query) -> None:
    h = token(world, "auditor", [])
    path = "/api/v1/people" if query.startswith(("status", "limit=5&")) else "/api/v1/events"
    r = client.get(f"{path}?{query}", headers=h)
    assert r.status_code == 422 and r.json["error"] == "invalid" and r.json["field"] in query
