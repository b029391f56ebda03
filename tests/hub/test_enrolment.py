"""Enrolment by tapping: wait at a reader for the next card event, confirm, keycard issued.

The card events are stored by the same service the bridge ingests with (``events.store``), so
the hub sees exactly what a controller's ``access.denied`` ``unknown_card`` would leave.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from itertools import count

import pytest
from sqlalchemy import select

from link import messages as m
from hub.auth.clock import ManualClock
from hub.auth.models import AuditEntry
from hub.db import get_database
from hub.keyring import get_keyring
from hub.models import Keycard
from hub.models.credentials import TapEnrolment
from hub.services import credentials, events, people
from hub.services.errors import Conflict, Invalid
from tests.hub.auth.conftest import HttpsClient, mint_session
from tests.hub.conftest import NOW, make_test_app
from tests.hub.factories import seed

NEW_CARD = "ab" * 32
OTHER_CARD = "cd" * 32
_seq = count(1)


@pytest.fixture
def clock() -> ManualClock:
    """The app's clock, moved by hand."""
    return ManualClock(NOW)


@pytest.fixture
def app(db_url, tmp_path, clock):
    """Lincoln (two readers, S1 and S2 with cards, N1 without), Adams (one reader, A1), a kiosk."""
    app = make_test_app(db_url, tmp_path, AUTH_CLOCK=clock)
    app.test_client_class = HttpsClient
    with get_database(app).session() as s:
        world = seed(s, get_keyring(app), NOW)
        adams = seed(s, get_keyring(app), NOW, building="adams", controllers=1, holders=("A1",))
        people.create_person(s, people.PersonSpec(staff_id="N1", name="New Teacher",
                                                  buildings=["lincoln"]), actor="t", now=NOW)
        people.create_person(s, people.PersonSpec(staff_id="X1", name="Away Person",
                                                  buildings=["lincoln"]), actor="t", now=NOW)
        people.set_status(s, people.get_person(s, "X1"), "on_leave", actor="t", now=NOW)
        from hub.services import devices
        from link import keys as link_keys
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        devices.register(s, device_id="lincoln-kiosk-1", kind="kiosk", building_id="lincoln",
                         public_key_pem=link_keys.public_pem(Ed25519PrivateKey.generate()
                                                             .public_key()),
                         cert_serial="", actor="t", now=NOW)
    app.config["SEEDED_CARDS"] = {**world.cards, **adams.cards}
    yield app
    get_database(app).dispose()


def principal(app, clock, buildings=("lincoln",), name="principal"):
    """A client signed in as a fresh principal account of ``buildings``; (client, csrf, label)."""
    from hub.auth import passwords, totp
    from hub.auth import services as auth_services

    with get_database(app).session() as s:
        _inv, tok = auth_services.create_invitation(
            s, auth_services.console_actor("test"), username=name, display_name=name.title(),
            role="principal", buildings=list(buildings), now=clock.now(), ttl_s=3600)
        account = auth_services.activate_invitation(
            s, tok, password_hash=passwords.hash_password("violet cabinet mossy ladder"),
            totp_secret=totp.new_secret(), totp_step=0, now=clock.now(),
            vault=get_keyring(app).vault)
        account_id = account.id
    client = app.test_client()
    csrf = mint_session(app, client, account_id, clock.now())
    return client, csrf


def tap(app, device: str, cred: str | None, *, at, received, reason: str = "unknown_card",
        granted: bool = False) -> None:
    """Store one card event from ``device`` as the bridge would."""
    door = device.replace("-ctl-", "-door-")
    body = (m.AccessGranted(door=door, cred=cred, holder="S1") if granted else
            m.AccessDenied(door=door, reason=reason, cred=cred))
    item = events.IncomingEvent(device, next(_seq), "access.granted" if granted
                                else "access.denied", at, body)
    with get_database(app).session() as s:
        events.store(s, [item], events.building_map(s), received)


def start(client, csrf, staff_id="N1", device="lincoln-ctl-1"):
    return client.post(f"/people/{staff_id}/enrol-tap", data={"csrf_token": csrf,
                                                              "device": device})


def test_tap_then_confirm_issues_the_keycard_like_typed_enrolment(app, clock) -> None:
    client, csrf = principal(app, clock)
    page = client.get("/people/N1").get_data(as_text=True)
    assert 'id="enrol-tap"' in page
    assert "lincoln-ctl-1" in page and "lincoln-ctl-2" in page
    assert "adams-ctl-1" not in page and "lincoln-kiosk-1" not in page
    # a card tapped before the button was pressed is not the one to enrol
    tap(app, "lincoln-ctl-1", OTHER_CARD, at=NOW - timedelta(seconds=5), received=NOW)
    clock.advance(seconds=1)
    r = start(client, csrf)
    assert r.status_code == 303
    url = r.headers["Location"]
    assert re.fullmatch(r"/enrolments/\d+", url)
    html = client.get(url).get_data(as_text=True)
    assert "enrolment.js" in html and 'data-state="waiting"' in html
    assert "<script>" not in re.sub(r'<script src="[^"]+"></script>', "", html)
    state = client.get(url + "/state.json").json
    assert state["state"] == "waiting" and state["seconds_left"] == 60
    clock.advance(seconds=2)
    assert client.get(url + "/state.json").json["seconds_left"] == 58
    # another reader's card, and a door event, do not count
    tap(app, "lincoln-ctl-2", OTHER_CARD, at=clock.now(), received=clock.now())
    tap(app, "lincoln-ctl-1", None, at=clock.now(), received=clock.now(), reason="bad_read")
    assert client.get(url + "/state.json").json["state"] == "waiting"
    clock.advance(seconds=3)
    tap(app, "lincoln-ctl-1", NEW_CARD, at=clock.now(), received=clock.now())
    state = client.get(url + "/state.json").json
    assert state["state"] == "seen" and state["fingerprint"] == NEW_CARD[:8]
    assert "New Teacher" in state["message"]
    # a later tap does not replace the one seen
    tap(app, "lincoln-ctl-1", OTHER_CARD, at=clock.now(), received=clock.now())
    assert client.get(url + "/state.json").json["fingerprint"] == NEW_CARD[:8]
    html = client.get(url).get_data(as_text=True)
    assert re.search(r'<form [^>]*id="tap-confirm"(?! hidden)', html)
    # same validation as typed enrolment: an approver, a 4-8 digit PIN
    bad = client.post(url + "/confirm", data={"csrf_token": csrf, "approver": " "})
    assert bad.status_code == 422 and "approver" in bad.get_data(as_text=True)
    bad = client.post(url + "/confirm", data={"csrf_token": csrf, "approver": "Pat",
                                              "pin": "12"})
    assert bad.status_code == 422 and "PIN" in bad.get_data(as_text=True)
    ok = client.post(url + "/confirm", data={"csrf_token": csrf, "approver": "Principal Pat",
                                             "label": "blue fob", "pin": "2468"})
    assert ok.status_code == 303
    with get_database(app).session() as s:
        card = s.scalars(select(Keycard).where(Keycard.cred_hash == NEW_CARD)).one()
        assert card.person.staff_id == "N1" and card.building_id == "lincoln"
        assert card.status == "active" and card.label == "blue fob" and card.pin_hash
        assert card.approved_by == "Principal Pat"
        issue = s.scalars(select(AuditEntry).where(AuditEntry.action == "card.issue",
                                                   AuditEntry.target == "N1")).one()
        detail = json.loads(issue.after_json)
        assert detail["via"] == "tap" and detail["card"] == card.id
        assert NEW_CARD not in issue.after_json
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "card.tap_wait")).one()
    done = client.get(url + "/state.json").json
    assert done["state"] == "enrolled" and done["card_id"] == card.id
    again = client.post(url + "/confirm", data={"csrf_token": csrf, "approver": "Pat"})
    assert again.status_code == 409


def test_nothing_tapped_within_the_minute_times_out(app, clock) -> None:
    client, csrf = principal(app, clock)
    url = start(client, csrf).headers["Location"]
    clock.advance(seconds=59)
    assert client.get(url + "/state.json").json["state"] == "waiting"
    clock.advance(seconds=2)
    state = client.get(url + "/state.json").json
    assert state["state"] == "expired"
    assert "no card was tapped on reader lincoln-ctl-1 within 60 s" in state["message"]
    # a tap after the wait ended is not taken
    tap(app, "lincoln-ctl-1", NEW_CARD, at=clock.now(), received=clock.now())
    assert client.get(url + "/state.json").json["state"] == "expired"
    r = client.post(url + "/confirm", data={"csrf_token": csrf, "approver": "Pat"})
    assert r.status_code == 409 and "within 60 s" in r.get_data(as_text=True)
    # the reader is free again
    other, ocsrf = principal(app, clock, name="principal2")
    assert start(other, ocsrf, staff_id="S1").status_code == 303


def test_a_seen_card_must_be_confirmed_within_five_minutes(app, clock) -> None:
    client, csrf = principal(app, clock)
    url = start(client, csrf).headers["Location"]
    tap(app, "lincoln-ctl-1", NEW_CARD, at=clock.now(), received=clock.now())
    assert client.get(url + "/state.json").json["state"] == "seen"
    clock.advance(seconds=credentials.TAP_CONFIRM_S + 1)
    client, csrf = principal(app, clock, name="principal3")  # the first session went idle
    r = client.post(url + "/confirm", data={"csrf_token": csrf, "approver": "Pat"})
    assert r.status_code == 409 and "not confirmed within 5 minutes" in r.get_data(as_text=True)
    with get_database(app).session() as s:
        assert not s.scalars(select(Keycard).where(Keycard.cred_hash == NEW_CARD)).first()


def test_two_principals_on_one_reader(app, clock) -> None:
    first, csrf1 = principal(app, clock, name="pat")
    second, csrf2 = principal(app, clock, name="sam")
    url = start(first, csrf1).headers["Location"]
    r = start(second, csrf2, staff_id="S1")
    assert r.status_code == 409
    text = r.get_data(as_text=True)
    assert "reader lincoln-ctl-1 is already waiting for a card for New Teacher (N1)" in text
    assert "started by pat at 14:00:00 UTC, until 14:01:00 UTC" in text
    assert start(second, csrf2, staff_id="S1", device="lincoln-ctl-2").status_code == 303
    # the same principal pressing again replaces their own wait
    again = start(first, csrf1)
    assert again.status_code == 303 and again.headers["Location"] != url
    assert first.get(url + "/state.json").json["state"] == "cancelled"
    # once the card is seen the reader is free for the next enrolment
    tap(app, "lincoln-ctl-1", NEW_CARD, at=clock.now(), received=clock.now())
    assert first.get(again.headers["Location"] + "/state.json").json["state"] == "seen"
    assert start(second, csrf2, staff_id="S1").status_code == 303


def test_a_card_already_enrolled_is_refused_with_its_holder(app, clock) -> None:
    client, csrf = principal(app, clock)
    s1_card = app.config["SEEDED_CARDS"]["S1"]
    url = start(client, csrf).headers["Location"]
    # a card the reader knows is granted (not unknown_card): still caught, and refused
    tap(app, "lincoln-ctl-1", s1_card, at=clock.now(), received=clock.now(), granted=True)
    state = client.get(url + "/state.json").json
    assert state["state"] == "already_enrolled" and state["holder"] == "S1"
    assert "already enrolled (active); it was not enrolled again" in state["message"]
    html = client.get(url).get_data(as_text=True)
    assert re.search(r'<form [^>]*id="tap-confirm" hidden', html)
    r = client.post(url + "/confirm", data={"csrf_token": csrf, "approver": "Pat"})
    assert r.status_code == 409 and "already enrolled" in r.get_data(as_text=True)
    # a card of another building: refused, its holder not named to this principal
    url = start(client, csrf).headers["Location"]
    tap(app, "lincoln-ctl-1", app.config["SEEDED_CARDS"]["A1"], at=clock.now(),
        received=clock.now())
    state = client.get(url + "/state.json").json
    assert state["state"] == "already_enrolled" and state["holder"] is None


def test_an_old_event_replayed_from_the_outbox_is_not_the_tap(app, clock) -> None:
    client, csrf = principal(app, clock)
    url = start(client, csrf).headers["Location"]
    clock.advance(seconds=5)
    # queued on the reader ten minutes ago, delivered now (reader was offline)
    tap(app, "lincoln-ctl-1", OTHER_CARD, at=clock.now() - timedelta(minutes=10),
        received=clock.now())
    assert client.get(url + "/state.json").json["state"] == "waiting"
    # a reader clock a little behind the hub's is fine
    tap(app, "lincoln-ctl-1", NEW_CARD, at=clock.now() - timedelta(seconds=30),
        received=clock.now())
    assert client.get(url + "/state.json").json["fingerprint"] == NEW_CARD[:8]


@pytest.mark.parametrize("staff_id, device, status, words", [
    ("N1", "", 422, "choose a door reader"),
    ("N1", "no-such-reader", 422, "choose a door reader"),
    ("N1", "lincoln-kiosk-1", 422, "choose a door reader"),
    ("N1", "adams-ctl-1", 403, ""),  # a reader outside the principal's buildings
    ("X1", "lincoln-ctl-1", 409, "on_leave"),
    ("A1", "lincoln-ctl-1", 404, ""),  # a person outside the principal's buildings
])
def test_bad_start_requests(app, clock, staff_id, device, status, words) -> None:
    client, csrf = principal(app, clock)
    r = start(client, csrf, staff_id=staff_id, device=device)
    assert r.status_code == status
    assert words in r.get_data(as_text=True)
    with get_database(app).session() as s:
        assert s.scalars(select(TapEnrolment)).first() is None


def test_reader_of_another_building_is_refused_for_a_person_of_both(app, clock) -> None:
    """A1 also works at Lincoln; a Lincoln-only principal cannot use Adams' reader for them."""
    with get_database(app).session() as s:
        a1 = people.get_person(s, "A1")
        spec = people.PersonSpec(staff_id="A1", name=a1.name, buildings=["adams", "lincoln"])
        people.update_person(s, a1, spec, actor="t", now=NOW)
    client, csrf = principal(app, clock)
    page = client.get("/people/A1").get_data(as_text=True)
    assert "lincoln-ctl-1" in page and "adams-ctl-1" not in page
    assert start(client, csrf, staff_id="A1", device="adams-ctl-1").status_code == 403
    assert start(client, csrf, staff_id="A1", device="lincoln-ctl-1").status_code == 303


def test_other_buildings_and_roles_cannot_see_or_confirm(app, clock) -> None:
    client, csrf = principal(app, clock)
    url = start(client, csrf).headers["Location"]
    adams, acsrf = principal(app, clock, buildings=("adams",), name="adamsprincipal")
    assert adams.get(url).status_code == 404
    assert adams.get(url + "/state.json").status_code == 404
    assert adams.post(url + "/confirm", data={"csrf_token": acsrf, "approver": "x"}
                      ).status_code == 404
    assert client.post(url + "/confirm", data={"approver": "x"}).status_code == 400  # no CSRF
    assert client.get("/enrolments/999999").status_code == 404


def test_cancel_frees_the_reader(app, clock) -> None:
    client, csrf = principal(app, clock)
    url = start(client, csrf).headers["Location"]
    r = client.post(url + "/cancel", data={"csrf_token": csrf})
    assert r.status_code == 303 and r.headers["Location"].endswith("/people/N1")
    assert client.get(url + "/state.json").json["state"] == "cancelled"
    other, ocsrf = principal(app, clock, name="other")
    assert start(other, ocsrf).status_code == 303


def test_enrol_card_takes_exactly_one_of_uid_or_tapped_card(session, keyring) -> None:
    seed(session, keyring, NOW, building="zed", controllers=0, holders=())
    p = people.create_person(session, people.PersonSpec(staff_id="Z1", name="Z",
                                                        buildings=["zed"]),
                             actor="t", now=NOW)
    for kwargs in ({}, {"uid_text": "04AABBCC", "cred_hash": NEW_CARD},
                   {"cred_hash": "AB" * 32}, {"cred_hash": "ab" * 31}):
        with pytest.raises(Invalid):
            credentials.enrol_card(session, keyring.site_key, person=p, building_id="zed",
                                   approver="p", actor="t", now=NOW, **kwargs)
    card = credentials.enrol_card(session, keyring.site_key, person=p, building_id="zed",
                                  cred_hash=NEW_CARD, approver="p", actor="t", now=NOW)
    assert card.cred_hash == NEW_CARD
    with pytest.raises(Conflict):
        credentials.enrol_card(session, keyring.site_key, person=p, building_id="zed",
                               cred_hash=NEW_CARD, approver="p", actor="t", now=NOW)


def test_two_presses_at_the_same_moment_leave_one_wait(app) -> None:
    """Two principals' sessions race for one reader: exactly one wait, the other a Conflict."""
    import threading

    db = get_database(app)
    first = db.sessionmaker()
    outcome: dict[str, object] = {}
    try:
        n1 = people.get_person(first, "N1")
        credentials.start_tap_enrolment(first, person=n1, device_id="lincoln-ctl-1",
                                        actor="pat", now=NOW)  # flushed, not committed

        def second_press() -> None:
            s = db.sessionmaker()
            try:
                s1 = people.get_person(s, "S1")
                credentials.start_tap_enrolment(s, person=s1, device_id="lincoln-ctl-1",
                                                actor="sam", now=NOW)
                s.commit()
                outcome["second"] = "started"
            except Conflict as exc:
                s.rollback()
                outcome["second"] = exc.message
            finally:
                s.close()

        thread = threading.Thread(target=second_press)
        thread.start()
        thread.join(0.5)  # the second press reads before the first commits, then waits on it
        first.commit()
        thread.join(20)
        assert not thread.is_alive()
    finally:
        first.close()
    assert "reader lincoln-ctl-1" in str(outcome["second"])
    with db.session() as s:
        waits = list(s.scalars(select(TapEnrolment).where(TapEnrolment.status == "waiting")))
    assert [w.started_by for w in waits] == ["pat"]
