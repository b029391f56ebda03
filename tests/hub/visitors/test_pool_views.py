"""The hub's pool visitor card pages (ADR 0003), signed in through the real accounts layer."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from link import visits as wire
from hub.auth.clock import ManualClock
from hub.auth.models import AuditEntry
from hub.db import get_database
from hub.models import AccessGroup, Building, Device, Door
from hub.visitors import pool, services
from hub.visitors.pool_models import PoolAssignment, PoolCard
from hub.visitors.services import VisitorSettings
from tests.hub.auth.conftest import START, HttpsClient
from tests.hub.conftest import make_test_app
from tests.hub.visitors.test_visitors_views import _client


@pytest.fixture
def clock() -> ManualClock:
    """The app's hand-moved clock."""
    return ManualClock(START)


@pytest.fixture
def pool_app(tmp_path, clock):
    """hs-1 lends cards (group ``visitors`` on one office door); one visitor on site; ms-2 exists."""
    from hub.auth import permissions

    saved = dict(permissions.ENDPOINTS), dict(permissions.RESOLVERS)
    app = make_test_app(f"sqlite:///{tmp_path}/hub.db", tmp_path, AUTH_CLOCK=clock)
    app.test_client_class = HttpsClient
    database = get_database(app)
    with database.session() as s:
        s.add_all([Building(id="hs-1", name="High School", tz="America/New_York", created_at=START),
                   Building(id="ms-2", name="Middle School", tz="America/New_York", created_at=START)])
        s.flush()
        s.add_all([Device(id="kiosk-hs", kind="kiosk", building_id="hs-1", public_key_pem="-", created_at=START),
                   Device(id="ctl-hs", kind="controller", building_id="hs-1", public_key_pem="-", created_at=START)])
        s.flush()
        office = Door(id="hs-office", building_id="hs-1", device_id="ctl-hs", name="Office", kind="office",
                      visitor_policy="allow")
        group = AccessGroup(building_id="hs-1", slug="visitors", name="Visitors", always=True)
        group.doors.append(office)
        s.add_all([office, group])
        s.flush()
        pool.configure(s, "hs-1", enabled=True, group_slug="visitors", actor="test", now=START)
        services.sign_in(s, VisitorSettings.from_site_key(b"k" * 32), "kiosk-hs", wire.VisitSignIn(
            corr="corr-000001", visit="visit-000001", token_sha256=services.token_hash("t" * 24),
            category="visitor", first="Jo", last="Park", id_source="typed"), START)
    yield app
    database.dispose()
    permissions.ENDPOINTS.clear()
    permissions.ENDPOINTS.update(saved[0])
    permissions.RESOLVERS.clear()
    permissions.RESOLVERS.update(saved[1])


def _post(client, path: str, **data):
    token = client.csrf("/visitors/hs-1/pool")
    return client.post(path, data={"csrf_token": token, **data})


def test_principal_enrols_and_desk_lends_and_takes_back(pool_app, clock) -> None:
    principal = _client(pool_app, clock, "principal", ["hs-1"])
    response = _post(principal, "/visitors/hs-1/pool/enrol", number="12", uid="04:A1:B2:C3", approver="Dana Rivera")
    assert response.status_code == 302 and "ok=card" in response.headers["Location"]
    desk = _client(pool_app, clock, "front_desk", ["hs-1"])
    page = desk.get("/visitors/hs-1/pool").text
    assert 'data-testid="pool-card-12" data-state="free"' in page and "04A1B2C3" not in page
    assert "Jo P." in page  # offered for a loan
    assert _post(desk, "/visitors/hs-1/pool/lend", visit="visit-000001", number="12").status_code == 302
    page = desk.get("/visitors/hs-1/pool").text
    assert 'data-testid="pool-card-12" data-state="lent"' in page
    with get_database(pool_app).session() as s:
        assert s.scalars(select(PoolAssignment)).one().activated == {"ctl-hs": 1}
    assert _post(desk, "/visitors/hs-1/pool/returned", number="12").status_code == 302
    page = desk.get("/visitors/hs-1/pool").text
    assert 'data-testid="pool-card-12" data-state="free"' in page
    with get_database(pool_app).session() as s:
        loan = s.scalars(select(PoolAssignment)).one()
        assert (loan.ended_how, loan.revoked) == ("desk", {"ctl-hs": 2})
        actions = set(s.scalars(select(AuditEntry.action)))
    assert {"pool.card_enrol", "pool.card_lend", "pool.card_end", "pool.card_returned"} <= actions


@pytest.mark.parametrize(("path", "data", "says"), [
    ("/visitors/hs-1/pool/lend", {"visit": "visit-000001", "number": "99"}, "unknown_card"),
    ("/visitors/hs-1/pool/lend", {"visit": "visit-000001", "number": "abc"}, "must be 1 to 9999"),
    ("/visitors/hs-1/pool/lend", {"visit": "nope-0000001", "number": "12"}, "not_found"),
    ("/visitors/hs-1/pool/returned", {"number": "12"}, "not out"),
])
def test_desk_mistakes_are_explained(pool_app, clock, path, data, says) -> None:
    principal = _client(pool_app, clock, "principal", ["hs-1"])
    _post(principal, "/visitors/hs-1/pool/enrol", number="12", uid="04A1B2C3", approver="Dana Rivera")
    desk = _client(pool_app, clock, "front_desk", ["hs-1"])
    response = _post(desk, path, **data)
    assert response.status_code == 302
    assert says in desk.get(response.headers["Location"]).text


def test_bad_enrolment_is_explained_and_nothing_stored(pool_app, clock) -> None:
    principal = _client(pool_app, clock, "principal", ["hs-1"])
    response = _post(principal, "/visitors/hs-1/pool/enrol", number="12", uid="not hex", approver="Dana")
    assert "hexadecimal" in principal.get(response.headers["Location"]).text
    response = _post(principal, "/visitors/hs-1/pool/enrol", number="12", uid="04A1B2C3", approver="")
    assert "approver" in principal.get(response.headers["Location"]).text
    with get_database(pool_app).session() as s:
        assert s.scalars(select(PoolCard)).all() == []


def test_front_desk_cannot_enrol_or_configure(pool_app, clock) -> None:
    desk = _client(pool_app, clock, "front_desk", ["hs-1"])
    assert _post(desk, "/visitors/hs-1/pool/enrol", number="12", uid="04A1B2C3", approver="x").status_code == 403
    assert _post(desk, "/visitors/hs-1/pool/settings", enabled="").status_code == 403
    assert _post(desk, "/visitors/hs-1/pool/retire", number="12", status="lost").status_code == 403


def test_other_building_is_out_of_scope(pool_app, clock) -> None:
    desk = _client(pool_app, clock, "front_desk", ["ms-2"])
    assert desk.get("/visitors/hs-1/pool").status_code in (403, 404)


def test_principal_turns_the_pool_off(pool_app, clock) -> None:
    principal = _client(pool_app, clock, "principal", ["hs-1"])
    assert _post(principal, "/visitors/hs-1/pool/settings", group="visitors").status_code == 302
    assert "does not lend visitor cards" in principal.get("/visitors/hs-1/pool").text
    response = _post(principal, "/visitors/hs-1/pool/settings", enabled="1", group="")
    assert "choose the visitor access group" in principal.get(response.headers["Location"]).text
