"""Event search pages: the cursor walks every event once across ties of ``at``, under each filter,
and the search uses an index for each filter (no full scan of the event log)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event

from link import messages as m
from hub.services import events
from tests.hub.conftest import NOW
from tests.hub.factories import seed


@pytest.fixture
def logged(session, keyring):
    """Lincoln (two controllers) with 40 events, four at each instant, of mixed types."""
    seed(session, keyring, NOW)
    items = []
    for seq in range(1, 41):
        device = f"lincoln-ctl-{1 + seq % 2}"
        door = device.replace("-ctl-", "-door-")
        at = NOW + timedelta(seconds=seq // 4)  # ties: the id decides the order inside one instant
        body = (m.AccessDenied(door=door, reason="unknown_card", cred="ab" * 32) if seq % 3 == 0
                else m.DoorOpened(door=door))
        items.append(events.IncomingEvent(device, seq, "access.denied" if seq % 3 == 0
                                          else "door.opened", at, body))
    events.store(session, items, events.building_map(session), NOW)
    session.flush()
    return items


def _walk(session, limit: int, **filters) -> list[tuple]:
    seen, cursor = [], None
    while True:
        page = events.search(session, limit=limit, cursor=cursor, **filters)
        seen += [(e.at, e.id, e.device_id, e.seq) for e in page.events]
        cursor = page.next_cursor
        if cursor is None:
            return seen


@pytest.mark.parametrize("filters", [
    {}, {"device_id": "lincoln-ctl-1"}, {"door_id": "lincoln-door-2"},
    {"type": "access.denied"}, {"buildings": frozenset({"lincoln"})},
])
@pytest.mark.parametrize("limit", [1, 3, 4, 7])
def test_cursor_pages_cover_every_event_once_in_order(session, logged, filters, limit) -> None:
    seen = _walk(session, limit, **filters)
    expected = [i for i in logged
                if filters.get("device_id", i.device_id) == i.device_id
                and filters.get("door_id", i.body.door) == i.body.door
                and filters.get("type", i.type) == i.type]
    assert len(seen) == len(expected) == len({(s[2], s[3]) for s in seen})
    assert {(s[2], s[3]) for s in seen} == {(i.device_id, i.seq) for i in expected}
    assert seen == sorted(seen, key=lambda s: (s[0], s[1]), reverse=True)  # newest first


@pytest.mark.parametrize("filters, index", [
    ({"cursor": "x"}, "ix_events_at_id"),
    ({"device_id": "lincoln-ctl-1"}, "ix_events_device_at"),
    ({"door_id": "lincoln-door-1"}, "ix_events_door_at"),
    ({"holder": "S1"}, "ix_events_holder_at"),
    ({"type": "door.forced"}, "ix_events_type_at"),
])
def test_each_filter_reads_an_index(session, logged, filters, index) -> None:
    """SQLite's plan for each filter seeks an index (the 10-million-event figures depend on it)."""
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's; PostgreSQL plans by its statistics")
    if "cursor" in filters:
        first = events.search(session, limit=2)
        filters = {"cursor": first.next_cursor}
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM events" in statement:
            statements.append((statement, parameters))

    engine = session.get_bind()
    sa_event.listen(engine, "before_cursor_execute", capture)
    try:
        events.search(session, limit=100, **filters)
    finally:
        sa_event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = statements[-1]
    plan = " | ".join(r[-1] for r in session.connection().exec_driver_sql(
        "EXPLAIN QUERY PLAN " + statement, parameters))
    assert f"SEARCH events USING INDEX {index}" in plan, plan


def test_a_door_or_device_of_another_building_has_no_events_for_a_principal(app, client) -> None:
    from hub.db import get_database
    from hub.keyring import get_keyring
    from tests.hub.test_api import token

    with get_database(app).session() as s:
        seed(s, get_keyring(app), NOW)
        seed(s, get_keyring(app), NOW, building="adams", controllers=1, holders=("A1",))
        events.store(s, [events.IncomingEvent("adams-ctl-1", 1, "door.opened", NOW,
                                              m.DoorOpened(door="adams-door-1"))],
                     events.building_map(s), NOW)
    lincoln = token(app, "principal", ["lincoln"])
    district = token(app, "privacy_team", [])
    for query in ("door=adams-door-1", "device=adams-ctl-1"):
        r = client.get(f"/api/v1/events?{query}", headers=lincoln)
        assert r.status_code == 200 and r.json == {"events": [], "next_cursor": None}
        r = client.get(f"/api/v1/events?{query}", headers=district)
        assert [e["building"] for e in r.json["events"]] == ["adams"]
        # the other parameters are still checked
        r = client.get(f"/api/v1/events?{query}&since=yesterday", headers=lincoln)
        assert r.status_code == 422 and r.json["field"] == "since"
        r = client.get(f"/api/v1/events?{query}&cursor=garbage", headers=lincoln)
        assert r.status_code == 422 and r.json["field"] == "cursor"
    # an unregistered door id is searched as usual (nothing to show here)
    assert client.get("/api/v1/events?door=nowhere", headers=lincoln).json["events"] == []
