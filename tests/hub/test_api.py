"""The JSON API: bearer tokens scoped to role and building, the fixed routes, one error shape."""

from __future__ import annotations

import pytest

from hub.auth import services as auth_services
from hub.db import get_database
from hub.keyring import get_keyring
from hub.models import Device
from hub.services import people
from tests.hub.conftest import NOW
from tests.hub.factories import seed


def token(app, role: str, buildings: list[str]) -> dict[str, str]:
    """Authorization header for a new token of ``role`` in ``buildings``."""
    from datetime import UTC, datetime

    with get_database(app).session() as s:
        _tok, raw = auth_services.create_api_token(
            s, auth_services.console_actor("test"), name=f"{role}-test", role=role,
            buildings=buildings, actions=None, days=30, max_days=365,
            now=datetime.now(UTC))
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def world(app):
    with get_database(app).session() as s:
        seed(s, get_keyring(app), NOW)
        seed(s, get_keyring(app), NOW, building="adams", controllers=1, holders=("A1",))
    return app


def test_terminate_and_revocation_routes(world, client) -> None:
    h = token(world, "principal", ["lincoln"])
    r = client.post("/api/v1/people/S1/terminate", json={"reason": "left the district"}, headers=h)
    assert r.status_code == 201, r.json
    body = r.json
    assert body["staff_id"] == "S1" and isinstance(body["revocation_id"], int)
    assert {d["door"]: d["state"] for d in body["doors"]} == {
        "lincoln-door-1": "offline", "lincoln-door-2": "offline"}
    assert body["complete"] is False
    # a door acks: its state turns confirmed
    with get_database(world).session() as s:
        dev = s.get(Device, "lincoln-ctl-1")
        from hub.services import revocations
        revocations.record_acl_ack(s, dev, dev.acl_version, NOW)
    r2 = client.get(f"/api/v1/revocations/{body['revocation_id']}", headers=h)
    assert r2.status_code == 200
    states = {d["door"]: d for d in r2.json["doors"]}
    assert states["lincoln-door-1"]["state"] == "confirmed"
    assert states["lincoln-door-1"]["confirmed_at"].endswith("Z")
    assert states["lincoln-door-2"]["state"] == "offline"
    # terminating again answers the same revocation
    again = client.post("/api/v1/people/S1/terminate", headers=h)
    assert again.status_code == 200 and again.json["revocation_id"] == body["revocation_id"]


def test_scope_other_building_looks_missing_and_roles_are_enforced(world, client) -> None:
    principal = token(world, "principal", ["lincoln"])
    assert client.get("/api/v1/people/A1", headers=principal).status_code == 404
    assert client.post("/api/v1/people/A1/terminate", headers=principal).status_code == 404
    auditor = token(world, "auditor", [])
    assert client.get("/api/v1/people/A1", headers=auditor).status_code == 200
    assert client.post("/api/v1/people/A1/terminate", headers=auditor).status_code == 403
    desk = token(world, "front_desk", ["lincoln"])
    assert client.get("/api/v1/buildings/lincoln/visits", headers=desk).status_code == 200
    assert client.get("/api/v1/people", headers=desk).status_code == 403
    assert client.get("/api/v1/people").status_code == 401
    assert client.get("/api/v1/people", headers={"Authorization": "Bearer nope"}).status_code == 401
    with get_database(world).session() as s:
        assert people.get_person(s, "A1").status == "active"


def test_people_list_is_scoped_and_paginated(world, client) -> None:
    h = token(world, "principal", ["lincoln"])
    r = client.get("/api/v1/people?limit=1", headers=h)
    assert r.status_code == 200
    assert [p["staff_id"] for p in r.json["people"]] == ["S1"] and r.json["next_cursor"] == "S1"
    r = client.get("/api/v1/people?limit=1&after=S1", headers=h)
    assert [p["staff_id"] for p in r.json["people"]] == ["S2"]
    everyone = client.get("/api/v1/people", headers=token(world, "privacy_team", []))
    assert {p["staff_id"] for p in everyone.json["people"]} == {"A1", "S1", "S2"}
    assert client.get("/api/v1/people?building=adams", headers=h).status_code == 404


@pytest.mark.parametrize("payload, field", [
    ({"building": "lincoln", "uid": "04A1", "approver": "p"}, "uid"),
    ({"building": "lincoln", "uid": "GG112233", "approver": "p"}, "uid"),
    ({"building": "lincoln", "uid": "04A1B2C3"}, "approver"),
    ({"building": "lincoln", "uid": "04A1B2C3", "approver": "p", "pin": 1234}, "pin"),
    ({"building": "lincoln", "uid": "04A1B2C3", "approver": "p", "pin": "12"}, "pin"),
    ({"building": "lincoln", "uid": 42, "approver": "p"}, "uid"),
])
def test_keycard_bad_input_is_a_4xx_json_error(world, client, payload, field) -> None:
    h = token(world, "principal", ["lincoln"])
    r = client.post("/api/v1/people/S1/keycards", json=payload, headers=h)
    assert r.status_code == 422
    assert r.json["field"] == field and r.json["error"] == "invalid" and r.json["message"]


def test_keycard_issue_and_lost(world, client) -> None:
    h = token(world, "principal", ["lincoln"])
    r = client.post("/api/v1/people/S1/keycards", headers=h,
                    json={"building": "lincoln", "uid": "04 DE AD BE", "approver": "Principal Lee",
                          "pin": "2468"})
    assert r.status_code == 201
    card_id = r.json["id"]
    creds = client.get("/api/v1/people/S1/credentials", headers=h).json
    assert any(c["id"] == card_id and c["has_pin"] for c in creds["keycards"])
    assert "DEAD" not in str(creds).upper()
    r = client.post(f"/api/v1/keycards/{card_id}/status", json={"status": "lost"}, headers=h)
    assert r.status_code == 200 and r.json["devices"] == ["lincoln-ctl-1", "lincoln-ctl-2"]
    r = client.post(f"/api/v1/keycards/{card_id}/status", json={"status": "lost"}, headers=h)
    assert r.status_code == 409
    r = client.post("/api/v1/people/S1/keycards", data="not json", headers=h)
    assert r.status_code == 422 and r.json["field"] == "body"


def test_events_filters_and_cursor(world, client) -> None:
    from link import messages as m
    from hub.services import events
    from datetime import timedelta

    with get_database(world).session() as s:
        items = [events.IncomingEvent("lincoln-ctl-1", seq, "door.opened",
                                      NOW + timedelta(seconds=seq), m.DoorOpened(door="lincoln-door-1"))
                 for seq in range(1, 8)]
        items.append(events.IncomingEvent("adams-ctl-1", 1, "door.opened", NOW,
                                          m.DoorOpened(door="adams-door-1")))
        bmap = events.building_map(s)
        events.store(s, items, bmap, NOW)
    h = token(world, "principal", ["lincoln"])
    seen, cursor = [], None
    while True:
        url = "/api/v1/events?limit=3" + (f"&cursor={cursor}" if cursor else "")
        r = client.get(url, headers=h)
        assert r.status_code == 200
        seen += [e["seq"] for e in r.json["events"]]
        cursor = r.json["next_cursor"]
        if not cursor:
            break
    assert seen == [7, 6, 5, 4, 3, 2, 1]  # newest first, never the other building's
    r = client.get("/api/v1/events?since=2026-03-02T14:00:05Z", headers=h)
    assert [e["seq"] for e in r.json["events"]] == [7, 6, 5]
    assert client.get("/api/v1/events?since=yesterday", headers=h).json["field"] == "since"
    assert client.get("/api/v1/events?since=2026-03-02T14:00:05", headers=h).status_code == 422
    assert client.get("/api/v1/events?cursor=garbage", headers=h).json["field"] == "cursor"
    assert client.get("/api/v1/events?limit=0", headers=h).status_code == 422


def test_doors_with_live_state_and_import(world, client) -> None:
    h = token(world, "principal", ["lincoln"])
    r = client.get("/api/v1/buildings/lincoln/doors", headers=h)
    assert [d["door"] for d in r.json["doors"]] == ["lincoln-door-1", "lincoln-door-2"]
    assert r.json["doors"][0]["online"] is False
    csv_text = ("staff_id,name,title,buildings,status\n"
                "S2,Person S2,,lincoln,terminated\n")
    r = client.post("/api/v1/people/import?dry_run=1", data=csv_text, headers=h)
    assert r.status_code == 200 and r.json["summary"] == {"terminate": 1}
    r = client.post("/api/v1/people/import", data=csv_text, headers=h)
    assert r.status_code == 200 and len(r.json["revocations"]) == 1
    bad = client.post("/api/v1/people/import", data="staff_id,name\nS1,x\n", headers=h)
    assert bad.status_code == 422 and "line 1" in bad.json["details"][0]
    other = client.post("/api/v1/people/import", headers=h,
                        data="staff_id,name,title,buildings,status\nA1,x,,adams,terminated\n")
    assert other.status_code == 404  # another building's people are out of scope


def test_openapi_lists_every_api_route(app, client) -> None:
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    paths = set(doc["paths"])
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = rule.rule.removeprefix("/api/v1").replace("<int:", "{").replace("<", "{").replace(">", "}")
            assert path in paths, path
    assert "/people/{staff_id}/terminate" in paths and "/revocations/{revocation_id}" in paths
