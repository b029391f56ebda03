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
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from link.keys import card_hmac
from hub.keyring import Vault
from hub.models import (Device, Event, Keycard, KeyHolding, Person, PhysicalKey, Secret,
                        SecretHolding)
from hub.models.credentials import TapEnrolment
from hub.services import acl, alerts, audit
from hub.services.audit import ActorLike, label as actor_label
from hub.services.errors import Conflict, Invalid, NotFound

PIN_ITERATIONS = 50_000
SECRET_KINDS = ("keypad_code", "combination")
_HEX = re.compile(r"^[0-9A-Fa-f]+$")
_CRED = re.compile(r"^[0-9a-f]{64}$")


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
               uid_text: str | None = None, approver: str, actor: ActorLike, now: datetime,
               pin: str | None = None, label: str = "", cred_hash: str | None = None) -> Keycard:
    """Issue a keycard typed in by UID, or tapped at a reader (its HMAC); its doors learn at once.

    Exactly one of ``uid_text`` (typed enrolment) and ``cred_hash`` (the HMAC a reader reported,
    see :func:`confirm_tap_enrolment`) is given; everything else is checked the same way.
    """
    if (uid_text is None) == (cred_hash is None):
        raise Invalid("give either a typed card UID or a tapped card", field="uid")
    if cred_hash is not None:
        if not _CRED.match(cred_hash):
            raise Invalid("a tapped card must be a 64-digit lowercase hex HMAC", field="cred")
        cred = cred_hash
    else:
        cred = card_hmac(site_key, parse_uid(uid_text or ""))
    approver = _approver(approver)
    _check_holder(person, building_id)
    if session.scalars(select(Keycard).where(Keycard.cred_hash == cred)).first():
        raise Conflict("this card is already enrolled", field="uid")
    from hub.visitors.pool_models import PoolCard  # NOTE: lazy, hub.visitors imports services

    pooled = session.scalars(select(PoolCard).where(PoolCard.cred_hash == cred)).first()
    if pooled is not None:
        raise Conflict(f"this card is visitor pool card {pooled.number}; a card is either a "
                       "pool card or a person's, never both", field="uid")
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
                                                 "pin": pin is not None,
                                                 "via": "typed" if uid_text is not None else "tap"})
    return card


# --------------------------------------------------------------------------- enrolment by tapping
TAP_WAIT_S = 60  # how long a reader waits for the card after "Enrol by tap"
TAP_CONFIRM_S = 300  # how long a tapped card may wait for the principal's confirmation
#: a reader's clock may lag the hub's this much; an older event is an outbox replay, not the tap
TAP_CLOCK_SLACK_S = 120
#: events that carry the presented card's HMAC (an unknown card is denied as ``unknown_card``;
#: a card the reader knows is granted or denied for another reason, and is already enrolled)
_CARD_EVENTS = ("access.denied", "access.granted")


@dataclass(frozen=True)
class TapState:
    """What the enrolment page shows: where a tap enrolment stands, and what to say."""

    id: int
    state: str  # waiting | seen | already_enrolled | enrolled | expired | cancelled
    message: str
    seconds_left: int = 0
    fingerprint: str = ""  # first 8 hex digits of the card's HMAC, to tell two taps apart
    seen_at: datetime | None = None
    holder_staff_id: str | None = None  # already_enrolled: who holds the card (if in scope)
    holder_building: str | None = None
    card_id: int | None = None


def _fmt(t: datetime) -> str:
    return t.strftime("%H:%M:%S") + " UTC"


def get_tap_enrolment(session: Session, enrolment_id: int) -> TapEnrolment:
    """A tap enrolment by id, or NotFound."""
    wait = session.get(TapEnrolment, enrolment_id)
    if wait is None:
        raise NotFound(f"no tap enrolment {enrolment_id}")
    return wait


def _readers(session: Session, building_id: str) -> list[Device]:
    return list(session.scalars(select(Device).where(
        Device.building_id == building_id, Device.kind == "controller",
        Device.status == "active").order_by(Device.id)))


def enrolment_readers(session: Session, person: Person,
                      buildings: frozenset[str] | None) -> list[Device]:
    """Door readers (active controllers) where ``person`` may be enrolled, in ``buildings``."""
    out: list[Device] = []
    for b in person.buildings:
        if buildings is None or b.id in buildings:
            out.extend(_readers(session, b.id))
    return out


def _expire_stale(session: Session, device_id: str, now: datetime) -> None:
    for wait in session.scalars(select(TapEnrolment).where(
            TapEnrolment.waiting_on == device_id, TapEnrolment.expires_at <= now)):
        wait.status, wait.waiting_on, wait.ended_at = "expired", None, now
    session.flush()


def start_tap_enrolment(session: Session, *, person: Person, device_id: str, actor: ActorLike,
                        now: datetime, wait_s: int = TAP_WAIT_S) -> TapEnrolment:
    """Begin waiting at a reader for the next card tapped there; one wait per reader at a time.

    The same account pressing again on the same reader replaces its own wait; anyone else gets
    a Conflict naming who is waiting there and until when.
    """
    device = session.get(Device, device_id) if isinstance(device_id, str) else None
    if device is None or device.kind != "controller":
        raise Invalid("choose a door reader (a controller) of the person's building",
                      field="device")
    if device.status != "active":
        raise Conflict(f"reader {device.id} is revoked and cannot enrol cards", field="device")
    _check_holder(person, device.building_id)
    _expire_stale(session, device.id, now)
    who = actor_label(actor)
    current = session.scalars(select(TapEnrolment).where(
        TapEnrolment.waiting_on == device.id)).first()
    if current is not None:
        if current.started_by != who:
            raise Conflict(
                f"reader {device.id} is already waiting for a card for {current.person.name} "
                f"({current.person.staff_id}), started by {current.started_by} at "
                f"{_fmt(current.started_at)}, until {_fmt(current.expires_at)}; "
                "choose another reader or try again after that", field="device")
        current.status, current.waiting_on, current.ended_at = "cancelled", None, now
        session.flush()
    after = session.scalar(select(func.max(Event.seq)).where(Event.device_id == device.id))
    wait = TapEnrolment(building_id=device.building_id, device_id=device.id, person_id=person.id,
                        waiting_on=device.id, status="waiting", started_by=who, started_at=now,
                        expires_at=now + timedelta(seconds=wait_s), after_seq=after or 0)
    try:
        with session.begin_nested():
            session.add(wait)
            session.flush()
    except IntegrityError:
        # NOTE: another principal's wait on this reader committed between our check and insert.
        raise Conflict(f"reader {device.id} was just claimed by another enrolment; choose "
                       "another reader or try again in a minute", field="device") from None
    audit.record(session, actor=actor, action="card.tap_wait", now=now,
                 building_id=device.building_id, target=person.staff_id,
                 detail={"enrolment": wait.id, "device": device.id, "wait_s": wait_s})
    return wait


def _tapped(session: Session, wait: TapEnrolment) -> Event | None:
    return session.scalars(select(Event).where(
        Event.device_id == wait.device_id, Event.seq > wait.after_seq,
        Event.type.in_(_CARD_EVENTS), Event.cred.is_not(None),
        Event.received_at >= wait.started_at, Event.received_at <= wait.expires_at,
        Event.at >= wait.started_at - timedelta(seconds=TAP_CLOCK_SLACK_S))
        .order_by(Event.seq).limit(1)).first()


def poll_tap_enrolment(session: Session, wait: TapEnrolment, now: datetime) -> TapState:
    """Look for the tap; say where the enrolment stands (waiting, seen, expired, ...)."""
    if wait.status == "waiting":
        event = _tapped(session, wait)
        if event is not None:
            wait.status, wait.cred_hash, wait.seen_at, wait.waiting_on = (
                "seen", event.cred, now, None)
        elif now >= wait.expires_at:
            wait.status, wait.waiting_on, wait.ended_at = "expired", None, now
        session.flush()
    if wait.status == "seen" and wait.seen_at is not None and \
            now >= wait.seen_at + timedelta(seconds=TAP_CONFIRM_S):
        wait.status, wait.ended_at = "expired", now
        session.flush()
        return TapState(wait.id, "expired", "the tapped card was not confirmed within "
                        f"{TAP_CONFIRM_S // 60} minutes; press Enrol by tap and tap it again")
    reader = wait.device_id
    if wait.status == "waiting":
        left = max(0, int((wait.expires_at - now).total_seconds()))
        return TapState(wait.id, "waiting", f"tap the card on reader {reader} now", left)
    if wait.status == "expired":
        return TapState(wait.id, "expired",
                        f"no card was tapped on reader {reader} within "
                        f"{int((wait.expires_at - wait.started_at).total_seconds())} s; "
                        "press Enrol by tap and try again")
    if wait.status == "cancelled":
        return TapState(wait.id, "cancelled", "this enrolment was cancelled or replaced")
    fp = (wait.cred_hash or "")[:8]
    if wait.status == "enrolled":
        return TapState(wait.id, "enrolled", f"card {fp} enrolled as keycard {wait.card_id}",
                        fingerprint=fp, seen_at=wait.seen_at, card_id=wait.card_id)
    held = session.scalars(select(Keycard).where(Keycard.cred_hash == wait.cred_hash)).first()
    if held is not None:
        return TapState(wait.id, "already_enrolled",
                        f"the card tapped on reader {reader} is already enrolled "
                        f"({held.status}); it was not enrolled again",
                        fingerprint=fp, seen_at=wait.seen_at,
                        holder_staff_id=held.person.staff_id, holder_building=held.building_id)
    return TapState(wait.id, "seen", f"card {fp} tapped on reader {reader}: confirm to enrol "
                    f"it for {wait.person.name}", fingerprint=fp, seen_at=wait.seen_at)


def confirm_tap_enrolment(session: Session, wait: TapEnrolment, *, approver: str, actor: ActorLike,
                          now: datetime, pin: str | None = None, label: str = "") -> Keycard:
    """Enrol the tapped card for the waiting person, exactly as typed enrolment does."""
    state = poll_tap_enrolment(session, wait, now)
    if state.state != "seen":
        raise Conflict(state.message if state.state != "waiting"
                       else "no card has been tapped yet", field="card")
    card = enrol_card(session, b"", person=wait.person, building_id=wait.building_id,
                      cred_hash=wait.cred_hash, approver=approver, actor=actor, now=now, pin=pin,
                      label=label)
    wait.status, wait.card_id, wait.ended_at = "enrolled", card.id, now
    session.flush()
    return card


def cancel_tap_enrolment(session: Session, wait: TapEnrolment, *, now: datetime) -> None:
    """Stop waiting (frees the reader); an enrolled or ended wait stays as it is."""
    if wait.status in ("waiting", "seen"):
        wait.status, wait.waiting_on, wait.ended_at = "cancelled", None, now
        session.flush()


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
    """One keycard of the master list, as plain values (pages with 10,000 rows)."""

    id: int
    label: str
    has_pin: bool
    issued_at: datetime
    approved_by: str
    staff_id: str
    name: str
    status: str = "active"
    ended_at: datetime | None = None


def _card_columns():
    return (Keycard.id, Keycard.label, Keycard.pin_hash.is_not(None), Keycard.issued_at,
            Keycard.approved_by, Person.staff_id, Person.name, Keycard.status, Keycard.ended_at)


def card_rows(session: Session, building_id: str) -> list[CardRow]:
    """Active keycards of a building with their holders, ordered by holder name."""
    rows = session.execute(
        select(*_card_columns()).join(Person, Person.id == Keycard.person_id)
        .where(Keycard.building_id == building_id, Keycard.status == "active")
        .order_by(Person.name, Keycard.id))
    return [CardRow(*r) for r in rows]


# --------------------------------------------------------------------------- paged tables
CARD_STATUSES = ("active", "revoked", "lost", "stolen", "returned")
PERSON_STATUSES = ("active", "on_leave", "terminated")
PAGE_SIZE = 100
KEY_PAGE_SIZE = 50  # a key type lists every holder of its copies
MAX_QUERY = 100


@dataclass(frozen=True)
class RowPage:
    """One page of a long master-list table: its rows and where it sits in the whole."""

    rows: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages the filtered table has (at least one)."""
        return max(1, -(-self.total // self.per_page))

    @property
    def first(self) -> int:
        """1-based number of the first row shown (0 when empty)."""
        return (self.page - 1) * self.per_page + 1 if self.rows else 0

    @property
    def last(self) -> int:
        """1-based number of the last row shown."""
        return (self.page - 1) * self.per_page + len(self.rows)


def parse_filter(q: str | None, status: str | None, page: str | None, *,
                 statuses: tuple[str, ...], default_status: str = "") -> tuple[str, str, int]:
    """Validate a table filter from a query string: (search text, status or "", page >= 1)."""
    q = (q or "").strip()
    if len(q) > MAX_QUERY or not q.isprintable():
        raise Invalid(f"search must be at most {MAX_QUERY} printable characters", field="q")
    status = default_status if status is None else status
    if status not in ("", "all") and status not in statuses:
        raise Invalid(f"status must be one of all, {', '.join(statuses)}", field="status")
    if page is None or page == "":
        number = 1
    elif page.isdigit() and 1 <= int(page) <= 1_000_000:
        number = int(page)
    else:
        raise Invalid("page must be a whole number from 1", field="page")
    return q, "" if status == "all" else status, number


def _like(q: str) -> str:
    # LIKE with the user's % and _ taken literally; lower() on both sides (SQLite and PostgreSQL).
    return "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _matches(q: str):
    pattern = _like(q)
    return or_(func.lower(Person.name).like(pattern, escape="\\"),
               func.lower(Person.staff_id).like(pattern, escape="\\"))


def card_page(session: Session, building_id: str, *, q: str = "", status: str = "active",
              page: int = 1, per_page: int = PAGE_SIZE) -> RowPage:
    """One page of a building's keycards by holder name, filtered by holder and card status."""
    where = [Keycard.building_id == building_id]
    if status:
        where.append(Keycard.status == status)
    if q:
        where.append(_matches(q))
    base = select(*_card_columns()).join(Person, Person.id == Keycard.person_id).where(*where)
    counted = select(Keycard.id).where(*where)
    if q:
        counted = counted.join(Person, Person.id == Keycard.person_id)
    total = session.scalar(select(func.count()).select_from(counted.subquery()))
    rows = session.execute(base.order_by(Person.name, Keycard.id)
                           .offset((page - 1) * per_page).limit(per_page))
    return RowPage([CardRow(*r) for r in rows], total or 0, page, per_page)


def person_page(session: Session, building_id: str, *, q: str = "", status: str = "",
                page: int = 1, per_page: int = PAGE_SIZE) -> RowPage:
    """One page of the people attached to a building, by name, filtered by name/id and status."""
    from hub.models.people import person_buildings
    from hub.services.people import PersonRow

    where = [person_buildings.c.building_id == building_id]
    if status:
        where.append(Person.status == status)
    if q:
        where.append(_matches(q))
    joined = select(Person.id).join(person_buildings, person_buildings.c.person_id == Person.id)
    total = session.scalar(select(func.count()).select_from(joined.where(*where).subquery()))
    rows = session.execute(
        select(Person.staff_id, Person.name, Person.kind, Person.title, Person.status,
               Person.has_dpa)
        .join(person_buildings, person_buildings.c.person_id == Person.id).where(*where)
        .order_by(Person.name, Person.staff_id).offset((page - 1) * per_page).limit(per_page))
    return RowPage([PersonRow(*r) for r in rows], total or 0, page, per_page)


@dataclass(frozen=True)
class Holder:
    """Someone holding a key copy or knowing a code, as a list shows them."""

    staff_id: str
    name: str


@dataclass(frozen=True)
class KeyRow:
    """A key type of the master list with the people holding its issued copies."""

    id: int
    mark: str
    opens: str
    copies: int
    records_room: bool
    holders: tuple[Holder, ...]


@dataclass(frozen=True)
class SecretRow:
    """A code or combination of the master list (never its value) with who knows it."""

    id: int
    label: str
    kind: str
    change_needed: bool
    holders: tuple[Holder, ...]


def _holders(session: Session, stmt) -> dict[int, list[Holder]]:
    out: dict[int, list[Holder]] = {}
    for owner, staff_id, name in session.execute(stmt):
        out.setdefault(owner, []).append(Holder(staff_id, name))
    return out


def key_page(session: Session, building_id: str, *, q: str = "", page: int = 1,
             per_page: int = KEY_PAGE_SIZE) -> RowPage:
    """One page of a building's key types by mark, with holders; ``q`` keeps the keys it matches.

    A key matches by its mark or the locks it opens, or by a holder's name or staff id.
    """
    where = [PhysicalKey.building_id == building_id]
    if q:
        matching_holder = select(KeyHolding.key_id).join(
            Person, Person.id == KeyHolding.person_id).where(KeyHolding.status == "issued",
                                                             _matches(q))
        pattern = _like(q)
        key_hit = or_(func.lower(PhysicalKey.mark).like(pattern, escape="\\"),
                      func.lower(PhysicalKey.opens).like(pattern, escape="\\"))
        where.append(or_(key_hit, PhysicalKey.id.in_(matching_holder)))
    total = session.scalar(select(func.count()).select_from(PhysicalKey).where(*where)) or 0
    keys = session.execute(
        select(PhysicalKey.id, PhysicalKey.mark, PhysicalKey.opens, PhysicalKey.copies,
               PhysicalKey.records_room).where(*where).order_by(PhysicalKey.mark)
        .offset((page - 1) * per_page).limit(per_page)).all()
    holders = _holders(session, select(KeyHolding.key_id, Person.staff_id, Person.name)
                       .join(Person, Person.id == KeyHolding.person_id)
                       .where(KeyHolding.key_id.in_([k[0] for k in keys]),
                              KeyHolding.status == "issued")
                       .order_by(Person.name, KeyHolding.id)) if keys else {}
    return RowPage([KeyRow(*k, tuple(holders.get(k[0], ()))) for k in keys], total, page,
                   per_page)


def secret_page(session: Session, building_id: str, *, q: str = "", page: int = 1,
                per_page: int = PAGE_SIZE) -> RowPage:
    """One page of a building's codes and combinations by label with who knows them (no value)."""
    where = [Secret.building_id == building_id]
    if q:
        pattern = _like(q)
        knower = select(SecretHolding.secret_id).join(
            Person, Person.id == SecretHolding.person_id).where(SecretHolding.ended_at.is_(None),
                                                                _matches(q))
        where.append(or_(func.lower(Secret.label).like(pattern, escape="\\"),
                         Secret.id.in_(knower)))
    total = session.scalar(select(func.count()).select_from(Secret).where(*where)) or 0
    rows = session.execute(
        select(Secret.id, Secret.label, Secret.kind, Secret.change_needed).where(*where)
        .order_by(Secret.label, Secret.id).offset((page - 1) * per_page).limit(per_page)).all()
    holders = _holders(session, select(SecretHolding.secret_id, Person.staff_id, Person.name)
                       .join(Person, Person.id == SecretHolding.person_id)
                       .where(SecretHolding.secret_id.in_([r[0] for r in rows]),
                              SecretHolding.ended_at.is_(None))
                       .order_by(Person.name, SecretHolding.id)) if rows else {}
    return RowPage([SecretRow(*r, tuple(holders.get(r[0], ()))) for r in rows], total, page,
                   per_page)


@dataclass(frozen=True)
class Counts:
    """The master list's header figures for a building."""

    cards: dict[str, int]
    people: dict[str, int]
    keys: int
    key_copies_out: int
    secrets: int

    @property
    def cards_total(self) -> int:
        """Keycards of every status."""
        return sum(self.cards.values())

    @property
    def people_total(self) -> int:
        """People of every status."""
        return sum(self.people.values())


def counts(session: Session, building_id: str) -> Counts:
    """Keycards and people by status, key types, key copies out and codes of a building."""
    from hub.models.people import person_buildings

    cards = dict(session.execute(select(Keycard.status, func.count()).where(
        Keycard.building_id == building_id).group_by(Keycard.status)).all())
    staff = dict(session.execute(
        select(Person.status, func.count()).join(
            person_buildings, person_buildings.c.person_id == Person.id)
        .where(person_buildings.c.building_id == building_id).group_by(Person.status)).all())
    keys = session.scalar(select(func.count()).select_from(PhysicalKey).where(
        PhysicalKey.building_id == building_id)) or 0
    out = session.scalar(select(func.count()).select_from(KeyHolding).join(
        PhysicalKey, PhysicalKey.id == KeyHolding.key_id).where(
        PhysicalKey.building_id == building_id, KeyHolding.status == "issued")) or 0
    secs = session.scalar(select(func.count()).select_from(Secret).where(
        Secret.building_id == building_id)) or 0
    return Counts({k: cards.get(k, 0) for k in CARD_STATUSES},
                  {k: staff.get(k, 0) for k in PERSON_STATUSES}, keys, out, secs)


# --------------------------------------------------------------------------- print and export
EXPORT_HEADER = ["item", "what", "holder_staff_id", "holder_name", "status", "issued_at",
                 "approved_by", "ended_at", "opens", "copies", "issued_by", "building"]

#: First characters that make a spreadsheet read a cell as a formula or command (CSV injection),
#: with the full-width forms some spreadsheets fold onto them.
_FORMULA_START = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")


def _csv_safe(value: str) -> str:
    # NOTE: a cell starting with = + - @ (or a tab/CR before one) runs as a formula in a
    # spreadsheet; a leading apostrophe makes it text. Leading spaces are skipped by some
    # spreadsheets before they look, so they are looked through here too.
    stripped = value.lstrip(" ")
    return "'" + value if stripped[:1] in _FORMULA_START else value


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return _csv_safe(str(value))


def printable(session: Session, building_id: str) -> tuple[MasterList, list[CardRow]]:
    """What the printed master list shows: keys and codes with holders, active keycards."""
    return master_list(session, building_id, include_cards=False), card_rows(session, building_id)


def record_export(session: Session, building_id: str, *, kind: str, actor: ActorLike,
                  now: datetime, rows: int) -> None:
    """Audit one print or CSV export of a building's master list (WISP V: the list is confidential)."""
    if kind not in ("print", "csv"):
        raise Invalid("kind must be print or csv", field="kind")
    audit.record(session, actor=actor, action=f"masterlist.{kind}", now=now,
                 building_id=building_id, target=building_id, detail={"rows": rows})


def export_row_count(ml: MasterList) -> int:
    """How many data rows :func:`export_csv` writes for ``ml``."""
    return len(ml.cards) + sum(len(k.holdings) or 1 for k in ml.keys) + sum(
        len(x.holdings) or 1 for x in ml.secrets)


def export_csv(ml: MasterList) -> str:
    """The master list as CSV (holders and dates; never a code or a card hash).

    Every key type and every code appears, held or not (an unissued key has an empty holder).
    """
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    w.writerow(EXPORT_HEADER)
    b = ml.building_id

    def row(item, what, person, status, issued_at=None, approved_by="", ended_at=None,
            opens="", copies="", issued_by="") -> None:
        w.writerow([_cell(c) for c in (
            item, what, person.staff_id if person else "", person.name if person else "",
            status, issued_at, approved_by, ended_at, opens, copies, issued_by, b)])

    for c in ml.cards:
        row("keycard", c.label or f"card {c.id}", c.person, c.status, c.issued_at, c.approved_by,
            c.ended_at, issued_by=c.issued_by)
    for k in ml.keys:
        for h in k.holdings:
            row("key", k.mark, h.person, h.status, h.issued_at, h.approved_by, h.ended_at,
                k.opens, k.copies, h.issued_by)
        if not k.holdings:
            row("key", k.mark, None, "not issued", opens=k.opens, copies=k.copies)
    for s in ml.secrets:
        for h in s.holdings:
            row(s.kind, s.label, h.person, "ended" if h.ended_at else "holds", h.issued_at,
                h.approved_by, h.ended_at)
        if not s.holdings:
            row(s.kind, s.label, None, "known by no one")
    return buf.getvalue()
