"""People: staff, vendors (with or without a data privacy agreement) and custodial staff."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hub.models import AccessGroup, Building, Person
from hub.models.people import person_buildings
from hub.services import acl, audit
from hub.services.audit import ActorLike
from hub.services.errors import Conflict, Invalid, NotFound

KINDS = ("staff", "vendor", "custodial")
STATUSES = ("active", "on_leave", "terminated")
STAFF_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_staff_id(staff_id: str) -> str:
    """Return ``staff_id`` if it has the district's shape, else Invalid."""
    if not isinstance(staff_id, str) or not STAFF_ID_RE.match(staff_id):
        raise Invalid("staff id must be 1-64 letters, digits, '.', '_' or '-'", field="staff_id")
    return staff_id


@dataclass
class PersonSpec:
    """The editable facts about a person (everything but credentials and status changes)."""

    staff_id: str
    name: str
    kind: str = "staff"
    title: str = ""
    buildings: list[str] = field(default_factory=list)
    company: str = ""
    has_dpa: bool = False
    can_escort: bool = False
    start_date: date | None = None
    end_date: date | None = None


def _validate(session: Session, spec: PersonSpec) -> list[Building]:
    check_staff_id(spec.staff_id)
    name = (spec.name or "").strip()
    if not name or len(name) > 200:
        raise Invalid("name must be 1 to 200 characters", field="name")
    if spec.kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}", field="kind")
    if len(spec.title) > 200 or len(spec.company) > 200:
        raise Invalid("title and company must be at most 200 characters", field="title")
    if spec.kind == "vendor" and not spec.company.strip():
        raise Invalid("a vendor needs a company", field="company")
    if spec.can_escort and spec.kind != "staff":
        raise Invalid("only staff may escort visitors", field="can_escort")
    if spec.start_date and spec.end_date and spec.end_date < spec.start_date:
        raise Invalid("end date is before start date", field="end_date")
    buildings = []
    for bid in spec.buildings:
        b = session.get(Building, bid)
        if b is None:
            raise Invalid(f"no building {bid!r}", field="buildings")
        buildings.append(b)
    return buildings


def create_person(session: Session, spec: PersonSpec, *, actor: ActorLike, now: datetime) -> Person:
    """Add a person (active)."""
    buildings = _validate(session, spec)
    if session.scalars(select(Person).where(Person.staff_id == spec.staff_id)).first():
        raise Conflict(f"staff id {spec.staff_id} already exists", field="staff_id")
    p = Person(staff_id=spec.staff_id, name=spec.name.strip(), kind=spec.kind,
               title=spec.title.strip(), status="active", company=spec.company.strip(),
               has_dpa=spec.has_dpa, can_escort=spec.can_escort, start_date=spec.start_date,
               end_date=spec.end_date, created_at=now, updated_at=now)
    p.buildings = buildings
    session.add(p)
    session.flush()
    audit.record(session, actor=actor, action="person.create", now=now,
                 building_id=buildings[0].id if buildings else None, target=p.staff_id,
                 detail={"kind": p.kind, "buildings": [b.id for b in buildings]})
    return p


def update_person(session: Session, person: Person, spec: PersonSpec, *, actor: ActorLike,
                  now: datetime) -> list[str]:
    """Apply ``spec`` to ``person``; return the names of the fields that changed."""
    if spec.staff_id != person.staff_id:
        raise Invalid("a staff id cannot change", field="staff_id")
    buildings = _validate(session, spec)
    before_devices = acl.person_devices(session, person)
    changed = []
    for attr in ("name", "kind", "title", "company", "has_dpa", "can_escort", "start_date",
                 "end_date"):
        new = getattr(spec, attr)
        new = new.strip() if isinstance(new, str) else new
        if getattr(person, attr) != new:
            setattr(person, attr, new)
            changed.append(attr)
    if sorted(b.id for b in person.buildings) != sorted(b.id for b in buildings):
        person.buildings = buildings
        changed.append("buildings")
        # groups of buildings the person left go with them
        person.groups = [g for g in person.groups if g.building_id in {b.id for b in buildings}]
    if changed:
        person.updated_at = now
        acl.push_person(session, person, before_devices, now)
        audit.record(session, actor=actor, action="person.update", now=now,
                     building_id=buildings[0].id if buildings else None,
                     target=person.staff_id, detail={"changed": changed})
    return changed


def set_status(session: Session, person: Person, status: str, *, actor: ActorLike,
               now: datetime) -> None:
    """Active or on leave (termination goes through :func:`hub.services.revocations.terminate`)."""
    if status not in ("active", "on_leave"):
        raise Invalid("status must be active or on_leave here; terminate to end access",
                      field="status")
    if person.status == "terminated":
        raise Conflict(f"{person.staff_id} is terminated; re-hire with a new record",
                       field="status")
    if person.status == status:
        return
    before = acl.person_devices(session, person)
    person.status = status
    person.updated_at = now
    acl.push_person(session, person, before, now)
    audit.record(session, actor=actor, action="person.status", now=now,
                 building_id=person.buildings[0].id if person.buildings else None,
                 target=person.staff_id, detail={"status": status})


def set_groups(session: Session, person: Person, building_id: str, slugs: list[str], *,
               actor: ActorLike, now: datetime) -> None:
    """Replace the person's access groups in one building; doors learn at once."""
    if building_id not in {b.id for b in person.buildings}:
        raise Invalid(f"{person.staff_id} is not attached to building {building_id}",
                      field="building")
    if person.status == "terminated":
        raise Conflict(f"{person.staff_id} is terminated", field="status")
    groups = []
    for slug in slugs:
        g = session.scalars(select(AccessGroup).where(
            AccessGroup.building_id == building_id, AccessGroup.slug == slug)).first()
        if g is None:
            raise Invalid(f"no group {slug!r} in building {building_id}", field="groups")
        if g.custodial and person.kind != "custodial":
            raise Invalid(f"group {slug} is for custodial staff", field="groups")
        if person.kind == "custodial" and not g.custodial and any(
                d.kind == "records_room" for d in g.doors):
            raise Invalid(f"custodial staff may not hold records-room group {slug}",
                          field="groups")
        groups.append(g)
    before = acl.person_devices(session, person)
    person.groups = [g for g in person.groups if g.building_id != building_id] + groups
    person.updated_at = now
    acl.push_person(session, person, before, now)
    audit.record(session, actor=actor, action="person.groups", now=now, building_id=building_id,
                 target=person.staff_id, detail={"groups": sorted(slugs)})


def get_person(session: Session, staff_id: str) -> Person:
    """A person by staff id, or NotFound."""
    p = session.scalars(select(Person).where(Person.staff_id == staff_id)).first()
    if p is None:
        raise NotFound(f"no person with staff id {staff_id!r}")
    return p


@dataclass(frozen=True)
class PersonRow:
    """A person as a list shows them (plain values, no lazy loading)."""

    staff_id: str
    name: str
    kind: str
    title: str
    status: str
    has_dpa: bool


def person_rows(session: Session, building_id: str) -> list[PersonRow]:
    """Everyone attached to a building, by name."""
    rows = session.execute(
        select(Person.staff_id, Person.name, Person.kind, Person.title, Person.status,
               Person.has_dpa)
        .join(person_buildings, person_buildings.c.person_id == Person.id)
        .where(person_buildings.c.building_id == building_id).order_by(Person.name))
    return [PersonRow(*r) for r in rows]


def list_people(session: Session, *, building_id: str | None = None, status: str | None = None,
                limit: int = 500, after: str | None = None) -> list[Person]:
    """People ordered by staff id, optionally of one building or status, after a cursor."""
    stmt = select(Person).order_by(Person.staff_id).limit(limit).options(
        selectinload(Person.buildings), selectinload(Person.groups))
    if building_id is not None:
        stmt = stmt.join(person_buildings, person_buildings.c.person_id == Person.id).where(
            person_buildings.c.building_id == building_id)
    if status is not None:
        stmt = stmt.where(Person.status == status)
    if after is not None:
        stmt = stmt.where(Person.staff_id > after)
    return list(session.scalars(stmt))
