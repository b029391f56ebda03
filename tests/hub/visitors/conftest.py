"""A real SQLite hub database with one building, a kiosk, staff and destinations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

import hub.visitors.models  # noqa: F401  (registers the visitor tables)
from hub.db import Database
from hub.models import Building, Device, Person
from hub.visitors import services
from hub.visitors.services import VisitorSettings

NOW = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)  # 09:00 in New York



@pytest.fixture
def db(tmp_path: Path) -> Database:
    """A fresh SQLite file with every hub table."""
    database = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    database.create_all()
    return database


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    """A session on a seeded building: kiosk ``kiosk-front``, two staff, a vendor with a DPA."""
    with db.session() as s:
        lincoln = Building(id="lincoln", name="Lincoln Elementary", tz="America/New_York", created_at=NOW)
        other = Building(id="adams", name="Adams Middle", tz="America/New_York", created_at=NOW)
        s.add_all([lincoln, other])
        s.flush()
        s.add_all([
            Device(id="kiosk-front", kind="kiosk", building_id="lincoln", public_key_pem="-", created_at=NOW),
            Device(id="kiosk-adams", kind="kiosk", building_id="adams", public_key_pem="-", created_at=NOW),
            Device(id="door-records", kind="controller", building_id="lincoln", public_key_pem="-", created_at=NOW),
        ])
        rivera = Person(staff_id="s100", name="Dana Rivera", title="Principal", kind="staff",
                        created_at=NOW, updated_at=NOW)
        rivera.buildings.append(lincoln)
        gone = Person(staff_id="s101", name="Former Teacher", kind="staff", status="terminated",
                      created_at=NOW, updated_at=NOW)
        gone.buildings.append(lincoln)
        elsewhere = Person(staff_id="s200", name="Adams Teacher", kind="staff", created_at=NOW, updated_at=NOW)
        elsewhere.buildings.append(other)
        vendor = Person(staff_id="v1", name="Pat Vendor", kind="vendor", company="Acme HVAC, Inc.",
                        has_dpa=True, created_at=NOW, updated_at=NOW)
        s.add_all([rivera, gone, elsewhere, vendor])
        services.add_destination(s, "lincoln", "main-office", "Main office")
        services.add_destination(s, "lincoln", "library", "Library")
        s.flush()
        yield s


@pytest.fixture
def settings() -> VisitorSettings:
    """Visitor settings with a fixed fingerprint key."""
    return VisitorSettings.from_site_key(b"k" * 32)
