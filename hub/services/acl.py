"""Per-device ACLs: what each controller must know, versioned, as snapshots and deltas.

Every change that a door must learn bumps that door's device to a new version and records an
:class:`~hub.models.AclChange` (a delta body, or a marker that the next publication must be a
snapshot); the bridge publishes unpublished changes after the transaction commits. A device only
ever receives the credentials of people in a group that holds one of its doors.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, selectinload

from link import messages as m
from link.envelope import MAX_PAYLOAD_BYTES
from hub.models import AccessGroup, AclChange, Building, Device, Door, Holiday, Keycard, Person
from hub.models.buildings import group_doors
from hub.models.people import person_groups

#: room left in each chunk for the envelope (from, seq, at, sig) around the body
_CHUNK_BUDGET = MAX_PAYLOAD_BYTES - 16 * 1024

_CARD_STATUS = {"active": "active", "revoked": "revoked", "returned": "revoked",
                "lost": "lost", "stolen": "lost"}


def _active_devices(session: Session, ids: Iterable[str]) -> list[Device]:
    ids = sorted(set(ids))
    if not ids:
        return []
    return list(session.scalars(
        select(Device).where(Device.id.in_(ids), Device.status == "active").order_by(Device.id)
        .with_for_update()))


def _active_ids(session: Session, ids: Iterable[str]) -> list[str]:
    # Row locks in id order (PostgreSQL), the same order as _active_devices: two writers
    # bumping overlapping devices wait for each other instead of deadlocking.
    ids = sorted(set(ids))
    if not ids:
        return []
    return list(session.scalars(
        select(Device.id).where(Device.id.in_(ids), Device.status == "active")
        .order_by(Device.id).with_for_update()))


def devices_for_groups(session: Session, group_ids: Iterable[int]) -> set[str]:
    """Ids of the controllers driving any door of these groups."""
    group_ids = list(group_ids)
    if not group_ids:
        return set()
    rows = session.execute(
        select(Door.device_id).join(group_doors, group_doors.c.door_id == Door.id)
        .where(group_doors.c.group_id.in_(group_ids), Door.device_id.is_not(None)))
    return {r[0] for r in rows}


def person_devices(session: Session, person: Person) -> set[str]:
    """Ids of the controllers that should know this person's cards."""
    return devices_for_groups(session, [g.id for g in person.groups])


def _pin(card: Keycard) -> m.AclPin | None:
    if card.pin_hash is None or card.pin_salt is None or card.pin_iterations is None:
        return None
    return m.AclPin(salt=card.pin_salt, hash=card.pin_hash, iterations=card.pin_iterations)


def credential(person: Person, card: Keycard, groups: list[str]) -> m.AclCredential:
    """One card as a door sees it, with only the groups that door knows."""
    custodial = any(g.custodial for g in person.groups) and person.kind == "custodial"
    return m.AclCredential(
        cred=card.cred_hash, holder=person.staff_id, name=person.name[:200],
        holder_status=person.status, status=_CARD_STATUS.get(card.status, "revoked"),
        groups=sorted(groups), escort_required=person.escort_required or custodial,
        can_escort=person.can_escort and person.kind == "staff" and person.status == "active",
        pin=_pin(card),
    )


def _device_groups(session: Session, device: Device) -> list[AccessGroup]:
    door_ids = [d.id for d in device.doors]
    if not door_ids:
        return []
    return list(session.scalars(
        select(AccessGroup).join(group_doors, group_doors.c.group_id == AccessGroup.id)
        .where(group_doors.c.door_id.in_(door_ids)).distinct().order_by(AccessGroup.slug)
        .options(selectinload(AccessGroup.doors), selectinload(AccessGroup.windows))))


def _acl_door(door: Door) -> m.AclDoor:
    return m.AclDoor(door=door.id, name=door.name[:200], kind=door.kind, mode=door.mode,
                     strike_s=door.strike_s, held_open_s=door.held_open_s,
                     stale_limit_s=door.stale_limit_s, escort_window_s=door.escort_window_s,
                     pin_timeout_s=door.pin_timeout_s, visitor_policy=door.visitor_policy)


def _acl_group(group: AccessGroup, door_ids: set[str]) -> m.AclGroup:
    return m.AclGroup(
        group=group.slug, doors=sorted(d.id for d in group.doors if d.id in door_ids),
        windows=[m.AclWindow(days=[int(c) for c in w.days], start=w.start, end=w.end)
                 for w in group.windows],
        always=group.always, responder=group.responder)


def _holidays(session: Session, building: Building, now: datetime) -> list[m.AclHoliday]:
    today = now.astimezone(ZoneInfo(building.tz)).date()
    rows = session.scalars(select(Holiday).where(
        Holiday.building_id == building.id, Holiday.day >= today - timedelta(days=1))
        .order_by(Holiday.day))
    return [m.AclHoliday(date=h.day.isoformat(), name=h.name[:200],
                         groups=[g for g in h.groups.split(",") if g]) for h in rows]


def device_credentials(session: Session, device: Device,
                       groups: list[AccessGroup] | None = None) -> list[m.AclCredential]:
    """Every card of every person in a group holding one of the device's doors."""
    if groups is None:
        groups = _device_groups(session, device)
    slug_of = {g.id: g.slug for g in groups}
    if not slug_of:
        return []
    member_groups: dict[int, list[str]] = defaultdict(list)
    for person_id, group_id in session.execute(
            select(person_groups.c.person_id, person_groups.c.group_id)
            .where(person_groups.c.group_id.in_(list(slug_of)))):
        member_groups[person_id].append(slug_of[group_id])
    if not member_groups:
        return []
    out: list[m.AclCredential] = []
    ids = list(member_groups)
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        rows = session.execute(
            select(Keycard, Person).join(Person, Keycard.person_id == Person.id)
            .where(Keycard.person_id.in_(chunk))
            .options(selectinload(Person.groups)).order_by(Keycard.id))
        for card, person in rows:
            out.append(credential(person, card, member_groups[person.id]))
    return out


def snapshot(session: Session, device: Device, now: datetime) -> list[m.AclSnapshot]:
    """The device's full ACL at its current version, in chunks that each fit one payload."""
    building = session.get(Building, device.building_id)
    assert building is not None
    groups = _device_groups(session, device)
    door_ids = {d.id for d in device.doors}
    head = dict(version=device.acl_version, building=building.id, tz=building.tz,
                lockdown=building.lockdown)
    doors = [_acl_door(d) for d in device.doors]
    acl_groups = [_acl_group(g, door_ids) for g in groups]
    holidays = _holidays(session, building, now)
    creds = device_credentials(session, device, groups) + lent_credentials(session, device, groups)
    fixed = len(m.AclSnapshot(**head, doors=doors, groups=acl_groups, holidays=holidays)
                .model_dump_json())
    parts: list[list[m.AclCredential]] = [[]]
    used = fixed
    for cred in creds:
        size = len(cred.model_dump_json(exclude_none=True)) + 1
        if parts[-1] and used + size > _CHUNK_BUDGET:
            parts.append([])
            used = 200
        parts[-1].append(cred)
        used += size
    total = len(parts)
    return [m.AclSnapshot(**head, chunk=i, chunks=total,
                          doors=doors if i == 0 else [], groups=acl_groups if i == 0 else [],
                          holidays=holidays if i == 0 else [], credentials=part)
            for i, part in enumerate(parts)]


def _bump(session: Session, device: Device, now: datetime, *, kind: str,
          delta: dict | None = None) -> AclChange:
    change = AclChange(device_id=device.id, from_version=device.acl_version,
                       to_version=device.acl_version + 1, kind=kind, delta=delta,
                       created_at=now)
    device.acl_version += 1
    if delta is not None:
        change.delta = {**delta, "from_version": change.from_version,
                        "to_version": change.to_version}
    session.add(change)
    return change


def _bump_all(session: Session, device_ids: Iterable[str], now: datetime, *, kind: str,
              delta: dict | None = None) -> dict[str, int]:
    """The same step on every active device of ``device_ids``; return device id -> version.

    Three statements whatever the number of devices (lock, bump with RETURNING, one
    multi-row insert of the changes): a termination touching every door of a district must
    not cost a round trip per door.
    """
    ids = _active_ids(session, device_ids)
    if not ids:
        return {}
    bumped = session.execute(
        update(Device).where(Device.id.in_(ids))
        .values(acl_version=Device.acl_version + 1)
        .returning(Device.id, Device.acl_version)
        .execution_options(synchronize_session="fetch"))
    out = {device_id: version for device_id, version in bumped}
    session.execute(insert(AclChange), [
        dict(device_id=device_id, from_version=version - 1, to_version=version, kind=kind,
             delta=None if delta is None else {**delta, "from_version": version - 1,
                                               "to_version": version},
             created_at=now, published=False)
        for device_id, version in sorted(out.items())])
    return out


def revoke_cards(session: Session, hashes: list[str], device_ids: Iterable[str],
                 now: datetime) -> dict[str, int]:
    """Queue a delta revoking ``hashes`` on each device; return device id -> version."""
    if not hashes:
        return {}
    return _bump_all(session, device_ids, now, kind="delta", delta={"revoke": sorted(hashes)})


def upsert_credentials(session: Session, creds: list[m.AclCredential], device_ids: Iterable[str],
                       now: datetime) -> dict[str, int]:
    """Queue a delta adding (or replacing) ``creds`` on each device; return device id -> version."""
    out: dict[str, int] = {}
    if not creds:
        return out
    bodies = [c.model_dump(mode="json", exclude_none=True) for c in creds]
    for device in _active_devices(session, device_ids):
        out[device.id] = _bump(session, device, now, kind="delta",
                               delta={"credentials": bodies}).to_version
    session.flush()
    return out


def lent_credentials(session: Session, device: Device,
                     groups: list[AccessGroup]) -> list[m.AclCredential]:
    """Cards held by no person but lent to a visit (pool visitor cards, ADR 0003) for a snapshot."""
    from hub.visitors import pool  # NOTE: lazy, hub.visitors imports this module

    return pool.device_credentials(session, device, groups)


def push_person(session: Session, person: Person, before: set[str], now: datetime) -> dict[str, int]:
    """After a change to a person, their cards or groups: upsert where they belong, remove elsewhere."""
    session.flush()
    after = person_devices(session, person)
    out: dict[str, int] = {}
    cards = list(session.scalars(select(Keycard).where(Keycard.person_id == person.id)))
    if not cards:
        return out
    for device in _active_devices(session, after | before):
        if device.id in after:
            slugs = {g.slug for g in _device_groups(session, device)}
            mine = [g.slug for g in person.groups if g.slug in slugs
                    and g.building_id == device.building_id]
            creds = [credential(person, c, mine).model_dump(mode="json", exclude_none=True)
                     for c in cards]
            change = _bump(session, device, now, kind="delta", delta={"credentials": creds})
        else:
            change = _bump(session, device, now, kind="delta",
                           delta={"remove": sorted(c.cred_hash for c in cards)})
        out[device.id] = change.to_version
    session.flush()
    return out


def mark_snapshot(session: Session, device_ids: Iterable[str], now: datetime) -> dict[str, int]:
    """Doors, groups, holidays or lockdown changed: these devices get a fresh snapshot."""
    return _bump_all(session, device_ids, now, kind="snapshot")


def building_devices(session: Session, building_id: str) -> set[str]:
    """Every active controller of a building."""
    return set(session.scalars(select(Device.id).where(
        Device.building_id == building_id, Device.kind == "controller",
        Device.status == "active")))


def delta_body(change: AclChange) -> m.AclDelta:
    """The wire body of a stored delta."""
    assert change.delta is not None
    return m.AclDelta.model_validate(change.delta)


def catch_up(session: Session, device: Device, have: int | None, now: datetime
             ) -> list[m.AclSnapshot] | list[m.AclDelta]:
    """What to send a device that runs version ``have``: stored deltas if they bridge the gap,
    else a snapshot; nothing when it is current.

    A device *ahead* of the hub (``have`` above the hub's counter) means the hub lost versions it
    once sent — a restore from backup. The device would refuse any snapshot numbered below its own
    and skip deltas it believes it has, keeping an ACL the hub no longer agrees with (revocations
    included). So the hub's counter jumps past the device's and a full snapshot goes out at once,
    with an alert for the Data Privacy Team.
    """
    if have is not None and have > device.acl_version:
        from hub.services import alerts  # NOTE: lazy, alerts is a leaf service

        alerts.raise_alert(
            session, key=f"acl_ahead:{device.id}:{have}", kind="acl_ahead", severity="warning",
            building_id=device.building_id, device_id=device.id, now=now,
            message=f"{device.id} ran ACL version {have}, above the hub's {device.acl_version} "
                    "(hub restored from a backup?); sent it the hub's full ACL as version "
                    f"{have + 1}")
        device.acl_version = have
        _bump(session, device, now, kind="snapshot")
        return snapshot(session, device, now)
    if have is not None and have == device.acl_version:
        return []
    if have is not None and have < device.acl_version:
        changes = list(session.scalars(select(AclChange).where(
            AclChange.device_id == device.id, AclChange.to_version > have)
            .order_by(AclChange.to_version)))
        if (changes and changes[0].from_version == have
                and all(c.kind == "delta" for c in changes)
                and len(changes) == device.acl_version - have):
            return [delta_body(c) for c in changes]
    return snapshot(session, device, now)


def today_in(building: Building, now: datetime) -> date:
    """The building's local date at ``now``."""
    return now.astimezone(ZoneInfo(building.tz)).date()
