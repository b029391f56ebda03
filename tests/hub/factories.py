"""Small builders for hub tests: a building with controllers, doors, a group and card holders."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from link import keys as link_keys
from hub.services import buildings, credentials, devices, people
from hub.services.buildings import DoorSpec, Window


@dataclass
class Seeded:
    """What :func:`seed` made."""

    building: str
    device_keys: dict[str, Ed25519PrivateKey] = field(default_factory=dict)
    cards: dict[str, str] = field(default_factory=dict)  # staff id -> cred hash


def uid_for(building: str, n: int) -> str:
    """The typed UID :func:`seed` gives holder number ``n`` of ``building`` (4 bytes, hex)."""
    return f"04{zlib.crc32(building.encode()) & 0xFF:02X}B2{n:02X}"


def seed(session, keyring, now: datetime, *, building: str = "lincoln", controllers: int = 2,
         holders: tuple[str, ...] = ("S1", "S2")) -> Seeded:
    """A building with ``controllers`` records-room doors, group ``records`` and card holders."""
    out = Seeded(building)
    buildings.create_building(session, building_id=building, name=building.title() + " High",
                              tz="America/New_York", actor="test", now=now)
    door_ids = []
    for i in range(1, controllers + 1):
        dev_id = f"{building}-ctl-{i}"
        key = Ed25519PrivateKey.generate()
        out.device_keys[dev_id] = key
        devices.register(session, device_id=dev_id, kind="controller", building_id=building,
                         public_key_pem=link_keys.public_pem(key.public_key()), cert_serial="",
                         actor="test", now=now)
        door_id = f"{building}-door-{i}"
        buildings.save_door(session, building, DoorSpec(door_id, f"Records {i}", "records_room",
                                                        device_id=dev_id), actor="test", now=now)
        door_ids.append(door_id)
    buildings.save_group(session, building, slug="records", name="Records office",
                         door_ids=door_ids, windows=[Window((0, 1, 2, 3, 4), "07:00", "17:00")],
                         actor="test", now=now)
    for n, staff_id in enumerate(holders):
        p = people.create_person(session, people.PersonSpec(
            staff_id=staff_id, name=f"Person {staff_id}", buildings=[building]),
            actor="test", now=now)
        people.set_groups(session, p, building, ["records"], actor="test", now=now)
        card = credentials.enrol_card(session, keyring.site_key, person=p, building_id=building,
                                      uid_text=uid_for(building, n), approver="principal",
                                      actor="test", now=now)
        out.cards[staff_id] = card.cred_hash
    session.flush()
    return out
