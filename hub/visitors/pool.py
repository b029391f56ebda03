"""Pool visitor keycards (ADR 0003): lend a numbered card to one visit, for that visit only.

A building that lends cards has a :class:`~hub.visitors.pool_models.PoolSettings` row naming its
visitor access group (doors and hours); a destination may name a narrower group. Lending a card
(:func:`assign`) turns it into an ACL credential for the visit's group only, always
``escort_required`` (so a records room opens only right after an approved employee badged there,
whatever the door says), and pushes it to the group's doors as a delta at once. The loan ends
(:func:`end_loan`) at sign-out, at closing time and at the visit's expiry: the card is revoked on
every door that learnt it, exactly like a staff card, and each door confirms by acking the
version that carried the revocation (:func:`door_states`). A card not handed back is flagged for
the front desk (:func:`sweep`).

Errors are :class:`hub.visitors.services.VisitorError` with a reason from ``link.visits.ERRORS``;
every function raises before it writes. Each takes a session the caller commits and ``now``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from link import messages as m
from link.keys import card_hmac
from hub.models import AccessGroup, Building, Device, Door, Keycard
from hub.services import acl, audit
from hub.services.alerts import raise_alert
from hub.services.audit import ActorLike, label as actor_label
from hub.services.credentials import parse_uid
from hub.services.errors import Invalid
from hub.visitors.models import VisitDestination, VisitRecord
from hub.visitors.pool_models import PoolAssignment, PoolCard, PoolDestinationGroup, PoolSettings
from hub.visitors.services import VisitorError, _kiosk, expiry, VisitorSettings

log = logging.getLogger("gatehouse.hub.visitors.pool")

#: a card still not handed back this long after its loan ended is flagged for the desk
RETURN_GRACE = timedelta(minutes=15)
MAX_NUMBER = 9999
_ASSIGNABLE = ("pending", "on_site")


# --------------------------------------------------------------------------- settings
def settings_for(session: Session, building_id: str) -> PoolSettings | None:
    """The building's pool settings, or None when it never had any."""
    return session.get(PoolSettings, building_id)


def is_enabled(session: Session, building_id: str) -> bool:
    """True when the building lends pool cards (and has a visitor group to lend them for)."""
    row = settings_for(session, building_id)
    return bool(row and row.enabled and row.group_id is not None)


def _group(session: Session, building_id: str, slug: str) -> AccessGroup:
    group = session.scalars(select(AccessGroup).where(
        AccessGroup.building_id == building_id, AccessGroup.slug == slug)).first()
    if group is None:
        raise VisitorError("bad_request", f"no access group {slug!r} in {building_id}")
    return group


def configure(session: Session, building_id: str, *, enabled: bool, group_slug: str | None,
              actor: ActorLike, now: datetime) -> PoolSettings:
    """Turn the pool on or off for a building and choose its visitor access group."""
    if session.get(Building, building_id) is None:
        raise VisitorError("not_found", f"no building {building_id}")
    group = _group(session, building_id, group_slug) if group_slug else None
    if enabled and group is None:
        raise VisitorError("bad_request", "choose the visitor access group before enabling the pool")
    if group is not None and group.responder:
        # A lent card must never inherit a responder's pass through a lockdown.
        raise VisitorError("bad_request", "a responder group cannot be the visitor group")
    row = settings_for(session, building_id)
    if row is None:
        row = PoolSettings(building_id=building_id, updated_at=now)
        session.add(row)
    row.enabled, row.group_id = enabled, group.id if group else None
    row.updated_at, row.updated_by = now, actor_label(actor)[:200]
    session.flush()
    audit.record(session, actor=actor, action="pool.configure", now=now, building_id=building_id,
                 detail={"enabled": enabled, "group": group.slug if group else None})
    return row


def set_destination_group(session: Session, building_id: str, destination: str, group_slug: str | None,
                          *, actor: ActorLike, now: datetime) -> None:
    """Visitors to ``destination`` get ``group_slug`` instead of the default (None: the default)."""
    dest = session.scalars(select(VisitDestination).where(
        VisitDestination.building_id == building_id, VisitDestination.slug == destination)).first()
    if dest is None:
        raise VisitorError("unknown_destination", destination)
    row = session.scalars(select(PoolDestinationGroup).where(
        PoolDestinationGroup.building_id == building_id,
        PoolDestinationGroup.destination == destination)).first()
    if group_slug is None:
        if row is not None:
            session.delete(row)
    else:
        group = _group(session, building_id, group_slug)
        if group.responder:
            raise VisitorError("bad_request", "a responder group cannot be a visitor group")
        if row is None:
            row = PoolDestinationGroup(building_id=building_id, destination=destination, group_id=group.id)
            session.add(row)
        row.group_id = group.id
    session.flush()
    audit.record(session, actor=actor, action="pool.destination_group", now=now, building_id=building_id,
                 target=f"destination:{destination}", detail={"group": group_slug})


# --------------------------------------------------------------------------- the cards
def enrol_card(session: Session, site_key: bytes, *, building_id: str, number: int, uid_text: str,
               approver: str, actor: ActorLike, now: datetime) -> PoolCard:
    """Add a numbered card to the building's pool (read its UID from the card; never stored)."""
    if session.get(Building, building_id) is None:
        raise VisitorError("not_found", f"no building {building_id}")
    if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= MAX_NUMBER:
        raise VisitorError("bad_request", f"the card number must be 1 to {MAX_NUMBER}")
    approver = (approver or "").strip()
    if not approver or len(approver) > 200:
        raise VisitorError("bad_request", "an approver is required (WISP V: every credential is approved)")
    try:
        cred = card_hmac(site_key, parse_uid(uid_text))
    except Invalid as exc:
        raise VisitorError("bad_request", str(exc)) from None
    if (session.scalars(select(PoolCard.id).where(PoolCard.cred_hash == cred)).first() is not None
            or session.scalars(select(Keycard.id).where(Keycard.cred_hash == cred)).first() is not None):
        raise VisitorError("bad_request", "this card is already enrolled")
    taken = session.scalars(select(PoolCard).where(PoolCard.number == number)).first()
    if taken is not None:
        where = "" if taken.building_id == building_id else f" (in {taken.building_id})"
        raise VisitorError("bad_request", f"card number {number} is already in use{where}")
    card = PoolCard(building_id=building_id, number=number, cred_hash=cred, status="available",
                    enrolled_at=now, enrolled_by=actor_label(actor)[:200], approved_by=approver)
    session.add(card)
    session.flush()
    audit.record(session, actor=actor, action="pool.card_enrol", now=now, building_id=building_id,
                 target=f"pool-card:{number}", detail={"card": card.id, "approver": approver})
    return card


def retire_card(session: Session, building_id: str, number: int, status: str, *, actor: ActorLike,
                now: datetime) -> PoolCard:
    """Take a card out of the pool for good (``retired`` or ``lost``); a loan in progress ends."""
    if status not in ("retired", "lost"):
        raise VisitorError("bad_request", "status must be retired or lost")
    card = _card(session, building_id, number)
    if card.status != "available":
        raise VisitorError("card_retired", f"card {number} is already {card.status}")
    loan = _active_loan_of_card(session, card.id)
    if loan is not None:
        end_loan(session, loan, "retired", now)
    card.status, card.retired_at = status, now
    session.flush()
    audit.record(session, actor=actor, action="pool.card_retire", now=now, building_id=building_id,
                 target=f"pool-card:{number}", detail={"status": status})
    return card


def _card(session: Session, building_id: str, number: int) -> PoolCard:
    card = session.scalars(select(PoolCard).where(PoolCard.number == number)).first()
    if card is None:
        raise VisitorError("unknown_card", f"no pool card {number}")
    if card.building_id != building_id:
        raise VisitorError("card_other_building", f"card {number} belongs to {card.building_id}")
    return card


def _active_loan_of_card(session: Session, card_id: int) -> PoolAssignment | None:
    return session.scalars(select(PoolAssignment).where(PoolAssignment.active_card == card_id)).first()


def active_loan(session: Session, visit_id: str) -> PoolAssignment | None:
    """The card lent to this visit right now, if any."""
    return session.scalars(select(PoolAssignment).where(PoolAssignment.active_visit == visit_id)).first()


# --------------------------------------------------------------------------- lending
def _holder(number: int, visit_id: str) -> str:
    # StaffId-shaped, so the door's events name the visit: "pool7-vAbC..." (no person behind it)
    return f"pool{number}-{visit_id}"[:64]


def _credential(loan: PoolAssignment, card: PoolCard, visit_label: str, *, active: bool) -> m.AclCredential:
    return m.AclCredential(
        cred=card.cred_hash, holder=loan.holder, name=f"Visitor {visit_label} (card {card.number})"[:200],
        status="active" if active else "revoked", groups=[loan.group_slug],
        # VII.B: a visitor enters a records room only escorted by an approved employee.
        escort_required=True, can_escort=False)


def _visit_group(session: Session, visit: VisitRecord, settings: PoolSettings) -> AccessGroup:
    if visit.destination_id:
        row = session.scalars(select(PoolDestinationGroup).where(
            PoolDestinationGroup.building_id == visit.building_id,
            PoolDestinationGroup.destination == visit.destination_id)).first()
        if row is not None:
            group = session.get(AccessGroup, row.group_id)
            if group is not None:
                return group
    group = session.get(AccessGroup, settings.group_id)
    if group is None:
        raise VisitorError("pool_disabled", "the visitor access group is gone")
    return group


def assign(session: Session, building_id: str, visit_id: str, number: int, *, by: ActorLike,
           now: datetime, settings: VisitorSettings | None = None) -> PoolAssignment:
    """Lend card ``number`` to an admitted visit of ``building_id`` until the visit's expiry.

    The same card asked again for the same visit returns the loan in force (a kiosk's retry).
    """
    row = settings_for(session, building_id)
    if not (row and row.enabled and row.group_id is not None):
        raise VisitorError("pool_disabled", building_id)
    visit = session.get(VisitRecord, visit_id)
    if visit is None or visit.building_id != building_id:
        raise VisitorError("not_found", "no such visit in this building")
    if visit.status == "held":
        raise VisitorError("visit_held", "screening has not cleared this visit")
    if visit.status not in _ASSIGNABLE:
        raise VisitorError("visit_closed", visit.status)
    card = _card(session, building_id, number)
    if card.status != "available":
        raise VisitorError("card_retired", f"card {number} is {card.status}")
    mine = active_loan(session, visit_id)
    if mine is not None:
        if mine.card_id == card.id:
            return mine
        raise VisitorError("card_in_use", f"this visit already holds card {mine.card.number}")
    if _active_loan_of_card(session, card.id) is not None:
        raise VisitorError("card_in_use", f"card {number} is lent to another visit")
    until = visit.expires_at
    if until is None:
        until = expiry(settings or VisitorSettings(fingerprint_key=b""), session.get(Building, building_id), now)
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)  # NOTE: SQLite hands datetimes back naive; they are UTC
    if until <= now:
        raise VisitorError("visit_closed", "the visit has expired")
    group = _visit_group(session, visit, row)
    loan = PoolAssignment(card_id=card.id, visit_id=visit.id, building_id=building_id, status="active",
                          active_card=card.id, active_visit=visit.id, group_slug=group.slug,
                          holder=_holder(number, visit.id), assigned_at=now,
                          assigned_by=actor_label(by)[:200], expires_at=until, activated={}, revoked={})
    session.add(loan)
    try:
        session.flush()
    except IntegrityError:
        # Another worker lent this card (or gave this visit a card) a moment ago. Nothing was
        # written before this point, so rolling back loses only this attempt. (No SAVEPOINT:
        # pysqlite leaves a statement open after one and the next commit fails.)
        session.rollback()
        raise VisitorError("card_in_use", f"card {number} was lent a moment ago") from None
    loan.card = card
    # The card is in the desk's hands: a loan that ended without a recorded return is returned now.
    for old in session.scalars(select(PoolAssignment).where(
            PoolAssignment.card_id == card.id, PoolAssignment.returned_at.is_(None),
            PoolAssignment.status == "ended")):
        old.returned_at, old.returned_by = now, "re-lent"
    devices = acl.devices_for_groups(session, [group.id])
    loan.activated = acl.upsert_credentials(session, [_credential(loan, card, visit.label, active=True)],
                                            devices, now)
    session.flush()
    audit.record(session, actor=by, action="pool.card_lend", now=now, building_id=building_id,
                 target=f"visit:{visit.id}", detail={"card": number, "group": group.slug,
                                                     "doors": door_count(session, loan.activated),
                                                     "until": _ts(until)})
    log.info("pool card lent building=%s card=%d visit=%s devices=%d", building_id, number, visit.id,
             len(loan.activated))
    return loan


def assign_from_kiosk(session: Session, settings: VisitorSettings, device_id: str, body,
                      now: datetime) -> dict:
    """``visit.pool_assign`` from a kiosk -> PoolAssignResult data."""
    kiosk = _kiosk(session, device_id)
    loan = assign(session, kiosk.building_id, body.visit, body.card, by=f"device:{device_id}", now=now,
                  settings=settings)
    return {"visit": loan.visit_id, "card": body.card, "expires_at": _ts(loan.expires_at),
            "doors": door_count(session, loan.activated)}


def door_count(session: Session, versions: dict) -> int:
    """How many doors the devices in ``versions`` drive."""
    if not versions:
        return 0
    return len(session.scalars(select(Door.id).where(Door.device_id.in_(sorted(versions)))).all())


def end_loan(session: Session, loan: PoolAssignment, how: str, now: datetime) -> PoolAssignment:
    """Deactivate a lent card: revoke it on every door that learnt it (doors confirm by acking)."""
    if loan.status != "active":
        return loan
    card = session.get(PoolCard, loan.card_id)
    group = session.scalars(select(AccessGroup).where(
        AccessGroup.building_id == loan.building_id, AccessGroup.slug == loan.group_slug)).first()
    # Every door that was sent the card, and every door of its group now (a door added since).
    devices = set(loan.activated or {}) | (acl.devices_for_groups(session, [group.id]) if group else set())
    loan.revoked = acl.revoke_cards(session, [card.cred_hash], devices, now)
    loan.status, loan.ended_at, loan.ended_how = "ended", now, how
    loan.active_card, loan.active_visit = None, None
    session.flush()
    audit.record(session, actor="hub", action="pool.card_end", now=now, building_id=loan.building_id,
                 target=f"visit:{loan.visit_id}", detail={"card": card.number, "how": how,
                                                          "doors": door_count(session, loan.revoked)})
    log.info("pool card deactivated building=%s card=%d visit=%s how=%s devices=%d", loan.building_id,
             card.number, loan.visit_id, how, len(loan.revoked))
    return loan


def on_visit_closed(session: Session, visit: VisitRecord, how: str, now: datetime) -> int | None:
    """A visit ended (sign-out, closing time, the desk): end its loan; the card's number, if any."""
    loan = active_loan(session, visit.id)
    if loan is None:
        return None
    end_loan(session, loan, {"badge": "signed_out", "name": "signed_out", "closing": "closing"}.get(how, "desk"),
             now)
    return session.get(PoolCard, loan.card_id).number


def mark_returned(session: Session, building_id: str, number: int, *, actor: ActorLike,
                  now: datetime) -> PoolAssignment:
    """The desk has the card back. A card still lent is deactivated first (the visitor left it)."""
    card = _card(session, building_id, number)
    loan = _active_loan_of_card(session, card.id)
    if loan is not None:
        end_loan(session, loan, "desk", now)
    else:
        loan = session.scalars(select(PoolAssignment).where(
            PoolAssignment.card_id == card.id, PoolAssignment.returned_at.is_(None))
            .order_by(PoolAssignment.id.desc())).first()
        if loan is None:
            raise VisitorError("not_found", f"card {number} is not out")
    loan.returned_at, loan.returned_by = now, actor_label(actor)[:200]
    session.flush()
    audit.record(session, actor=actor, action="pool.card_returned", now=now, building_id=building_id,
                 target=f"pool-card:{number}", detail={"visit": loan.visit_id})
    return loan


def sweep(session: Session, now: datetime, *, grace: timedelta = RETURN_GRACE) -> list[PoolAssignment]:
    """Once in a while (the bridge's tick): end loans whose visit expired or ended, and flag cards
    not handed back within ``grace`` of their loan's end. Returns the loans it ended."""
    ended = []
    # Only the loans due: expired, or their visit no longer open (this runs every second).
    due = session.scalars(
        select(PoolAssignment).outerjoin(VisitRecord, VisitRecord.id == PoolAssignment.visit_id)
        .where(PoolAssignment.status == "active",
               (PoolAssignment.expires_at <= now) | VisitRecord.id.is_(None)
               | VisitRecord.status.not_in(_ASSIGNABLE))
        .order_by(PoolAssignment.id)).all()
    for loan in due:
        visit = session.get(VisitRecord, loan.visit_id)
        expires = loan.expires_at if loan.expires_at.tzinfo else loan.expires_at.replace(tzinfo=UTC)
        if expires <= now:
            ended.append(end_loan(session, loan, "expired", now))
        elif visit is None or visit.status not in _ASSIGNABLE:
            how = {"closed_unsigned": "closing", "signed_out": "signed_out"}.get(
                visit.status if visit else "", "visit_ended")
            ended.append(end_loan(session, loan, how, now))
    cutoff = now - grace
    for loan in session.scalars(select(PoolAssignment).where(
            PoolAssignment.status == "ended", PoolAssignment.returned_at.is_(None),
            PoolAssignment.not_returned_alerted.is_(False), PoolAssignment.ended_at <= cutoff)).all():
        loan.not_returned_alerted = True
        card = session.get(PoolCard, loan.card_id)
        visit = session.get(VisitRecord, loan.visit_id)
        raise_alert(session, key=f"pool-not-returned:{loan.id}", kind="pool_card_not_returned",
                    severity="warning", now=now, building_id=loan.building_id,
                    message=(f"Visitor card {card.number} not handed back"
                             f"{' by ' + visit.label if visit else ''} (deactivated {_ts(loan.ended_at)})"))
    session.flush()
    return ended


# --------------------------------------------------------------------------- doors
def device_credentials(session: Session, device: Device, groups: list[AccessGroup]) -> list[m.AclCredential]:
    """The cards lent right now in the groups of this device's doors (for its snapshot)."""
    slugs = {g.slug for g in groups if g.building_id == device.building_id}
    if not slugs:
        return []
    out = []
    rows = session.execute(select(PoolAssignment, PoolCard, VisitRecord)
                           .join(PoolCard, PoolCard.id == PoolAssignment.card_id)
                           .join(VisitRecord, VisitRecord.id == PoolAssignment.visit_id)
                           .where(PoolAssignment.status == "active",
                                  PoolAssignment.building_id == device.building_id,
                                  PoolAssignment.group_slug.in_(sorted(slugs)))
                           .order_by(PoolAssignment.id))
    rows = rows.all()
    hashes = [card.cred_hash for _, card, _ in rows]
    staff_cards = set(session.scalars(select(Keycard.cred_hash).where(Keycard.cred_hash.in_(hashes)))) \
        if hashes else set()
    for loan, card, visit in rows:
        if card.cred_hash in staff_cards:
            # Fail secure: a UID enrolled twice (pool and staff) is left to the staff record.
            log.warning("pool card also enrolled as a staff card building=%s card=%d", card.building_id,
                        card.number)
            continue
        out.append(_credential(loan, card, visit.label, active=True))
    return out


@dataclass(frozen=True)
class DoorState:
    """One door's confirmation of a lent card's revocation."""

    door_id: str
    door_name: str
    device_id: str
    version: int
    state: str  # confirmed | pending | offline
    acked_version: int | None


def door_states(session: Session, loan: PoolAssignment) -> list[DoorState]:
    """Door by door: has the revocation of this loan's card reached it (its device acked it)?"""
    versions = loan.revoked or {}
    if not versions:
        return []
    out = []
    for door, dev in session.execute(select(Door, Device).join(Device, Device.id == Door.device_id)
                                     .where(Door.device_id.in_(sorted(versions))).order_by(Door.id)):
        version = int(versions[dev.id])
        if dev.acl_acked is not None and dev.acl_acked >= version:
            state = "confirmed"
        elif dev.online:
            state = "pending"
        else:
            state = "offline"
        out.append(DoorState(door.id, door.name, dev.id, version, state, dev.acl_acked))
    return out


# --------------------------------------------------------------------------- the desk's view
@dataclass(frozen=True)
class CardRow:
    """One pool card as the desk sees it: free, lent (to whom, until when), or awaiting return."""

    number: int
    status: str  # available | retired | lost
    state: str  # free | lent | to_collect | retired | lost
    visit_label: str = ""
    until: datetime | None = None
    ended_how: str | None = None
    loan_id: int | None = None
    doors_confirmed: int = 0
    doors_total: int = 0


def overview(session: Session, building_id: str) -> list[CardRow]:
    """Every card of the building's pool with its state, by number."""
    out = []
    for card in session.scalars(select(PoolCard).where(PoolCard.building_id == building_id)
                                .order_by(PoolCard.number)):
        if card.status != "available":
            out.append(CardRow(card.number, card.status, card.status))
            continue
        loan = session.scalars(select(PoolAssignment).where(PoolAssignment.card_id == card.id)
                               .order_by(PoolAssignment.id.desc())).first()
        if loan is None or (loan.status == "ended" and loan.returned_at is not None):
            out.append(CardRow(card.number, card.status, "free"))
            continue
        visit = session.get(VisitRecord, loan.visit_id)
        label = visit.label if visit else ""
        if loan.status == "active":
            out.append(CardRow(card.number, card.status, "lent", label, loan.expires_at, loan_id=loan.id))
        else:
            states = door_states(session, loan)
            out.append(CardRow(card.number, card.status, "to_collect", label, loan.expires_at, loan.ended_how,
                               loan.id, sum(s.state == "confirmed" for s in states), len(states)))
    return out


def _ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
