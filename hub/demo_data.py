"""The demo district: two buildings, about 40 staff, custodians, vendors, doors and schedules.

Everything is created through the same services the web UI, the API and the CLI call, so the
demo exercises the real rules (validation, audit rows, ACL versions). Deterministic: the same
seed gives the same people, card UIDs and PINs, so a script can rely on them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.orm import Session

from hub.keyring import Keyring
from hub.services import buildings as bsvc
from hub.services import credentials as csvc
from hub.services import people as psvc

ACTOR = "demo-setup"
SCHOOL_DAYS = (0, 1, 2, 3, 4)

BUILDINGS = (
    ("lincoln", "Lincoln Elementary School"),
    ("washington", "Washington Middle School"),
)
FIRST = ("Ana", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hector", "Imani", "Jorge",
         "Keiko", "Liam", "Maria", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Samuel", "Tara")
LAST = ("Silva", "Okafor", "Nguyen", "Murphy", "Costa", "Haddad", "Kim", "Ramirez", "Walsh",
        "Pereira", "Sato", "Brooks", "Lopez", "Ivanova", "Hassan", "Patel")
TITLES = ("Teacher", "Teacher", "Teacher", "Counselor", "Secretary", "Nurse", "Registrar")


@dataclass
class DemoStaff:
    """What demo.json tells a script about one person."""

    staff_id: str
    name: str
    building: str
    card_uid: str | None
    pin: str | None
    doors: list[str] = field(default_factory=list)
    always: bool = False
    kind: str = "staff"
    groups: list[str] = field(default_factory=list)


@dataclass
class DemoDoor:
    """What demo.json tells a script about one door (one simulated controller each)."""

    device: str
    name: str
    building: str
    kind: str
    mode: str


def door_plan() -> list[DemoDoor]:
    """Each building: a records room (card + PIN at Lincoln) and an office door."""
    doors = []
    for building, _ in BUILDINGS:
        doors.append(DemoDoor(f"{building}-records", "Records room", building, "records_room",
                              "card_pin" if building == "lincoln" else "card"))
        doors.append(DemoDoor(f"{building}-office", "Main office", building, "office", "card"))
    return doors


def _uid(n: int) -> str:
    return f"04{n:06X}"


def seed_buildings(session: Session, now: datetime) -> None:
    """Step 1: buildings and doors; ``device add --door`` then gives each door its controller."""
    for building, name in BUILDINGS:
        bsvc.create_building(session, building_id=building, name=name, tz="America/New_York",
                             actor=ACTOR, now=now)
    for door in door_plan():
        bsvc.save_door(session, door.building, bsvc.DoorSpec(
            door_id=door.device, name=door.name, kind=door.kind, mode=door.mode), actor=ACTOR, now=now)


def seed(session: Session, keyring: Keyring, now: datetime, *, staff_per_building: int = 18) -> list[DemoStaff]:
    """Step 2: groups, schedules, people, cards, keys, a combination."""
    rng = random.Random(2026)
    out: list[DemoStaff] = []
    card_no = 0x1A2B00
    year = now.year
    for building, _ in BUILDINGS:
        records, office = f"{building}-records", f"{building}-office"
        school = [bsvc.Window(days=SCHOOL_DAYS, start="07:00", end="17:00")]
        bsvc.save_group(session, building, slug="records-staff", name="Records room staff",
                        door_ids=[records, office], windows=school, actor=ACTOR, now=now)
        bsvc.save_group(session, building, slug="office-staff", name="Office staff",
                        door_ids=[office], windows=[bsvc.Window(days=SCHOOL_DAYS, start="06:30", end="18:00")],
                        actor=ACTOR, now=now)
        bsvc.save_group(session, building, slug="administrators", name="Administrators (24/7)",
                        door_ids=[records, office], windows=[], always=True, actor=ACTOR, now=now)
        bsvc.save_group(session, building, slug="custodial", name="Custodial crew",
                        door_ids=[office], windows=[bsvc.Window(days=SCHOOL_DAYS, start="15:00", end="23:00")],
                        custodial=True, actor=ACTOR, now=now)
        bsvc.save_group(session, building, slug="responders", name="Emergency responders",
                        door_ids=[records, office], windows=[], always=True, responder=True,
                        actor=ACTOR, now=now)
        for day, label in ((date(year, 12, 25), "Christmas Day"), (date(year + 1, 1, 1), "New Year's Day")):
            if day >= now.date():
                bsvc.add_holiday(session, building, day=day, name=label, actor=ACTOR, now=now)

        def person(staff_id: str, full: str, title: str, groups: list[str], *, kind: str = "staff",
                   can_escort: bool = False, pin: bool = False, company: str = "", has_dpa: bool = False,
                   always: bool = False) -> None:
            nonlocal card_no
            p = psvc.create_person(session, psvc.PersonSpec(
                staff_id=staff_id, name=full, kind=kind, title=title, buildings=[building],
                company=company, has_dpa=has_dpa, can_escort=can_escort), actor=ACTOR, now=now)
            psvc.set_groups(session, p, building, groups, actor=ACTOR, now=now)
            card_no += 1
            uid = _uid(card_no)
            pin_value = f"{rng.randint(0, 9999):04d}" if pin else None
            csvc.enrol_card(session, keyring.site_key, person=p, building_id=building, uid_text=uid,
                            approver="principal", actor=ACTOR, now=now, pin=pin_value)
            doors = sorted({d for g in groups for d in _group_doors(building, g)})
            out.append(DemoStaff(staff_id, full, building, uid, pin_value, doors, always, kind, groups))

        prefix = building[0].upper()
        needs_pin = building == "lincoln"
        person(f"{prefix}0001", f"{FIRST[0 if prefix == 'L' else 6]} {LAST[0 if prefix == 'L' else 6]}",
               "Principal", ["administrators"], can_escort=True, pin=needs_pin, always=True)
        person(f"{prefix}0002", f"{FIRST[1 if prefix == 'L' else 7]} {LAST[1 if prefix == 'L' else 7]}",
               "School Resource Officer", ["responders"], can_escort=True, pin=needs_pin, always=True)
        for i in range(3, staff_per_building + 1):
            full = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            title = rng.choice(TITLES)
            groups = ["records-staff"] if title in ("Secretary", "Registrar", "Counselor", "Nurse") else ["office-staff"]
            person(f"{prefix}{i:04d}", full, title, groups, can_escort=groups == ["records-staff"],
                   pin=needs_pin and groups == ["records-staff"])
        for i in range(1, 4):
            person(f"{prefix}C{i:03d}", f"{rng.choice(FIRST)} {rng.choice(LAST)}", "Custodian",
                   ["custodial"], kind="custodial")

        key = csvc.create_key(session, building, mark=f"{prefix}-R1", opens="Records room door cylinder",
                              copies=3, records_room=True, actor=ACTOR, now=now)
        principal = psvc.get_person(session, f"{prefix}0001")
        csvc.issue_key(session, key, principal, approver="district facilities", actor=ACTOR, now=now)
        master = csvc.create_key(session, building, mark=f"{prefix}-GM", opens="Building grand master",
                                 copies=2, records_room=False, actor=ACTOR, now=now)
        csvc.issue_key(session, master, principal, approver="district facilities", actor=ACTOR, now=now)
        csvc.create_secret(session, keyring.vault, building, kind="combination",
                           label="Records cabinet combination", value="24-8-16", actor=ACTOR, now=now)

    # Two vendors, district-wide contractors signed in at Lincoln: one with a data privacy
    # agreement on file, one without (treated as an escorted visitor at records rooms).
    for staff_id, company, has_dpa in (("V001", "Acme HVAC Services", True), ("V002", "QuickFix Plumbing", False)):
        p = psvc.create_person(session, psvc.PersonSpec(
            staff_id=staff_id, name=f"{company} technician", kind="vendor", buildings=["lincoln"],
            company=company, has_dpa=has_dpa), actor=ACTOR, now=now)
        psvc.set_groups(session, p, "lincoln", ["office-staff"], actor=ACTOR, now=now)
        card_no += 1
        uid = _uid(card_no)
        csvc.enrol_card(session, keyring.site_key, person=p, building_id="lincoln", uid_text=uid,
                        approver="principal", actor=ACTOR, now=now)
        out.append(DemoStaff(staff_id, p.name, "lincoln", uid, None, ["lincoln-office"], False, "vendor",
                             ["office-staff"]))
    return out


def _group_doors(building: str, group: str) -> list[str]:
    records, office = f"{building}-records", f"{building}-office"
    return {"records-staff": [records, office], "office-staff": [office], "administrators": [records, office],
            "custodial": [office], "responders": [records, office]}[group]
