"""Hub use-cases on SQLite and PostgreSQL: validation, ACLs, termination, codes, master list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from link import messages as m
from link.keys import card_hmac
from hub.auth.models import AuditEntry
from hub.models import AclChange, Alert, ChecklistItem, Device, Keycard
from hub.services import acl, buildings, credentials, people, revocations
from hub.services.buildings import DoorSpec, Window
from hub.services.errors import Conflict, Invalid
from tests.hub.conftest import NOW
from tests.hub.factories import seed, uid_for


@pytest.mark.parametrize("uid, ok", [
    ("04A1B2C3", True), ("04:a1:b2:c3", True), ("04 A1 B2 C3 D4 E5 F6", True),
    ("00112233445566778899", True), ("04A1B2", False), ("04A1B2C3D4", False), ("ZZ112233", False),
    ("", False), ("04A1B2C3D4E5F607", False), ("0x04A1B2C3", False),
])
def test_parse_uid_accepts_4_7_10_bytes_of_hex(uid: str, ok: bool) -> None:
    if ok:
        assert len(credentials.parse_uid(uid)) in (4, 7, 10)
    else:
        with pytest.raises(Invalid) as exc:
            credentials.parse_uid(uid)
        assert exc.value.field == "uid"


def test_card_is_stored_as_hmac_and_refused_twice(session, keyring) -> None:
    s = seed(session, keyring, NOW)
    card = session.scalars(select(Keycard)).first()
    assert card.cred_hash == card_hmac(keyring.site_key, bytes.fromhex(uid_for("lincoln", 0)))

    p = people.get_person(session, "S1")
    with pytest.raises(Conflict):
        credentials.enrol_card(session, keyring.site_key, person=p, building_id=s.building,
                               uid_text=uid_for("lincoln", 0).lower(), approver="x", actor="t", now=NOW)
    with pytest.raises(Invalid) as exc:
        credentials.enrol_card(session, keyring.site_key, person=p, building_id=s.building,
                               uid_text="04A1B2C9", approver="  ", actor="t", now=NOW)
    assert exc.value.field == "approver"


def test_each_device_gets_only_its_doors_credentials(session, keyring) -> None:
    seed(session, keyring, NOW)
    seed(session, keyring, NOW, building="adams", controllers=1, holders=("A1",))
    buildings.save_group(session, "lincoln", slug="office-only", name="Office",
                         door_ids=["lincoln-door-2"], windows=[Window((0,), "08:00", "09:00")],
                         actor="t", now=NOW)
    p3 = people.create_person(session, people.PersonSpec(staff_id="S3", name="Three",
                                                         buildings=["lincoln"]), actor="t", now=NOW)
    people.set_groups(session, p3, "lincoln", ["office-only"], actor="t", now=NOW)
    credentials.enrol_card(session, keyring.site_key, person=p3, building_id="lincoln",
                           uid_text="04FFFFFF", approver="p", actor="t", now=NOW)
    d1 = session.get(Device, "lincoln-ctl-1")
    d2 = session.get(Device, "lincoln-ctl-2")
    holders1 = {c.holder for chunk in acl.snapshot(session, d1, NOW) for c in chunk.credentials}
    holders2 = {c.holder for chunk in acl.snapshot(session, d2, NOW) for c in chunk.credentials}
    assert holders1 == {"S1", "S2"}
    assert holders2 == {"S1", "S2", "S3"}
    snap = acl.snapshot(session, d2, NOW)[0]
    assert {g.group for g in snap.groups} == {"records", "office-only"}
    assert all(set(g.doors) <= {"lincoln-door-2"} for g in snap.groups)


def test_snapshot_is_chunked_under_one_mebibyte(session, keyring) -> None:
    seed(session, keyring, NOW, controllers=1, holders=())
    group = buildings.get_group(session, "lincoln", "records")
    from hub.models import Keycard as K
    from hub.models import Person
    persons = [Person(staff_id=f"B{i:05d}", name=f"Bulk Person Number {i}", created_at=NOW,
                      updated_at=NOW) for i in range(6000)]
    session.add_all(persons)
    session.flush()
    for p in persons:
        p.groups = [group]
    session.add_all([K(building_id="lincoln", person_id=p.id, cred_hash=f"{p.id:064x}",
                       issued_at=NOW, approved_by="p", issued_by="t",
                       pin_salt="00" * 16, pin_hash="ab" * 32, pin_iterations=50_000)
                     for p in persons])
    session.flush()
    dev = session.get(Device, "lincoln-ctl-1")
    chunks = acl.snapshot(session, dev, NOW)
    assert len(chunks) >= 2
    from link.envelope import MAX_PAYLOAD_BYTES, Signer
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    signer = Signer("hub", Ed25519PrivateKey.generate())
    for chunk in chunks:
        assert len(signer.seal(chunk, seq=1, now=NOW)) < MAX_PAYLOAD_BYTES
        assert chunk.chunks == len(chunks)
    assert sum(len(c.credentials) for c in chunks) == 6000


def test_custodial_group_may_not_hold_a_records_room(session, keyring) -> None:
    seed(session, keyring, NOW, holders=())
    with pytest.raises(Invalid) as exc:
        buildings.save_group(session, "lincoln", slug="night", name="Night crew",
                             door_ids=["lincoln-door-1"], windows=[Window((0,), "18:00", "23:00")],
                             custodial=True, actor="t", now=NOW)
    assert "custodial" in exc.value.message


@pytest.mark.parametrize("field, value", [
    ("kind", "closet"), ("strike_s", 0), ("held_open_s", 99999), ("mode", "pin_only"),
    ("door_id", "Bad Id"), ("visitor_policy", "allow"),
])
def test_door_validation(session, keyring, field, value) -> None:
    seed(session, keyring, NOW, controllers=0, holders=())
    spec = dict(door_id="lincoln-x", name="X", kind="records_room")
    spec[field] = value
    with pytest.raises(Invalid) as exc:
        buildings.save_door(session, "lincoln", DoorSpec(**spec), actor="t", now=NOW)
    assert exc.value.field == field


def test_termination_revokes_everything_and_opens_checklist(session, keyring) -> None:
    seed(session, keyring, NOW)
    p = people.get_person(session, "S1")
    key = credentials.create_key(session, "lincoln", mark="RR-1", opens="records room",
                                 copies=2, records_room=True, actor="t", now=NOW)
    credentials.issue_key(session, key, p, approver="principal", actor="t", now=NOW)
    code = credentials.create_secret(session, keyring.vault, "lincoln", kind="keypad_code",
                                     label="Alarm panel", value="4812", actor="t", now=NOW)
    credentials.share_secret(session, code, p, approver="principal", actor="t", now=NOW)
    before = {d.id: d.acl_version for d in session.scalars(select(Device))}
    rev = revocations.terminate(session, p, actor="principal", now=NOW)
    assert p.status == "terminated"
    assert all(c.status == "revoked" for c in session.scalars(
        select(Keycard).where(Keycard.person_id == p.id)))
    states = revocations.door_states(session, rev)
    assert {s.door_id for s in states} == {"lincoln-door-1", "lincoln-door-2"}
    assert {s.state for s in states} == {"offline"}  # no device ever connected
    for dev in session.scalars(select(Device)):
        assert dev.acl_version == before[dev.id] + 1
        change = session.scalars(select(AclChange).where(AclChange.device_id == dev.id)
                                 .order_by(AclChange.id.desc())).first()
        delta = m.AclDelta.model_validate(change.delta)
        assert delta.revoke == [session.scalars(select(Keycard.cred_hash).where(
            Keycard.person_id == p.id)).one()]
        assert delta.from_version == before[dev.id]
    kinds = sorted(i.kind for i in rev.checklist)
    assert kinds == ["badge", "code_change", "key"]
    assert code.change_needed
    assert revocations.terminate(session, p, actor="principal", now=NOW).id == rev.id
    # an online door that acks confirms; the other stays offline
    d1 = session.get(Device, "lincoln-ctl-1")
    d1.online = True
    assert [s.state for s in revocations.door_states(session, rev)
            if s.door_id == "lincoln-door-1"] == ["pending"]
    assert revocations.record_acl_ack(session, d1, d1.acl_version, NOW) == 1
    session.flush()
    session.expire_all()
    by_door = {s.door_id: s.state for s in revocations.door_states(session, rev)}
    assert by_door == {"lincoln-door-1": "confirmed", "lincoln-door-2": "offline"}
    # acking a version the hub never issued confirms nothing
    d2 = session.get(Device, "lincoln-ctl-2")
    assert revocations.record_acl_ack(session, d2, d2.acl_version + 5, NOW) == 0


def test_unreturned_records_room_key_raises_rekey_alert_once(session, keyring) -> None:
    seed(session, keyring, NOW, holders=("S1",))
    p = people.get_person(session, "S1")
    key = credentials.create_key(session, "lincoln", mark="RR-1", opens="records room door",
                                 copies=1, records_room=True, actor="t", now=NOW)
    credentials.issue_key(session, key, p, approver="principal", actor="t", now=NOW)
    revocations.terminate(session, p, actor="principal", now=NOW, key_return_days=3)
    assert revocations.check_overdue_keys(session, NOW + timedelta(days=2)) == []
    overdue = revocations.check_overdue_keys(session, NOW + timedelta(days=3, minutes=1))
    assert len(overdue) == 1
    alert = session.scalars(select(Alert).where(Alert.kind == "rekey")).one()
    assert "re-key" in alert.message and "RR-1" in alert.message
    assert revocations.check_overdue_keys(session, NOW + timedelta(days=5)) == []


def test_returned_key_raises_no_alert(session, keyring) -> None:
    seed(session, keyring, NOW, holders=("S1",))
    p = people.get_person(session, "S1")
    key = credentials.create_key(session, "lincoln", mark="RR-1", opens="records",
                                 copies=1, records_room=True, actor="t", now=NOW)
    credentials.issue_key(session, key, p, approver="principal", actor="t", now=NOW)
    rev = revocations.terminate(session, p, actor="principal", now=NOW)
    item = next(i for i in rev.checklist if i.kind == "key")
    revocations.complete_item(session, item, actor="principal", now=NOW + timedelta(hours=1))
    assert key.holdings[0].status == "returned"
    assert revocations.check_overdue_keys(session, NOW + timedelta(days=30)) == []


def test_key_copies_are_limited(session, keyring) -> None:
    seed(session, keyring, NOW, controllers=0, holders=("S1", "S2"))
    key = credentials.create_key(session, "lincoln", mark="M-7", opens="main office",
                                 copies=1, records_room=False, actor="t", now=NOW)
    credentials.issue_key(session, key, people.get_person(session, "S1"), approver="p",
                          actor="t", now=NOW)
    with pytest.raises(Conflict):
        credentials.issue_key(session, key, people.get_person(session, "S2"), approver="p",
                              actor="t", now=NOW)


def test_code_is_unreadable_in_the_database_file_and_its_view_is_audited(tmp_path, keyring) -> None:
    """On SQLite, the file itself: the code's digits appear nowhere; a view leaves an audit row."""
    from hub.db import Database

    db = Database(f"sqlite:///{tmp_path}/codes.db")
    db.create_all()
    with db.session() as s:
        seed(s, keyring, NOW, controllers=0, holders=("S1",))
        secret = credentials.create_secret(s, keyring.vault, "lincoln", kind="combination",
                                           label="Records cabinet", value="31-07-1942-ZEBRA",
                                           actor="principal", now=NOW)
        secret_id = secret.id
    db.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("codes.db*"))
    assert b"ZEBRA" not in raw and b"31-07-1942" not in raw
    assert b"Records cabinet" in raw  # the label is not secret; the value is
    db = Database(f"sqlite:///{tmp_path}/codes.db")
    with db.session() as s:
        n_before = len(list(s.scalars(select(AuditEntry).where(AuditEntry.action == "secret.view"))))
        value = credentials.view_secret(s, keyring.vault, credentials.get_secret(s, secret_id),
                                        actor="principal-ana", now=NOW, reason="lock jammed")
        assert value == "31-07-1942-ZEBRA"
    with db.session() as s:
        views = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "secret.view")))
        assert len(views) == n_before + 1
        assert views[-1].actor == "principal-ana" and views[-1].target == f"secret:{secret_id}"
        assert "ZEBRA" not in views[-1].after_json
    db.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("codes.db*"))
    assert b"ZEBRA" not in raw


def test_a_moved_ciphertext_does_not_decrypt(session, keyring) -> None:
    from hub.keyring import KeyringError

    seed(session, keyring, NOW, controllers=0, holders=())
    a = credentials.create_secret(session, keyring.vault, "lincoln", kind="keypad_code",
                                  label="A", value="1111", actor="t", now=NOW)
    b = credentials.create_secret(session, keyring.vault, "lincoln", kind="keypad_code",
                                  label="B", value="2222", actor="t", now=NOW)
    b.ciphertext = a.ciphertext
    with pytest.raises(KeyringError):
        credentials.view_secret(session, keyring.vault, b, actor="t", now=NOW)


def test_master_list_csv_has_holders_and_no_secrets(session, keyring) -> None:
    seed(session, keyring, NOW, controllers=1, holders=("S1",))
    p = people.get_person(session, "S1")
    p.name = "=HYPERLINK(\"http://evil\")"
    code = credentials.create_secret(session, keyring.vault, "lincoln", kind="keypad_code",
                                     label="Front", value="987654", actor="t", now=NOW)
    credentials.share_secret(session, code, p, approver="p", actor="t", now=NOW)
    text = credentials.export_csv(credentials.master_list(session, "lincoln"))
    lines = text.splitlines()
    assert lines[0].startswith("item,what,holder_staff_id")
    assert any(line.startswith("keycard,") and ",S1," in line for line in lines)
    assert "987654" not in text
    assert "'=HYPERLINK" in text  # neutralised for spreadsheets
    assert all(c.cred_hash not in text for c in session.scalars(select(Keycard)))


def test_lost_card_is_revoked_on_its_doors(session, keyring) -> None:
    s = seed(session, keyring, NOW)
    card = session.scalars(select(Keycard).where(Keycard.cred_hash == s.cards["S2"])).one()
    versions = credentials.end_card(session, card, "stolen", actor="t", now=NOW)
    assert set(versions) == {"lincoln-ctl-1", "lincoln-ctl-2"}
    assert session.scalars(select(Alert).where(Alert.kind == "card_stolen")).one()
    with pytest.raises(Conflict):
        credentials.end_card(session, card, "lost", actor="t", now=NOW)
    dev = session.get(Device, "lincoln-ctl-1")
    creds = {c.cred: c.status for ch in acl.snapshot(session, dev, NOW) for c in ch.credentials}
    assert creds[s.cards["S2"]] == "lost"


def test_pin_hash_matches_pbkdf2(session, keyring) -> None:
    import hashlib

    salt, digest, iterations = credentials.hash_pin("2468", salt=b"\x01" * 16)
    assert digest == hashlib.pbkdf2_hmac("sha256", b"2468", b"\x01" * 16, iterations).hex()
    with pytest.raises(Invalid):
        credentials.hash_pin("12a4")
    with pytest.raises(Invalid):
        credentials.hash_pin("123")


def test_catch_up_sends_deltas_or_snapshot(session, keyring) -> None:
    seed(session, keyring, NOW, controllers=1)
    dev = session.get(Device, "lincoln-ctl-1")
    v = dev.acl_version
    revocations.terminate(session, people.get_person(session, "S1"), actor="t", now=NOW)
    revocations.terminate(session, people.get_person(session, "S2"), actor="t", now=NOW)
    deltas = acl.catch_up(session, dev, v, NOW)
    assert [type(b) for b in deltas] == [m.AclDelta, m.AclDelta]
    assert [d.to_version for d in deltas] == [v + 1, v + 2]
    assert acl.catch_up(session, dev, dev.acl_version, NOW) == []
    snap = acl.catch_up(session, dev, None, NOW)
    assert isinstance(snap[0], m.AclSnapshot) and snap[0].version == dev.acl_version
    # a snapshot marker in the gap forces a snapshot
    buildings.set_lockdown(session, "lincoln", True, actor="t", now=NOW)
    out = acl.catch_up(session, dev, v, NOW)
    assert isinstance(out[0], m.AclSnapshot) and out[0].lockdown is True
    assert session.scalars(select(ChecklistItem)).all()


def _count_statements(session):
    """A list that grows by one per SQL statement the session's engine runs."""
    from sqlalchemy import event

    seen: list[str] = []
    engine = session.get_bind()

    def count(conn, cursor, statement, *args) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    return seen, lambda: event.remove(engine, "before_cursor_execute", count)


def test_termination_costs_the_same_statements_for_2_doors_as_for_12(session, keyring) -> None:
    seed(session, keyring, NOW, building="lincoln", controllers=2, holders=("S1",))
    seed(session, keyring, NOW, building="adams", controllers=12, holders=("A1",))
    session.flush()
    counts = {}
    for staff_id in ("S1", "A1"):
        person = people.get_person(session, staff_id)
        seen, stop = _count_statements(session)
        try:
            rev = revocations.terminate(session, person, actor="t", now=NOW)
            session.flush()
        finally:
            stop()
        counts[staff_id] = len(seen)
        states = revocations.door_states(session, rev)
        assert len(states) == (2 if staff_id == "S1" else 12)
        assert {s.state for s in states} == {"offline"}
    # one bulk version bump and one insert per table, not a round trip per door
    assert counts["S1"] == counts["A1"]
    versions = {d.id: (d.acl_version, d.acl_acked) for d in session.scalars(select(Device))}
    changes = session.scalars(select(AclChange).where(AclChange.device_id.like("adams-%"))
                              .order_by(AclChange.to_version.desc())).all()
    newest = {}
    for c in changes:
        newest.setdefault(c.device_id, c)
    assert len(newest) == 12
    for device_id, c in newest.items():
        assert c.to_version == versions[device_id][0] and c.from_version == c.to_version - 1
        assert c.delta["to_version"] == c.to_version and not c.published


def test_acks_in_bulk_confirm_only_what_each_device_applied(session, keyring) -> None:
    seed(session, keyring, NOW, controllers=3, holders=("S1",))
    rev = revocations.terminate(session, people.get_person(session, "S1"), actor="t", now=NOW)
    devs = {d.id: d for d in session.scalars(select(Device))}
    v = {d: dev.acl_version for d, dev in devs.items()}
    for dev in devs.values():
        dev.online = True
    later = NOW + timedelta(seconds=1)
    # ctl-1 applied the revocation; ctl-2 reports the version before it; ctl-3 claims a
    # version the hub never issued; an unknown id is ignored
    assert revocations.record_acl_acks(session, {
        "lincoln-ctl-1": v["lincoln-ctl-1"], "lincoln-ctl-2": v["lincoln-ctl-2"] - 1,
        "lincoln-ctl-3": v["lincoln-ctl-3"] + 5, "nobody": 7}, later) == 1
    session.expire_all()
    by_door = {s.door_id: (s.state, s.confirmed_at) for s in revocations.door_states(session, rev)}
    assert by_door == {"lincoln-door-1": ("confirmed", later), "lincoln-door-2": ("pending", None),
                       "lincoln-door-3": ("pending", None)}
    assert session.get(Device, "lincoln-ctl-3").acl_acked is None
    # acked never goes back, and a confirmation keeps its first time
    assert revocations.record_acl_acks(session, {
        "lincoln-ctl-1": v["lincoln-ctl-1"] - 1, "lincoln-ctl-2": v["lincoln-ctl-2"],
        "lincoln-ctl-3": v["lincoln-ctl-3"]}, later + timedelta(seconds=1)) == 2
    session.expire_all()
    assert session.get(Device, "lincoln-ctl-1").acl_acked == v["lincoln-ctl-1"]
    states = revocations.door_states(session, rev)
    assert {s.state for s in states} == {"confirmed"}
    assert [s.confirmed_at for s in states if s.door_id == "lincoln-door-1"] == [later]
    assert revocations.record_acl_acks(session, {}, later) == 0


def test_acks_for_2_or_12_devices_cost_the_same_statements(session, keyring) -> None:
    seed(session, keyring, NOW, building="lincoln", controllers=2, holders=("S1",))
    seed(session, keyring, NOW, building="adams", controllers=12, holders=("A1",))
    counts = {}
    for staff_id, building in (("S1", "lincoln"), ("A1", "adams")):
        revocations.terminate(session, people.get_person(session, staff_id), actor="t", now=NOW)
        session.flush()
        applied = {d.id: d.acl_version for d in session.scalars(
            select(Device).where(Device.building_id == building))}
        seen, stop = _count_statements(session)
        try:
            assert revocations.record_acl_acks(session, applied, NOW) == len(applied)
            session.flush()
        finally:
            stop()
        counts[building] = len(seen)
    assert counts["lincoln"] == counts["adams"]
