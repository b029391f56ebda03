"""The master list: keycards, physical keys, keypad codes and lock combinations.

Keycards are known only by ``link.keys.card_hmac(site key, UID)``. Codes and combinations are
stored encrypted with the vault key (a file, never the database); each view is audited. Every
issue names an approver.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from link.keys import card_hmac
from hub.keyring import Vault
from hub.models import Keycard, KeyHolding, Person, PhysicalKey, Secret, SecretHolding
from hub.services import acl, alerts, audit
from hub.services.audit import ActorLike, label as actor_label
from hub.services.errors import Conflict, Invalid, NotFound

PIN_ITERATIONS = 50_000
SECRET_KINDS = ("keypad_code", "combination")
_HEX = re.compile(r"^[0-9A-Fa-f]+$")


def parse_uid(text: str) -> bytes:
    """A typed card UID (hex, spaces or colons allowed) as bytes; 4, 7 or 10 bytes only."""
    cleaned = re.sub(r"[\s:]", "", text or "")
    if not cleaned or not _HEX.match(cleaned):
        raise Invalid("card UID must be hexadecimal (0-9, A-F)", field="uid")
    if len(cleaned) % 2 or len(cleaned) // 2 not in (4, 7, 10):
        raise Invalid("card UID must be 4, 7 or 10 bytes (8, 14 or 20 hex digits)", field="uid")
    return bytes.fromhex(cleaned)


def hash_pin(pin: str, *, salt: bytes | None = None,
             iterations: int = PIN_ITERATIONS) -> tuple[str, str, int]:
    """(salt hex, PBKDF2-SHA256 hex, iterations) for a 4-8 digit PIN, as doors verify it."""
    if not isinstance(pin, str) or not re.fullmatch(r"\d{4,8}", pin):
        raise Invalid("PIN must be 4 to 8 digits", field="pin")
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode("ascii"), salt, iterations)
    return salt.hex(), digest.hex(), iterations


def _approver(approver: str) -> str:
    approver = (approver or "").strip()
    if not approver or len(approver) > 200:
        raise Invalid("an approver is required (WISP V: only approved employees hold "
                      "credentials)", field="approver")
    return approver


def _check_holder(person: Person, building_id: str) -> None:
    if person.status != "active":
        raise Conflict(f"{person.staff_id} is {person.status}; only active people get "
                       "credentials", field="person")
    if building_id not in {b.id for b in person.buildings}:
        raise Invalid(f"{person.staff_id} is not attached to building {building_id}",
                      field="building")


# --------------------------------------------------------------------------- keycards
def enrol_card(session: Session, site_key: bytes, *, person: Person, building_id: str,
               uid_text: str, approver: str, actor: ActorLike, now: datetime, pin: str | None = None,
               label: str = "") -> Keycard:
    """Issue a keycard typed in by UID (and an optional PIN); its doors learn at once."""
    uid = parse_uid(uid_text)
    approver = _approver(approver)
    _check_holder(person, building_id)
    cred = card_hmac(site_key, uid)
    if session.scalars(select(Keycard).where(Keycard.cred_hash == cred)).first():
        raise Conflict("this card is already enrolled", field="uid")
    card = Keycard(building_id=building_id, person_id=person.id, cred_hash=cred,
                   label=(label or "")[:200], issued_at=now, approved_by=approver,
                   issued_by=actor_label(actor), status="active")
    if pin is not None:
        card.pin_salt, card.pin_hash, card.pin_iterations = hash_pin(pin)
    session.add(card)
    session.flush()
    acl.push_person(session, person, set(), now)
    audit.record(session, actor=actor, action="card.issue", now=now, building_id=building_id,
                 target=person.staff_id, detail={"card": card.id, "approver": approver,
                                                 "pin": pin is not None})
    return card


def get_card(session: Session, card_id: int) -> Keycard:
    """A keycard by id, or NotFound."""
    card = session.get(Keycard, card_id)
    if card is None:
        raise NotFound(f"no keycard {card_id}")
    return card


def end_card(session: Session, card: Keycard, status: str, *, actor: ActorLike,
             now: datetime) -> dict[str, int]:
    """A card returned, lost, stolen or revoked: every door that knew it revokes it."""
    if status not in ("returned", "lost", "stolen", "revoked"):
        raise Invalid("status must be returned, lost, stolen or revoked", field="status")
    if card.status != "active":
        raise Conflict(f"keycard {card.id} is already {card.status}", field="status")
    card.status, card.ended_at = status, now
    devices = acl.person_devices(session, card.person) | acl.building_devices(
        session, card.building_id)
    versions = acl.revoke_cards(session, [card.cred_hash], devices, now)
    audit.record(session, actor=actor, action=f"card.{status}", now=now,
                 building_id=card.building_id, target=card.person.staff_id,
                 detail={"card": card.id})
    if status == "stolen":
        alerts.raise_alert(session, key=f"card-stolen:{card.id}", kind="card_stolen",
                           severity="warning", building_id=card.building_id, now=now,
                           message=f"keycard {card.id} of {card.person.staff_id} reported stolen")
    return versions


# --------------------------------------------------------------------------- physical keys
def create_key(session: Session, building_id: str, *, mark: str, opens: str, copies: int,
               records_room: bool, actor: ActorLike, now: datetime) -> PhysicalKey:
    """Record a cut key type (its mark, the locks it opens, how many copies exist)."""
    mark = (mark or "").strip()
    if not mark or len(mark) > 64:
        raise Invalid("key mark must be 1 to 64 characters", field="mark")
    if type(copies) is not int or not 1 <= copies <= 1000:
        raise Invalid("copies must be 1 to 1000", field="copies")
    if session.scalars(select(PhysicalKey).where(PhysicalKey.building_id == building_id,
                                                 PhysicalKey.mark == mark)).first():
        raise Conflict(f"key mark {mark} already exists in {building_id}", field="mark")
    key = PhysicalKey(building_id=building_id, mark=mark, opens=(opens or "")[:500],
                      copies=copies, records_room=records_room, created_at=now)
    session.add(key)
    session.flush()
    audit.record(session, actor=actor, action="key.create", now=now, building_id=building_id,
                 target=mark, detail={"copies": copies, "records_room": records_room})
    return key


def issue_key(session: Session, key: PhysicalKey, person: Person, *, approver: str, actor: ActorLike,
              now: datetime) -> KeyHolding:
    """Hand one copy of ``key`` to ``person``."""
    approver = _approver(approver)
    _check_holder(person, key.building_id)
    out = session.scalar(select(func.count()).select_from(KeyHolding).where(
        KeyHolding.key_id == key.id, KeyHolding.status == "issued"))
    if out >= key.copies:
        raise Conflict(f"all {key.copies} copies of {key.mark} are out", field="key")
    h = KeyHolding(key_id=key.id, person_id=person.id, status="issued", issued_at=now,
                   approved_by=approver, issued_by=actor_label(actor))
    session.add(h)
    session.flush()
    audit.record(session, actor=actor, action="key.issue", now=now, building_id=key.building_id,
                 target=person.staff_id, detail={"key": key.mark, "approver": approver})
    return h


def end_key_holding(session: Session, holding: KeyHolding, status: str, *, actor: ActorLike,
                    now: datetime) -> None:
    """A key copy returned, lost or stolen (lost or stolen records-room keys raise a re-key alert)."""
    if status not in ("returned", "lost", "stolen"):
        raise Invalid("status must be returned, lost or stolen", field="status")
    if holding.status != "issued":
        raise Conflict(f"that key copy is already {holding.status}", field="status")
    holding.status, holding.ended_at = status, now
    key = holding.key
    audit.record(session, actor=actor, action=f"key.{status}", now=now,
                 building_id=key.building_id, target=holding.person.staff_id,
                 detail={"key": key.mark})
    if status != "returned" and key.records_room:
        alerts.raise_alert(session, key=f"rekey:{key.id}:{holding.id}", kind="rekey",
                           severity="critical", building_id=key.building_id, now=now,
                           message=f"records-room key {key.mark} {status}: re-key "
                                   f"{key.opens or 'its locks'}")


# --------------------------------------------------------------------------- codes and combinations
def _context(secret_id: int) -> str:
    return f"gatehouse-secret:{secret_id}"


def _check_secret_value(kind: str, value: str) -> str:
    if kind not in SECRET_KINDS:
        raise Invalid(f"kind must be one of {', '.join(SECRET_KINDS)}", field="kind")
    if kind == "keypad_code" and not re.fullmatch(r"[0-9*#]{3,16}", value or ""):
        raise Invalid("a keypad code is 3 to 16 of 0-9, * and #", field="value")
    if kind == "combination" and not (value and len(value) <= 64 and value.isprintable()):
        raise Invalid("a combination is 1 to 64 printable characters", field="value")
    return value


def create_secret(session: Session, vault: Vault, building_id: str, *, kind: str, label: str,
                  value: str, actor: ActorLike, now: datetime) -> Secret:
    """Store a code or combination, encrypted; the value is never logged or audited."""
    _check_secret_value(kind, value)
    label = (label or "").strip()
    if not label or len(label) > 200:
        raise Invalid("label must be 1 to 200 characters", field="label")
    s = Secret(building_id=building_id, kind=kind, label=label, ciphertext=b"",
               created_at=now, changed_at=now)
    session.add(s)
    session.flush()
    s.ciphertext = vault.encrypt(value, context=_context(s.id))
    audit.record(session, actor=actor, action="secret.create", now=now, building_id=building_id,
                 target=f"secret:{s.id}", detail={"kind": kind, "label": label})
    return s


def view_secret(session: Session, vault: Vault, secret: Secret, *, actor: ActorLike, now: datetime,
                reason: str = "") -> str:
    """Decrypt a code for an authorised, re-authenticated viewer; the view is audited first."""
    audit.record(session, actor=actor, action="secret.view", now=now,
                 building_id=secret.building_id, target=f"secret:{secret.id}",
                 detail={"label": secret.label, "reason": (reason or "")[:200]})
    return vault.decrypt(secret.ciphertext, context=_context(secret.id))


def change_secret(session: Session, vault: Vault, secret: Secret, *, value: str, actor: ActorLike,
                  now: datetime) -> None:
    """Set a new code (after a holder left, for instance)."""
    _check_secret_value(secret.kind, value)
    secret.ciphertext = vault.encrypt(value, context=_context(secret.id))
    secret.changed_at, secret.change_needed = now, False
    audit.record(session, actor=actor, action="secret.change", now=now,
                 building_id=secret.building_id, target=f"secret:{secret.id}")


def share_secret(session: Session, secret: Secret, person: Person, *, approver: str, actor: ActorLike,
                 now: datetime) -> SecretHolding:
    """Record that ``person`` was told the code."""
    approver = _approver(approver)
    _check_holder(person, secret.building_id)
    h = SecretHolding(secret_id=secret.id, person_id=person.id, issued_at=now,
                      approved_by=approver)
    session.add(h)
    session.flush()
    audit.record(session, actor=actor, action="secret.share", now=now,
                 building_id=secret.building_id, target=person.staff_id,
                 detail={"secret": secret.id, "approver": approver})
    return h


def get_secret(session: Session, secret_id: int) -> Secret:
    """A secret by id, or NotFound."""
    s = session.get(Secret, secret_id)
    if s is None:
        raise NotFound(f"no secret {secret_id}")
    return s


# --------------------------------------------------------------------------- the list
@dataclass
class MasterList:
    """A building's master list (no secret values in it)."""

    building_id: str
    cards: list[Keycard]
    keys: list[PhysicalKey]
    secrets: list[Secret]


def master_list(session: Session, building_id: str, *, include_ended: bool = False,
                include_cards: bool = True) -> MasterList:
    """Every keycard, key (with holders) and code (with holders) of a building."""
    cards = select(Keycard).where(Keycard.building_id == building_id).options(
        selectinload(Keycard.person)).order_by(Keycard.id)
    if not include_ended:
        cards = cards.where(Keycard.status == "active")
    keys = select(PhysicalKey).where(PhysicalKey.building_id == building_id).options(
        selectinload(PhysicalKey.holdings).selectinload(KeyHolding.person)).order_by(
        PhysicalKey.mark)
    secs = select(Secret).where(Secret.building_id == building_id).options(
        selectinload(Secret.holdings).selectinload(SecretHolding.person)).order_by(Secret.label)
    return MasterList(building_id, list(session.scalars(cards)) if include_cards else [],
                      list(session.scalars(keys)), list(session.scalars(secs)))


@dataclass(frozen=True)
class CardRow:
    """One active keycard of the master list, as plain values (pages with 10,000 rows)."""

    id: int
    label: str
    has_pin: bool
    issued_at: datetime
    approved_by: str
    staff_id: str
    name: str


def card_rows(session: Session, building_id: str) -> list[CardRow]:
    """Active keycards of a building with their holders, ordered by holder name."""
    rows = session.execute(
        select(Keycard.id, Keycard.label, Keycard.pin_hash.is_not(None), Keycard.issued_at,
               Keycard.approved_by, Person.staff_id, Person.name)
        .join(Person, Person.id == Keycard.person_id)
        .where(Keycard.building_id == building_id, Keycard.status == "active")
        .order_by(Person.name, Keycard.id))
    return [CardRow(*r) for r in rows]


EXPORT_HEADER = ["item", "what", "holder_staff_id", "holder_name", "status", "issued_at",
                 "approved_by", "ended_at"]


def _csv_safe(value: str) -> str:
    # NOTE: a cell starting with = + - @ runs as a formula in a spreadsheet (CSV injection).
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def export_csv(ml: MasterList) -> str:
    """The master list as CSV (holders and dates; never a code or a card hash)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(EXPORT_HEADER)

    def row(*cells: object) -> None:
        w.writerow([_csv_safe("" if c is None else (c.isoformat() if isinstance(c, datetime)
                                                     else str(c))) for c in cells])

    for c in ml.cards:
        row("keycard", c.label or f"card {c.id}", c.person.staff_id, c.person.name, c.status,
            c.issued_at, c.approved_by, c.ended_at)
    for k in ml.keys:
        for h in k.holdings:
            row("key", f"{k.mark} ({k.opens})", h.person.staff_id, h.person.name, h.status,
                h.issued_at, h.approved_by, h.ended_at)
    for s in ml.secrets:
        for h in s.holdings:
            row(s.kind, s.label, h.person.staff_id, h.person.name,
                "ended" if h.ended_at else "holds", h.issued_at, h.approved_by, h.ended_at)
    return buf.getvalue()
