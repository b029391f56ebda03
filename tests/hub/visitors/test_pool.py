"""Pool visitor keycards at the hub (ADR 0003), on a real SQLite database: lending, the deltas that
reach the doors, deactivation at sign-out, closing time and expiry, and every refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hub.models import AccessGroup, AclChange, Alert, Building, Device, Door, Keycard, Person
from hub.services import acl
from hub.visitors import handlers, pool, services
from hub.visitors.models import VisitRecord
from hub.visitors.pool_models import PoolAssignment, PoolCard
from hub.visitors.services import VisitorError
from link import messages as m
from link import visits as wire
from link.keys import card_hmac
from tests.hub.visitors.conftest import NOW

SITE_KEY = b"p" * 32
UID = {7: "04A1B2C3", 8: "04A1B2C4", 9: "04A1B2C5", 300: "04A1B2C6"}


@pytest.fixture
def lincoln(session):
    """Doors: a records room and an office in the visitor group, a gym outside it; cards 7 and 8."""
    for dev in ("ctl-office", "ctl-gym"):
        session.add(Device(id=dev, kind="controller", building_id="lincoln", public_key_pem="-", created_at=NOW))
    session.flush()
    records = Door(id="lincoln-records", building_id="lincoln", device_id="door-records", name="Records",
                   kind="records_room")
    office = Door(id="lincoln-office", building_id="lincoln", device_id="ctl-office", name="Office",
                  kind="office", visitor_policy="allow")
    gym = Door(id="lincoln-gym", building_id="lincoln", device_id="ctl-gym", name="Gym", kind="office")
    session.add_all([records, office, gym])
    visitors = AccessGroup(building_id="lincoln", slug="visitors", name="Visitors", always=True)
    visitors.doors.extend([records, office])
    library_only = AccessGroup(building_id="lincoln", slug="library-visitors", name="Library", always=True)
    library_only.doors.append(office)
    session.add_all([visitors, library_only])
    session.flush()
    pool.configure(session, "lincoln", enabled=True, group_slug="visitors", actor="principal", now=NOW)
    for number in (7, 8):
        pool.enrol_card(session, SITE_KEY, building_id="lincoln", number=number, uid_text=UID[number],
                        approver="Dana Rivera", actor="principal", now=NOW)
    pool.enrol_card(session, SITE_KEY, building_id="adams", number=300, uid_text=UID[300],
                    approver="Adams Principal", actor="principal", now=NOW)
    session.flush()
    return session


def _sign_in(session, settings, n: int = 1, **over) -> str:
    values = dict(corr=f"corr-{n:06d}", visit=f"visit-{n:06d}", token_sha256=services.token_hash(f"token-{n:020d}"),
                  category="visitor", first="Ana", last="Souza", id_source="typed", host="s100",
                  destination="main-office")
    values.update(over)
    services.sign_in(session, settings, "kiosk-front", wire.VisitSignIn(**values), NOW)
    return values["visit"]


def _assign(session, visit: str, card: int, device: str = "kiosk-front", corr: str = "corr-pool-01"):
    return handlers.handle_request(session, None, device, "visit.pool_assign",
                                   wire.PoolAssign(corr=corr, visit=visit, card=card), NOW)


def _deltas(session, device: str) -> list[dict]:
    return [c.delta for c in session.scalars(select(AclChange).where(AclChange.device_id == device)
                                             .order_by(AclChange.to_version))]


def test_lend_activates_the_card_on_the_visit_doors_only(lincoln, settings) -> None:
    visit = _sign_in(lincoln, settings)
    answer = _assign(lincoln, visit, 7)
    assert answer.ok, answer.error
    result = wire.PoolAssignResult.model_validate(answer.data)
    assert (result.card, result.doors, result.expires_at) == (7, 2, "2026-11-28T22:00:00Z")
    cred = card_hmac(SITE_KEY, bytes.fromhex(UID[7]))
    for device in ("door-records", "ctl-office"):
        (delta,) = _deltas(lincoln, device)
        (c,) = [m.AclCredential.model_validate(x) for x in delta["credentials"]]
        assert (c.cred, c.status, c.groups, c.escort_required, c.can_escort) == (
            cred, "active", ["visitors"], True, False)
        assert c.holder == f"pool7-{visit}" and "Ana S." in c.name
    assert _deltas(lincoln, "ctl-gym") == []  # a door outside the visitor group never learns it


def test_destination_group_narrows_the_doors(lincoln, settings) -> None:
    pool.set_destination_group(lincoln, "lincoln", "library", "library-visitors", actor="principal", now=NOW)
    visit = _sign_in(lincoln, settings, destination="library")
    answer = _assign(lincoln, visit, 7)
    assert answer.ok and answer.data["doors"] == 1
    assert _deltas(lincoln, "door-records") == [] and len(_deltas(lincoln, "ctl-office")) == 1


def test_snapshot_carries_a_lent_card_until_its_loan_ends(lincoln, settings) -> None:
    visit = _sign_in(lincoln, settings)
    assert _assign(lincoln, visit, 7).ok
    cred = card_hmac(SITE_KEY, bytes.fromhex(UID[7]))
    device = lincoln.get(Device, "door-records")
    creds = {c.cred: c for chunk in acl.snapshot(lincoln, device, NOW) for c in chunk.credentials}
    assert creds[cred].escort_required and creds[cred].groups == ["visitors"]
    assert cred not in {c.cred for chunk in acl.snapshot(lincoln, lincoln.get(Device, "ctl-gym"), NOW)
                        for c in chunk.credentials}
    services.sign_out(lincoln, "kiosk-front", how="name", now=NOW, visit_id=visit)
    assert cred not in {c.cred for chunk in acl.snapshot(lincoln, device, NOW) for c in chunk.credentials}


def test_sign_out_revokes_on_every_door_and_names_the_card(lincoln, settings) -> None:
    visit = _sign_in(lincoln, settings)
    assert _assign(lincoln, visit, 7).ok
    result = services.sign_out(lincoln, "kiosk-front", how="badge", now=NOW + timedelta(hours=1),
                               token=f"token-{1:020d}")
    assert wire.SignOutResult.model_validate(result).pool_card == 7
    cred = card_hmac(SITE_KEY, bytes.fromhex(UID[7]))
    for device in ("door-records", "ctl-office"):
        assert _deltas(lincoln, device)[-1]["revoke"] == [cred]
    loan = lincoln.scalars(select(PoolAssignment)).one()
    assert (loan.status, loan.ended_how, loan.active_card, loan.active_visit) == ("ended", "signed_out", None, None)
    states = pool.door_states(lincoln, loan)
    assert {s.door_id: s.state for s in states} == {"lincoln-records": "offline", "lincoln-office": "offline"}
    # the doors ack the version that carried the revocation: confirmed
    for dev_id, version in loan.revoked.items():
        dev = lincoln.get(Device, dev_id)
        dev.acl_acked, dev.online = version, True
    assert {s.state for s in pool.door_states(lincoln, loan)} == {"confirmed"}


def test_sign_out_by_kiosk_event_and_closing_time_end_the_loan(lincoln, settings) -> None:
    first, second = _sign_in(lincoln, settings, 1), _sign_in(lincoln, settings, 2, first="Jo", last="Park")
    assert _assign(lincoln, first, 7).ok and _assign(lincoln, second, 8, corr="corr-pool-02").ok
    services.record_sign_out(lincoln, "kiosk-front", first, "badge", NOW + timedelta(hours=1))
    services.close_at_closing(lincoln, "lincoln", NOW + timedelta(hours=9))
    hows = {lo.card.number: lo.ended_how for lo in lincoln.scalars(select(PoolAssignment))}
    assert hows == {7: "signed_out", 8: "closing"}


def test_sweep_ends_expired_loans_and_flags_cards_not_returned(lincoln, settings) -> None:
    visit = _sign_in(lincoln, settings)
    assert _assign(lincoln, visit, 7).ok
    assert pool.sweep(lincoln, NOW + timedelta(hours=1)) == []
    expiry = NOW + timedelta(hours=8)  # 22:00Z, the visit's expiry
    (ended,) = pool.sweep(lincoln, expiry)
    assert ended.ended_how == "expired" and ended.revoked
    assert not lincoln.scalars(select(Alert).where(Alert.kind == "pool_card_not_returned")).all()
    pool.sweep(lincoln, expiry + pool.RETURN_GRACE)
    (alert,) = lincoln.scalars(select(Alert).where(Alert.kind == "pool_card_not_returned")).all()
    assert "card 7" in alert.message and alert.building_id == "lincoln"
    pool.sweep(lincoln, expiry + 2 * pool.RETURN_GRACE)  # flagged once, not every tick
    assert lincoln.scalars(select(Alert).where(Alert.kind == "pool_card_not_returned")).one().count == 1


def test_sweep_ends_the_loan_of_a_visit_closed_elsewhere(lincoln, settings) -> None:
    visit = _sign_in(lincoln, settings)
    assert _assign(lincoln, visit, 7).ok
    lincoln.get(VisitRecord, visit).status = "abandoned"
    (ended,) = pool.sweep(lincoln, NOW)
    assert ended.ended_how == "visit_ended"


def test_returned_card_is_free_again_and_a_card_in_hand_can_be_relent(lincoln, settings) -> None:
    one, two, three = (_sign_in(lincoln, settings, n, first=f"V{n}") for n in (1, 2, 3))
    assert _assign(lincoln, one, 7).ok
    services.sign_out(lincoln, "kiosk-front", how="name", now=NOW, visit_id=one)
    assert [r.state for r in pool.overview(lincoln, "lincoln")] == ["to_collect", "free"]
    pool.mark_returned(lincoln, "lincoln", 7, actor="desk", now=NOW)
    assert [r.state for r in pool.overview(lincoln, "lincoln")] == ["free", "free"]
    assert _assign(lincoln, two, 7, corr="corr-pool-02").ok
    services.sign_out(lincoln, "kiosk-front", how="name", now=NOW, visit_id=two)
    # not marked returned, but staff hold it and lend it again: the old loan counts as returned
    assert _assign(lincoln, three, 7, corr="corr-pool-03").ok
    assert [r.state for r in pool.overview(lincoln, "lincoln")] == ["lent", "free"]


def test_desk_return_of_a_lent_card_deactivates_it(lincoln, settings) -> None:
    visit = _sign_in(lincoln, settings)
    assert _assign(lincoln, visit, 7).ok
    loan = pool.mark_returned(lincoln, "lincoln", 7, actor="desk", now=NOW)
    assert loan.ended_how == "desk" and loan.revoked and loan.returned_by == "desk"


def test_retiring_a_lent_card_revokes_it(lincoln, settings) -> None:
    visit = _sign_in(lincoln, settings)
    assert _assign(lincoln, visit, 7).ok
    pool.retire_card(lincoln, "lincoln", 7, "lost", actor="principal", now=NOW)
    assert lincoln.scalars(select(PoolAssignment)).one().ended_how == "retired"
    assert _assign(lincoln, _sign_in(lincoln, settings, 2), 7).error == "card_retired"


def test_retry_of_the_same_loan_is_answered_again(lincoln, settings) -> None:
    visit = _sign_in(lincoln, settings)
    assert _assign(lincoln, visit, 7).ok and _assign(lincoln, visit, 7).ok
    assert len(lincoln.scalars(select(PoolAssignment)).all()) == 1
    assert len(_deltas(lincoln, "door-records")) == 1


# --------------------------------------------------------------------------- refusals
def test_unknown_card(lincoln, settings) -> None:
    assert _assign(lincoln, _sign_in(lincoln, settings), 42).error == "unknown_card"


def test_card_of_another_building(lincoln, settings) -> None:
    assert _assign(lincoln, _sign_in(lincoln, settings), 300).error == "card_other_building"


def test_card_already_lent(lincoln, settings) -> None:
    assert _assign(lincoln, _sign_in(lincoln, settings, 1), 7).ok
    second = _sign_in(lincoln, settings, 2, first="Jo")
    assert _assign(lincoln, second, 7, corr="corr-pool-02").error == "card_in_use"
    # and a visit holds one card at a time
    assert _assign(lincoln, _sign_in(lincoln, settings, 1), 8, corr="corr-pool-03").error == "card_in_use"


def test_pool_disabled(lincoln, settings) -> None:
    pool.configure(lincoln, "lincoln", enabled=False, group_slug="visitors", actor="principal", now=NOW)
    assert _assign(lincoln, _sign_in(lincoln, settings), 7).error == "pool_disabled"


def test_pool_never_configured(session, settings) -> None:
    visit = _sign_in(session, settings)
    assert _assign(session, visit, 7).error == "pool_disabled"


def test_held_visit_gets_no_card(lincoln, settings) -> None:
    services.add_watch_entry(lincoln, first="Ana", last="Souza", dob=None, kind="banned", now=NOW)
    visit = _sign_in(lincoln, settings)
    assert lincoln.get(VisitRecord, visit).status == "held"
    assert _assign(lincoln, visit, 7).error == "visit_held"
    assert lincoln.scalars(select(PoolAssignment)).all() == []
    assert _deltas(lincoln, "door-records") == []


def test_closed_or_foreign_visit_gets_no_card(lincoln, settings) -> None:
    visit = _sign_in(lincoln, settings)
    services.sign_out(lincoln, "kiosk-front", how="name", now=NOW, visit_id=visit)
    assert _assign(lincoln, visit, 7).error == "visit_closed"
    assert _assign(lincoln, "visit-nope-0001", 7).error == "not_found"
    assert _assign(lincoln, _sign_in(lincoln, settings, 2), 7, device="kiosk-adams").error == "pool_disabled"


def test_unknown_kiosk(lincoln, settings) -> None:
    assert _assign(lincoln, _sign_in(lincoln, settings), 7, device="door-records").error == "unknown_kiosk"


@pytest.mark.parametrize("body", [
    {"corr": "corr-000001", "visit": "visit-000001", "card": 0},
    {"corr": "corr-000001", "visit": "visit-000001", "card": 10_000},
    {"corr": "corr-000001", "visit": "visit-000001", "card": "7"},
    {"corr": "corr-000001", "visit": "bad id!", "card": 7},
])
def test_bad_pool_assign_bodies_are_refused_on_the_wire(body) -> None:
    with pytest.raises(m.MessageError):
        m.decode_body("visit.pool_assign", body)


# --------------------------------------------------------------------------- enrolment and settings
def test_enrol_refuses_duplicates_and_bad_input(lincoln) -> None:
    def enrol(number, uid, approver="Dana Rivera", building="lincoln"):
        return pool.enrol_card(lincoln, SITE_KEY, building_id=building, number=number, uid_text=uid,
                               approver=approver, actor="principal", now=NOW)

    with pytest.raises(VisitorError, match="already enrolled"):
        enrol(9, UID[7])
    with pytest.raises(VisitorError, match="already in use"):
        enrol(7, UID[9])
    with pytest.raises(VisitorError, match="in adams"):
        enrol(300, UID[9])
    with pytest.raises(VisitorError, match="hexadecimal"):
        enrol(9, "not-a-uid")
    with pytest.raises(VisitorError, match="approver"):
        enrol(9, UID[9], approver=" ")
    with pytest.raises(VisitorError, match="1 to 9999"):
        enrol(0, UID[9])
    with pytest.raises(VisitorError, match="no building"):
        enrol(9, UID[9], building="nowhere")
    # a staff keycard's UID cannot join the pool
    staff = lincoln.scalars(select(Person).where(Person.staff_id == "s100")).one()
    lincoln.add(Keycard(building_id="lincoln", person_id=staff.id, cred_hash=card_hmac(SITE_KEY, bytes.fromhex("0A0B0C0D")),
                        issued_at=NOW, approved_by="x", issued_by="x"))
    lincoln.flush()
    with pytest.raises(VisitorError, match="already enrolled"):
        enrol(9, "0A0B0C0D")
    card = enrol(9, "04 a1 b2 c5")
    assert card.cred_hash == card_hmac(SITE_KEY, bytes.fromhex(UID[9])) and UID[9] not in repr(vars(card))


def test_configure_refuses_bad_groups(lincoln) -> None:
    with pytest.raises(VisitorError, match="choose the visitor access group"):
        pool.configure(lincoln, "lincoln", enabled=True, group_slug=None, actor="p", now=NOW)
    with pytest.raises(VisitorError, match="no access group"):
        pool.configure(lincoln, "lincoln", enabled=True, group_slug="nope", actor="p", now=NOW)
    lincoln.add(AccessGroup(building_id="lincoln", slug="responders", name="R", responder=True))
    lincoln.flush()
    with pytest.raises(VisitorError, match="responder"):
        pool.configure(lincoln, "lincoln", enabled=True, group_slug="responders", actor="p", now=NOW)
    with pytest.raises(VisitorError):
        pool.configure(lincoln, "nowhere", enabled=False, group_slug=None, actor="p", now=NOW)
    with pytest.raises(VisitorError) as err:
        pool.set_destination_group(lincoln, "lincoln", "nowhere", "visitors", actor="p", now=NOW)
    assert err.value.reason == "unknown_destination"


def test_directory_says_whether_the_building_lends_cards(lincoln, settings) -> None:
    on = wire.DirectoryResult.model_validate(services.directory(lincoln, settings, "kiosk-front", NOW))
    off = wire.DirectoryResult.model_validate(services.directory(lincoln, settings, "kiosk-adams", NOW))
    assert on.pool_cards and not off.pool_cards
    pool.configure(lincoln, "lincoln", enabled=False, group_slug="visitors", actor="p", now=NOW)
    again = wire.DirectoryResult.model_validate(services.directory(lincoln, settings, "kiosk-front", NOW))
    assert not again.pool_cards and again.version != on.version


def test_retire_refuses_bad_status_and_twice(lincoln) -> None:
    with pytest.raises(VisitorError, match="retired or lost"):
        pool.retire_card(lincoln, "lincoln", 7, "stolen?", actor="p", now=NOW)
    pool.retire_card(lincoln, "lincoln", 7, "retired", actor="p", now=NOW)
    with pytest.raises(VisitorError) as err:
        pool.retire_card(lincoln, "lincoln", 7, "lost", actor="p", now=NOW)
    assert err.value.reason == "card_retired"
    with pytest.raises(VisitorError) as err:
        pool.retire_card(lincoln, "lincoln", 300, "lost", actor="p", now=NOW)
    assert err.value.reason == "card_other_building"
    assert [r.state for r in pool.overview(lincoln, "lincoln")] == ["retired", "free"]


def test_a_pool_cards_uid_cannot_become_a_persons_keycard(lincoln) -> None:
    from hub.services import credentials
    from hub.services.errors import Conflict

    pool.enrol_card(lincoln, SITE_KEY, building_id="lincoln", number=42, uid_text="04A1B2C9",
                    approver="Dana Rivera", actor="principal", now=NOW)
    staff = lincoln.scalars(select(Person).where(Person.staff_id == "s100")).one()
    with pytest.raises(Conflict, match="pool card 42"):
        credentials.enrol_card(lincoln, SITE_KEY, person=staff, building_id="lincoln",
                               uid_text="04 A1 B2 C9", approver="principal", actor="principal", now=NOW)
    with pytest.raises(Conflict, match="pool card 42"):  # the tap path checks the same way
        credentials.enrol_card(lincoln, SITE_KEY, person=staff, building_id="lincoln", approver="principal",
                               actor="principal", now=NOW,
                               cred_hash=card_hmac(SITE_KEY, bytes.fromhex("04A1B2C9")))
    assert not lincoln.scalars(select(Keycard).where(Keycard.person_id == staff.id)).all()
