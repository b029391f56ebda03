"""Buildings, doors, access groups with weekly schedules, holidays and closures."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from link import topics
from hub.models import AccessGroup, Building, Device, Door, Holiday, ScheduleWindow
from hub.services import acl, audit
from hub.services.audit import ActorLike
from hub.services.errors import Conflict, Invalid, NotFound

DOOR_KINDS = ("records_room", "office", "exterior")
DOOR_MODES = ("card", "card_pin")
VISITOR_POLICIES = ("escort", "deny", "allow")
_HHMM = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _check_id(value: str, field: str) -> str:
    try:
        return topics.check_id(value)
    except topics.TopicError as exc:
        raise Invalid(str(exc), field=field) from None


def _check_name(value: str, field: str = "name") -> str:
    value = (value or "").strip()
    if not value or len(value) > 200:
        raise Invalid(f"{field} must be 1 to 200 characters", field=field)
    return value


def check_tz(tz: str) -> str:
    """Return ``tz`` if it is an IANA zone name, else Invalid."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"unknown time zone {tz!r} (use an IANA name like America/New_York)",
                      field="tz") from None
    return tz


def create_building(session: Session, *, building_id: str, name: str, tz: str, actor: ActorLike,
                    now: datetime) -> Building:
    """Add a building."""
    _check_id(building_id, "building_id")
    if session.get(Building, building_id) is not None:
        raise Conflict(f"building {building_id} already exists", field="building_id")
    b = Building(id=building_id, name=_check_name(name), tz=check_tz(tz), created_at=now)
    session.add(b)
    session.flush()
    audit.record(session, actor=actor, action="building.create", now=now,
                 building_id=building_id, target=building_id)
    return b


def get_building(session: Session, building_id: str) -> Building:
    """A building by id, or NotFound."""
    b = session.get(Building, building_id)
    if b is None:
        raise NotFound(f"no building {building_id!r}")
    return b


def list_buildings(session: Session) -> list[Building]:
    """Every building by id."""
    return list(session.scalars(select(Building).order_by(Building.id)))


@dataclass(frozen=True)
class DoorSpec:
    """What an installer says about a door."""

    door_id: str
    name: str
    kind: str
    device_id: str | None = None
    mode: str = "card"
    strike_s: int = 5
    held_open_s: int = 30
    stale_limit_s: int = 86400
    escort_window_s: int = 10
    pin_timeout_s: int = 10
    visitor_policy: str = "escort"


def _range(value: int, low: int, high: int, field: str) -> int:
    if type(value) is not int or not low <= value <= high:
        raise Invalid(f"{field} must be a whole number from {low} to {high}", field=field)
    return value


def _validate_door(spec: DoorSpec) -> None:
    _check_id(spec.door_id, "door_id")
    _check_name(spec.name)
    if spec.kind not in DOOR_KINDS:
        raise Invalid(f"kind must be one of {', '.join(DOOR_KINDS)}", field="kind")
    if spec.mode not in DOOR_MODES:
        raise Invalid(f"mode must be one of {', '.join(DOOR_MODES)}", field="mode")
    if spec.visitor_policy not in VISITOR_POLICIES:
        raise Invalid(f"visitor_policy must be one of {', '.join(VISITOR_POLICIES)}",
                      field="visitor_policy")
    _range(spec.strike_s, 1, 300, "strike_s")
    _range(spec.held_open_s, 1, 3600, "held_open_s")
    _range(spec.stale_limit_s, 60, 30 * 86400, "stale_limit_s")
    _range(spec.escort_window_s, 1, 300, "escort_window_s")
    _range(spec.pin_timeout_s, 1, 120, "pin_timeout_s")
    if spec.kind == "records_room" and spec.visitor_policy == "allow":
        # WISP VII.B: visitors stay out of areas holding personal information unless escorted.
        raise Invalid("a records room cannot let visitors in unescorted", field="visitor_policy")


def _controller(session: Session, device_id: str | None, building_id: str) -> str | None:
    if device_id is None:
        return None
    dev = session.get(Device, device_id)
    if dev is None:
        raise Invalid(f"no device {device_id!r}", field="device_id")
    if dev.kind != "controller":
        raise Invalid(f"{device_id} is a {dev.kind}, not a controller", field="device_id")
    if dev.building_id != building_id:
        raise Invalid(f"{device_id} belongs to building {dev.building_id}", field="device_id")
    return dev.id


def save_door(session: Session, building_id: str, spec: DoorSpec, *, actor: ActorLike,
              now: datetime) -> Door:
    """Create or update a door; its controllers (old and new) get a fresh snapshot."""
    get_building(session, building_id)
    _validate_door(spec)
    door = session.get(Door, spec.door_id)
    if door is not None and door.building_id != building_id:
        raise Conflict(f"door {spec.door_id} belongs to building {door.building_id}",
                       field="door_id")
    device_id = _controller(session, spec.device_id, building_id)
    touched = {door.device_id} if door is not None and door.device_id else set()
    created = door is None
    if door is None:
        door = Door(id=spec.door_id, building_id=building_id, name=spec.name, kind=spec.kind)
        session.add(door)
    door.name = spec.name.strip()
    door.kind, door.mode, door.device_id = spec.kind, spec.mode, device_id
    door.strike_s, door.held_open_s = spec.strike_s, spec.held_open_s
    door.stale_limit_s, door.escort_window_s = spec.stale_limit_s, spec.escort_window_s
    door.pin_timeout_s, door.visitor_policy = spec.pin_timeout_s, spec.visitor_policy
    if door.kind == "records_room":
        for group in door.groups:
            if group.custodial:
                raise Invalid(f"custodial group {group.slug} may not hold a records room",
                              field="kind")
    session.flush()
    if device_id:
        touched.add(device_id)
    acl.mark_snapshot(session, touched, now)
    audit.record(session, actor=actor, action="door.create" if created else "door.update",
                 now=now, building_id=building_id, target=door.id,
                 detail={"kind": door.kind, "device": device_id, "mode": door.mode})
    return door


def get_door(session: Session, door_id: str) -> Door:
    """A door by id, or NotFound."""
    door = session.get(Door, door_id)
    if door is None:
        raise NotFound(f"no door {door_id!r}")
    return door


def list_doors(session: Session, building_id: str | None = None) -> list[Door]:
    """Doors, optionally of one building."""
    stmt = select(Door).order_by(Door.id)
    if building_id is not None:
        stmt = stmt.where(Door.building_id == building_id)
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class Window:
    """A weekly window: days 0 (Monday) to 6, [start, end) as HH:MM in the building's zone."""

    days: tuple[int, ...]
    start: str
    end: str


def _validate_window(w: Window) -> str:
    if not w.days or any(type(d) is not int or not 0 <= d <= 6 for d in w.days):
        raise Invalid("window days must be 0 (Monday) to 6 (Sunday)", field="windows")
    if not _HHMM.match(w.start) or not _HHMM.match(w.end):
        raise Invalid("window times must be HH:MM (24-hour)", field="windows")
    if w.start >= w.end:
        raise Invalid(f"window {w.start}-{w.end} ends before it starts", field="windows")
    return "".join(str(d) for d in sorted(set(w.days)))


def save_group(session: Session, building_id: str, *, slug: str, name: str,
               door_ids: list[str], windows: list[Window], always: bool = False,
               responder: bool = False, custodial: bool = False, actor: ActorLike,
               now: datetime) -> AccessGroup:
    """Create or replace an access group; every controller it touches gets a snapshot."""
    get_building(session, building_id)
    if not _SLUG.match(slug or ""):
        raise Invalid("group slug must be lowercase letters, digits, '-' or '_'", field="slug")
    _check_name(name)
    days = [(_validate_window(w), w) for w in windows]
    if not always and not windows:
        raise Invalid("a group needs at least one window, or always=true", field="windows")
    doors = []
    for door_id in door_ids:
        door = session.get(Door, door_id)
        if door is None or door.building_id != building_id:
            raise Invalid(f"no door {door_id!r} in building {building_id}", field="doors")
        if custodial and door.kind == "records_room":
            # WISP VII.B: cleaning personnel have no access to areas holding personal information.
            raise Invalid(f"custodial group may not hold records room {door_id}", field="doors")
        doors.append(door)
    group = session.scalars(select(AccessGroup).where(
        AccessGroup.building_id == building_id, AccessGroup.slug == slug)).first()
    touched: set[str] = set()
    if group is None:
        group = AccessGroup(building_id=building_id, slug=slug, name=name)
        session.add(group)
    else:
        touched |= {d.device_id for d in group.doors if d.device_id}
    group.name, group.always, group.responder, group.custodial = name, always, responder, custodial
    group.doors = doors
    group.windows = [ScheduleWindow(days=d, start=w.start, end=w.end) for d, w in days]
    session.flush()
    touched |= {d.device_id for d in doors if d.device_id}
    acl.mark_snapshot(session, touched, now)
    audit.record(session, actor=actor, action="group.save", now=now, building_id=building_id,
                 target=slug, detail={"doors": sorted(door_ids), "always": always})
    return group


def get_group(session: Session, building_id: str, slug: str) -> AccessGroup:
    """A group by building and slug, or NotFound."""
    group = session.scalars(select(AccessGroup).where(
        AccessGroup.building_id == building_id, AccessGroup.slug == slug)).first()
    if group is None:
        raise NotFound(f"no group {slug!r} in building {building_id}")
    return group


def add_holiday(session: Session, building_id: str, *, day: date, name: str,
                groups: list[str] | None = None, actor: ActorLike, now: datetime) -> Holiday:
    """Close a building (or only some groups) for a day; its controllers get a snapshot."""
    get_building(session, building_id)
    for slug in groups or []:
        get_group(session, building_id, slug)
    if session.scalars(select(Holiday).where(Holiday.building_id == building_id,
                                             Holiday.day == day)).first():
        raise Conflict(f"{day.isoformat()} is already a holiday in {building_id}", field="day")
    h = Holiday(building_id=building_id, day=day, name=(name or "")[:200],
                groups=",".join(groups or []))
    session.add(h)
    session.flush()
    acl.mark_snapshot(session, acl.building_devices(session, building_id), now)
    audit.record(session, actor=actor, action="holiday.add", now=now, building_id=building_id,
                 target=day.isoformat())
    return h


def set_lockdown(session: Session, building_id: str, active: bool, *, actor: ActorLike,
                 now: datetime) -> Building:
    """Lockdown on or off; it travels in every controller's next snapshot."""
    b = get_building(session, building_id)
    b.lockdown = active
    acl.mark_snapshot(session, acl.building_devices(session, building_id), now)
    audit.record(session, actor=actor, action="lockdown.on" if active else "lockdown.off",
                 now=now, building_id=building_id, target=building_id)
    return b
