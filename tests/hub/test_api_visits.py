"""``GET /api/v1/buildings/{b}/visits`` reads hub.visitors' visit records (the one visit table)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import inspect

from hub.db import get_database
from hub.keyring import get_keyring
from hub.visitors.models import VisitRecord
from tests.hub.conftest import NOW
from tests.hub.factories import seed
from tests.hub.test_api import token


def _visit(n: int, building: str, status: str, **over) -> VisitRecord:
    values = dict(id=f"visit-{n:06d}", device_id=f"{building}-kiosk", building_id=building, status=status,
                  category="visitor", first=f"Ana{n}", last="Souza", host_name="Dana Rivera",
                  destination_name="Main office", id_source="scanned", screened_by="hub",
                  token_hash=f"{n:064d}", signed_in_at=NOW + timedelta(minutes=n),
                  expires_at=NOW + timedelta(hours=8))
    values.update(over)
    return VisitRecord(**values)


@pytest.fixture
def world(app):
    with get_database(app).session() as s:
        seed(s, get_keyring(app), NOW)
        seed(s, get_keyring(app), NOW, building="adams", controllers=1, holders=("A1",))
        s.add_all([
            _visit(1, "lincoln", "on_site", escort_required=True, company="Acme Copiers"),
            _visit(2, "lincoln", "held"),
            _visit(3, "lincoln", "signed_out", signed_out_at=NOW + timedelta(hours=1), signed_out_how="badge"),
            _visit(4, "lincoln", "closed_unsigned", signed_out_at=NOW + timedelta(hours=9),
                   signed_out_how="closing"),
            _visit(5, "adams", "on_site"),
        ])
    return app


def test_visits_on_site_lists_open_visits_of_that_building_only(world, client) -> None:
    r = client.get("/api/v1/buildings/lincoln/visits", headers=token(world, "front_desk", ["lincoln"]))
    assert r.status_code == 200, r.json
    rows = r.json["visits"]
    assert [(v["visit"], v["status"]) for v in rows] == [("visit-000001", "on_site"), ("visit-000002", "held")]
    first = rows[0]
    assert first["name"] == "Ana1 Souza" and first["company"] == "Acme Copiers"
    assert first["escort_required"] is True and first["host"] == "Dana Rivera"
    assert first["signed_in_at"].endswith("Z") and first["kiosk"] == "lincoln-kiosk"


def test_visits_of_another_building_are_out_of_scope(world, client) -> None:
    r = client.get("/api/v1/buildings/adams/visits", headers=token(world, "front_desk", ["lincoln"]))
    assert r.status_code in (403, 404) and "error" in r.json


def test_unknown_building_is_a_json_404(world, client) -> None:
    r = client.get("/api/v1/buildings/nowhere/visits", headers=token(world, "auditor", []))
    assert r.status_code == 404 and "error" in r.json


def test_the_legacy_visits_table_is_gone(world) -> None:
    names = inspect(get_database(world).engine).get_table_names()
    assert "visit_records" in names and "visits" not in names
