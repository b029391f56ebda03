"""Two hub workers lend the same pool card at the same moment (PostgreSQL, the district setup): the
database's unique loan columns let exactly one through; the other is told the card is in use."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from hub.db import Database
from hub.models import AccessGroup, Building, Device, Door
from hub.visitors import pool, services
from hub.visitors.pool_models import PoolAssignment
from hub.visitors.services import VisitorError, VisitorSettings
from link import visits as wire

NOW = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)


@pytest.fixture
def pg(postgres_server):
    """A fresh PostgreSQL database with Lincoln lending card 7 and two visitors on site."""
    database = Database(postgres_server.create_database(f"race{os.getpid()}"))
    database.create_all()
    with database.session() as s:
        s.add(Building(id="lincoln", name="Lincoln", tz="America/New_York", created_at=NOW))
        s.flush()
        s.add_all([Device(id="kiosk-1", kind="kiosk", building_id="lincoln", public_key_pem="-", created_at=NOW),
                   Device(id="ctl-1", kind="controller", building_id="lincoln", public_key_pem="-", created_at=NOW)])
        s.flush()
        door = Door(id="office", building_id="lincoln", device_id="ctl-1", name="Office", kind="office")
        group = AccessGroup(building_id="lincoln", slug="visitors", name="Visitors", always=True)
        group.doors.append(door)
        s.add_all([door, group])
        s.flush()
        pool.configure(s, "lincoln", enabled=True, group_slug="visitors", actor="test", now=NOW)
        pool.enrol_card(s, b"r" * 32, building_id="lincoln", number=7, uid_text="04A1B2C3", approver="p",
                        actor="test", now=NOW)
        for n in (1, 2):
            services.sign_in(s, VisitorSettings.from_site_key(b"k" * 32), "kiosk-1", wire.VisitSignIn(
                corr=f"corr-00000{n}", visit=f"visit-00000{n}", token_sha256=services.token_hash(f"t{n}" * 12),
                category="visitor", first=f"V{n}", last="Park", id_source="typed"), NOW)
    yield database
    database.dispose()


def test_only_one_of_two_simultaneous_loans_wins(pg) -> None:
    first_flushed, may_commit = threading.Event(), threading.Event()
    errors: list[str] = []

    def first() -> None:
        with pg.session() as s:
            pool.assign(s, "lincoln", "visit-000001", 7, by="desk", now=NOW)
            first_flushed.set()
            may_commit.wait(10)

    worker = threading.Thread(target=first)
    worker.start()
    assert first_flushed.wait(10)

    def second() -> None:
        # Its checks run before the first commits, so only the unique column can stop it.
        with pg.session() as s:
            try:
                pool.assign(s, "lincoln", "visit-000002", 7, by="kiosk", now=NOW)
            except VisitorError as exc:
                errors.append(exc.reason)

    racer = threading.Thread(target=second)
    racer.start()
    racer.join(0.5)
    assert racer.is_alive()  # waiting on the first worker's uncommitted loan
    may_commit.set()
    worker.join(10)
    racer.join(10)
    assert errors == ["card_in_use"]
    with pg.session() as s:
        assert [(lo.visit_id, lo.status) for lo in s.scalars(select(PoolAssignment))] == [("visit-000001", "active")]
        assert s.get(Device, "ctl-1").acl_version == 1  # one activation delta, none from the loser
