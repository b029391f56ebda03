"""Termination: one action revokes everything a person holds and tracks each door's confirmation.

A door is ``confirmed`` once its controller acks an ACL version at least the one that carried
the revocation, ``pending`` while the controller is online but has not acked, and ``offline``
(with the time it went away) otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, selectinload

from hub.models import (ChecklistItem, Device, Door, KeyHolding, Keycard, Person, Revocation,
                        RevocationDoor, SecretHolding)
from hub.services import acl, alerts, audit
from hub.services.audit import ActorLike, label as actor_label
from hub.services.errors import NotFound


def terminate(session: Session, person: Person, *, actor: ActorLike, now: datetime,
              reason: str = "terminated", key_return_days: int = 3) -> Revocation:
    """Mark ``person`` terminated, revoke every credential on every door at once, open the
    checklist of things to collect. Calling it again returns the existing revocation."""
    if person.status == "terminated":
        existing = session.scalars(select(Revocation).where(Revocation.person_id == person.id)
                                   .order_by(Revocation.id.desc())).first()
        if existing is not None:
            return existing
    devices = acl.person_devices(session, person)
    person.status, person.terminated_at, person.updated_at = "terminated", now, now
    rev = Revocation(person_id=person.id, reason=(reason or "terminated")[:200],
                     created_at=now, created_by=actor_label(actor))
    session.add(rev)
    session.flush()
    cards = list(session.scalars(select(Keycard).where(Keycard.person_id == person.id)))
    for card in cards:
        devices |= acl.building_devices(session, card.building_id)
        if card.status == "active":
            card.status, card.ended_at = "revoked", now
            session.add(ChecklistItem(
                revocation_id=rev.id, kind="badge", ref_id=card.id, building_id=card.building_id,
                description=f"collect keycard {card.label or card.id}"))
    versions = acl.revoke_cards(session, sorted(c.cred_hash for c in cards), devices, now)
    if versions:
        session.execute(insert(RevocationDoor), [
            dict(revocation_id=rev.id, door_id=door_id, device_id=device_id,
                 version=versions[device_id])
            for door_id, device_id in session.execute(
                select(Door.id, Door.device_id).where(Door.device_id.in_(sorted(versions)))
                .order_by(Door.id))])
    due = now + timedelta(days=key_return_days)
    for h in session.scalars(select(KeyHolding).where(
            KeyHolding.person_id == person.id, KeyHolding.status == "issued")):
        session.add(ChecklistItem(
            revocation_id=rev.id, kind="key", ref_id=h.id, building_id=h.key.building_id,
            description=f"collect key {h.key.mark} ({h.key.opens})",
            records_room=h.key.records_room, due_at=due))
    for sh in session.scalars(select(SecretHolding).where(
            SecretHolding.person_id == person.id, SecretHolding.ended_at.is_(None))):
        sh.ended_at = now
        sh.secret.change_needed = True
        session.add(ChecklistItem(
            revocation_id=rev.id, kind="code_change", ref_id=sh.secret_id,
            building_id=sh.secret.building_id,
            description=f"change {sh.secret.kind.replace('_', ' ')} {sh.secret.label}"))
    session.flush()
    audit.record(session, actor=actor, action="person.terminate", now=now,
                 building_id=person.buildings[0].id if person.buildings else None,
                 target=person.staff_id,
                 detail={"revocation": rev.id, "cards": len(cards), "doors": len(versions)})
    # A device that already runs a version at or past this one (impossible in practice, but
    # cheap to be sure of: one statement) confirms immediately.
    session.execute(
        update(RevocationDoor)
        .where(RevocationDoor.revocation_id == rev.id, RevocationDoor.confirmed_at.is_(None),
               RevocationDoor.version <= select(Device.acl_acked)
               .where(Device.id == RevocationDoor.device_id).scalar_subquery())
        .values(confirmed_at=now).execution_options(synchronize_session=False))
    return rev


@dataclass(frozen=True)
class DoorState:
    """One door's confirmation of a revocation."""

    door_id: str
    door_name: str
    device_id: str
    version: int
    state: str  # confirmed | pending | offline
    confirmed_at: datetime | None
    offline_since: datetime | None
    acked_version: int | None


def door_states(session: Session, rev: Revocation) -> list[DoorState]:
    """Door by door: confirmed, pending or offline (with since)."""
    out = []
    rows = session.execute(
        select(RevocationDoor, Door, Device)
        .join(Door, Door.id == RevocationDoor.door_id)
        .join(Device, Device.id == RevocationDoor.device_id)
        .where(RevocationDoor.revocation_id == rev.id).order_by(RevocationDoor.door_id))
    for rd, door, dev in rows:
        if rd.confirmed_at is not None:
            state = "confirmed"
        elif dev.online:
            state = "pending"
        else:
            state = "offline"
        out.append(DoorState(door_id=door.id, door_name=door.name, device_id=dev.id,
                             version=rd.version, state=state, confirmed_at=rd.confirmed_at,
                             offline_since=dev.offline_since if state == "offline" else None,
                             acked_version=dev.acl_acked))
    return out


def get_revocation(session: Session, revocation_id: int) -> Revocation:
    """A revocation by id (with person, doors and checklist), or NotFound."""
    rev = session.scalars(select(Revocation).where(Revocation.id == revocation_id).options(
        selectinload(Revocation.person), selectinload(Revocation.checklist))).first()
    if rev is None:
        raise NotFound(f"no revocation {revocation_id}")
    return rev


def for_person(session: Session, person: Person) -> list[Revocation]:
    """A person's revocations, newest first."""
    return list(session.scalars(select(Revocation).where(Revocation.person_id == person.id)
                                .order_by(Revocation.id.desc())))


def record_acl_ack(session: Session, device: Device, version: int, now: datetime) -> int:
    """A device applied ``version``: remember it and confirm the revocations it contains.

    Returns how many door confirmations this ack completed. A version the hub never issued
    is ignored (a device cannot confirm what it was not sent).
    """
    return record_acl_acks(session, {device.id: version}, now)


def record_acl_acks(session: Session, applied: dict[str, int], now: datetime) -> int:
    """Many devices' acks at once (device id -> version applied), in a fixed few statements.

    Same rules as :func:`record_acl_ack`: a version above what the hub issued, or from an
    unknown device, is ignored; ``acl_acked`` never goes back. Returns the confirmations made.
    """
    if not applied:
        return 0
    # Read through the session so a device changed earlier in this transaction is seen as is.
    known = {d.id: d for d in session.scalars(select(Device).where(
        Device.id.in_(sorted(applied))))}
    valid = {device_id: version for device_id, version in applied.items()
             if device_id in known and version <= known[device_id].acl_version}
    if not valid:
        return 0
    for device_id, version in valid.items():
        dev = known[device_id]
        if dev.acl_acked is None or version > dev.acl_acked:
            dev.acl_acked, dev.acl_acked_at = version, now
    session.flush()
    # One UPDATE for every door: a row is confirmed by the version its own device applied.
    applied_version = select(Device.acl_acked).where(
        Device.id == RevocationDoor.device_id).scalar_subquery()
    result = session.execute(
        update(RevocationDoor)
        .where(RevocationDoor.device_id.in_(sorted(valid)), RevocationDoor.confirmed_at.is_(None),
               RevocationDoor.version <= applied_version)
        .values(confirmed_at=now).execution_options(synchronize_session=False))
    return result.rowcount or 0


def complete_item(session: Session, item: ChecklistItem, *, actor: ActorLike, now: datetime) -> None:
    """Tick a checklist item (a key handed back marks its copy returned)."""
    if item.done_at is not None:
        return
    item.done_at, item.done_by = now, actor_label(actor)
    if item.kind == "key" and item.ref_id is not None:
        h = session.get(KeyHolding, item.ref_id)
        if h is not None and h.status == "issued":
            h.status, h.ended_at = "returned", now
    if item.kind == "badge" and item.ref_id is not None:
        card = session.get(Keycard, item.ref_id)
        if card is not None and card.status == "revoked":
            card.status = "returned"
    audit.record(session, actor=actor, action="checklist.done", now=now,
                 building_id=item.building_id, target=f"revocation:{item.revocation_id}",
                 detail={"item": item.id, "kind": item.kind})


def check_overdue_keys(session: Session, now: datetime) -> list[ChecklistItem]:
    """Records-room keys not handed back by their deadline: alert once each, recommending a re-key."""
    items = list(session.scalars(select(ChecklistItem).where(
        ChecklistItem.kind == "key", ChecklistItem.records_room.is_(True),
        ChecklistItem.done_at.is_(None), ChecklistItem.overdue_alerted.is_(False),
        ChecklistItem.due_at < now)))
    for item in items:
        item.overdue_alerted = True
        alerts.raise_alert(
            session, key=f"rekey-overdue:{item.id}", kind="rekey", severity="critical",
            building_id=item.building_id, now=now,
            message=f"{item.description[len('collect '):]} not returned by "
                    f"{item.due_at:%Y-%m-%d %H:%M} UTC after termination: re-key recommended")
    session.flush()
    return items
