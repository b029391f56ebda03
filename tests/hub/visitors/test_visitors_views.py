"""The front desk's visitor pages, signed in through the real accounts layer (password + TOTP)."""

from __future__ import annotations

import base64
import io
from datetime import date

import cv2
import pytest
from sqlalchemy import select

from link import visits as wire
from hub.auth.clock import ManualClock
from hub.auth.models import AuditEntry
from hub.db import get_database
from hub.models import Building, Device
from hub.visitors import services, views
from hub.visitors.models import VisitHold, VisitRecord, WatchDismissal, WatchEntry
from hub.visitors.services import VisitorSettings
from tests.hub.auth.conftest import START, HttpsClient, login
from tests.hub.conftest import make_test_app

PHOTO = base64.b64encode(cv2.imencode(".jpg", cv2.imread("tests/fixtures/kiosk/face.jpg")[100:300, 200:380])[1]
                         .tobytes()).decode()


@pytest.fixture
def clock() -> ManualClock:
    """The app's hand-moved clock."""
    return ManualClock(START)


@pytest.fixture
def desk_app(tmp_path, clock):
    """The hub app with the visitor pages, two buildings, a kiosk and one held sign-in in hs-1."""
    from hub.auth import permissions

    saved = dict(permissions.ENDPOINTS), dict(permissions.RESOLVERS)
    app = make_test_app(f"sqlite:///{tmp_path}/hub.db", tmp_path, AUTH_CLOCK=clock)
    app.test_client_class = HttpsClient
    database = get_database(app)
    with database.session() as s:
        s.add_all([Building(id="hs-1", name="High School", tz="America/New_York", created_at=START),
                   Building(id="ms-2", name="Middle School", tz="America/New_York", created_at=START)])
        s.flush()
        s.add(Device(id="kiosk-hs", kind="kiosk", building_id="hs-1", public_key_pem="-", created_at=START))
        services.add_watch_entry(s, first="Robert", last="Smith-Jones", dob=date(1970, 2, 3), kind="custody",
                                 note="order 2026-114", now=START)
        result = services.sign_in(s, VisitorSettings.from_site_key(b"k" * 32), "kiosk-hs", wire.VisitSignIn(
            corr="corr-000001", visit="visit-000001", token_sha256=services.token_hash("t" * 24), category="visitor", first="Bob",
            last="Jones", dob="1970-02-03", id_source="scanned", photo_jpeg=PHOTO), START)
        assert result["outcome"] == "held"
    yield app
    database.dispose()
    # leave the shared permission table as the hub alone defines it
    permissions.ENDPOINTS.clear()
    permissions.ENDPOINTS.update(saved[0])
    permissions.RESOLVERS.clear()
    permissions.RESOLVERS.update(saved[1])


def _client(app, clock, role: str, buildings: list[str]) -> HttpsClient:
    from tests.hub.auth.conftest import PASSWORD, AccountInfo
    from hub.auth import passwords, services as auth_services, totp
    from hub.keyring import get_keyring

    secret = totp.new_secret()
    with get_database(app).session() as s:
        _inv, token = auth_services.create_invitation(
            s, auth_services.console_actor("test"), username=f"{role}{len(buildings)}", display_name="Desk",
            role=role, buildings=buildings, now=clock.now(), ttl_s=3600)
        account = auth_services.activate_invitation(
            s, token, password_hash=passwords.hash_password(PASSWORD), totp_secret=secret, totp_step=0,
            now=clock.now(), vault=get_keyring(app).vault)
        info = AccountInfo(account.id, account.username, PASSWORD, secret, role, buildings)
    client = app.test_client()
    assert login(client, info, clock).status_code == 302
    return client


def test_desk_shows_photo_beside_the_entry_and_admits_a_false_match(desk_app, clock) -> None:
    client = _client(desk_app, clock, "front_desk", ["hs-1"])
    page = client.get("/visitors/hs-1/desk")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Bob Jones" in text and "Robert Smith-Jones" in text and "1970-02-03" in text and "custody" in text
    photo = client.get("/visitors/photo/visit-000001")
    assert photo.status_code == 200 and photo.data[:2] == b"\xff\xd8" and photo.headers["Cache-Control"] == "no-store"
    with get_database(desk_app).session() as s:
        hold_id = s.scalars(select(VisitHold.id)).one()
    token = client.csrf("/visitors/hs-1/desk")
    response = client.post(f"/visitors/holds/{hold_id}", data={"csrf_token": token, "decision": "admit",
                                                              "false_match": "1"})
    assert response.status_code == 302
    with get_database(desk_app).session() as s:
        assert s.get(VisitRecord, "visit-000001").status == "on_site"
        assert s.scalars(select(WatchDismissal)).one()
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "visitor.hold_decided")).one()
        assert audit.building == "hs-1" and "1970" not in audit.after_json
    assert "No sign-in is waiting." in client.get("/visitors/hs-1/desk").get_data(as_text=True)


def test_other_buildings_desk_sees_nothing(desk_app, clock) -> None:
    client = _client(desk_app, clock, "front_desk", ["ms-2"])
    assert client.get("/visitors/hs-1/desk").status_code == 403
    assert client.get("/visitors/photo/visit-000001").status_code == 404
    token = client.csrf("/visitors/ms-2/desk")
    with get_database(desk_app).session() as s:
        hold_id = s.scalars(select(VisitHold.id)).one()
    assert client.post(f"/visitors/holds/{hold_id}", data={"csrf_token": token, "decision": "admit"}).status_code == 404
    with get_database(desk_app).session() as s:
        assert s.get(VisitRecord, "visit-000001").status == "held"


def test_auditor_may_look_but_not_decide(desk_app, clock) -> None:
    client = _client(desk_app, clock, "auditor", [])
    assert client.get("/visitors/hs-1/desk").status_code == 200
    token = client.csrf("/visitors/hs-1/desk")
    with get_database(desk_app).session() as s:
        hold_id = s.scalars(select(VisitHold.id)).one()
    assert client.post(f"/visitors/holds/{hold_id}", data={"csrf_token": token, "decision": "refuse"}).status_code == 403


def test_signed_out_user_is_sent_to_login(desk_app) -> None:
    response = desk_app.test_client().get("/visitors/hs-1/desk")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_watch_list_add_and_import(desk_app, clock) -> None:
    client = _client(desk_app, clock, "front_desk", ["hs-1"])
    token = client.csrf("/visitors/hs-1/watchlist")
    page = client.post("/visitors/hs-1/watchlist", data={"csrf_token": token, "first": "Ana", "last": "Souza",
                                                        "dob": "02/01/1990", "kind": "banned"})
    assert "YYYY-MM-DD" in page.get_data(as_text=True)
    client.post("/visitors/hs-1/watchlist", data={"csrf_token": token, "first": "Ana", "last": "Souza",
                                                 "dob": "1990-01-02", "kind": "banned"})
    csv_data = b"first,last,dob,kind,note\nCy,Lee,,no_contact,\nBad,,,,\n"
    page = client.post("/visitors/hs-1/watchlist", data={"csrf_token": token, "csv": (io.BytesIO(csv_data), "w.csv")},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert "1 added." in page and "line 3" in page
    with get_database(desk_app).session() as s:
        names = sorted(e.last for e in s.scalars(select(WatchEntry)))
        assert names == ["Lee", "Smith-Jones", "Souza"]


def test_desk_shows_a_visitor_already_on_site_that_the_hub_matched(desk_app, clock) -> None:
    with get_database(desk_app).session() as s:
        services.record_local_sign_in(s, "kiosk-hs", wire.VisitLocalSignIn(
            visit="visit-off-0001", token_sha256=services.token_hash("o" * 24), category="visitor",
            first="Robert", last="Smith-Jones", id_source="typed", photo_jpeg=PHOTO,
            signed_in_at="2026-03-02T13:00:00Z", screening="clear", cache_version=1), START,
            VisitorSettings.from_site_key(b"k" * 32))
    client = _client(desk_app, clock, "front_desk", ["hs-1"])
    text = client.get("/visitors/hs-1/desk").get_data(as_text=True)
    assert 'data-testid="onsite-match"' in text and "Already on site with a badge" in text
    assert text.count('data-testid="hold"') == 2 and "custody" in text
    with get_database(desk_app).session() as s:
        hold_id = s.scalars(select(VisitHold.id).where(VisitHold.reason == "onsite_match")).one()
    token = client.csrf("/visitors/hs-1/desk")
    assert client.post(f"/visitors/holds/{hold_id}", data={"csrf_token": token, "decision": "refuse"}).status_code == 302
    with get_database(desk_app).session() as s:
        assert s.get(VisitRecord, "visit-off-0001").status == "refused"
    assert 'data-testid="onsite-match"' not in client.get("/visitors/hs-1/desk").get_data(as_text=True)
