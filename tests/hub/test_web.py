"""The principal's pages behind the accounts layer: master list, terminate, live revocation table."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from hub.auth import services as auth_services
from hub.auth.models import AuditEntry
from hub.db import get_database
from hub.keyring import get_keyring
from hub.services import credentials, people
from tests.hub.auth.conftest import HttpsClient, mint_session
from tests.hub.conftest import NOW
from tests.hub.factories import seed


@pytest.fixture
def world(app):
    app.test_client_class = HttpsClient
    with get_database(app).session() as s:
        seed(s, get_keyring(app), NOW)
        seed(s, get_keyring(app), NOW, building="adams", controllers=1, holders=("A1",))
        p = people.get_person(s, "S2")
        p.name = '<script>alert("x")</script> Bobby'
        code = credentials.create_secret(s, get_keyring(app).vault, "lincoln", kind="keypad_code",
                                         label="Alarm panel", value="5150", actor="t", now=NOW)
        credentials.share_secret(s, code, people.get_person(s, "S1"), approver="p", actor="t",
                                 now=NOW)
    return app


def signed_in(app, role: str, buildings: list[str]) -> tuple[HttpsClient, str]:
    """A client with a full, freshly re-authenticated session of a new ``role`` account."""
    from hub.auth import passwords, totp

    now = datetime.now(UTC)
    with get_database(app).session() as s:
        _inv, tok = auth_services.create_invitation(
            s, auth_services.console_actor("test"), username=f"{role}x{len(buildings)}",
            display_name=role.title(), role=role, buildings=buildings, now=now, ttl_s=3600)
        account = auth_services.activate_invitation(
            s, tok, password_hash=passwords.hash_password("violet cabinet mossy ladder"),
            totp_secret=totp.new_secret(), totp_step=0, now=now, vault=get_keyring(app).vault)
        account_id = account.id
    client = app.test_client()
    csrf = mint_session(app, client, account_id, now, reauth_at=now)
    return client, csrf


def test_master_list_terminate_and_revocation_page(world) -> None:
    client, csrf = signed_in(world, "principal", ["lincoln"])
    page = client.get("/buildings/lincoln")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Person S1" in html and "Alarm panel" in html
    assert "5150" not in html
    assert "<script>alert" not in html and "&lt;script&gt;" in html  # escaped, never run
    assert "<script>" not in re.sub(r'<script src="[^"]+"></script>', "", html)  # no inline script
    person = client.get("/people/S1").get_data(as_text=True)
    assert 'id="terminate"' in person
    r = client.post("/people/S1/terminate", data={"csrf_token": csrf, "reason": "resigned"})
    assert r.status_code == 303
    rev_url = r.headers["Location"]
    rev_page = client.get(rev_url).get_data(as_text=True)
    assert "lincoln-door-1" in rev_page and "never connected" in rev_page
    assert "collect keycard" in rev_page and "change keypad code Alarm panel" in rev_page
    assert "revocation.js" in rev_page and 'data-state-url="' in rev_page
    state = client.get(rev_url + "/state.json").json
    assert {d["door"]: d["state"] for d in state["doors"]} == {
        "lincoln-door-1": "offline", "lincoln-door-2": "offline"}
    with get_database(world).session() as s:
        assert people.get_person(s, "S1").status == "terminated"


def test_terminate_without_csrf_is_refused(world) -> None:
    client, _csrf = signed_in(world, "principal", ["lincoln"])
    assert client.post("/people/S1/terminate", data={}).status_code == 400
    with get_database(world).session() as s:
        assert people.get_person(s, "S1").status == "active"


def test_other_building_and_other_roles_are_refused(world) -> None:
    client, csrf = signed_in(world, "principal", ["lincoln"])
    assert client.get("/buildings/adams").status_code == 403
    assert client.get("/people/A1").status_code == 404
    assert client.post("/people/A1/terminate", data={"csrf_token": csrf}).status_code == 404
    desk, _ = signed_in(world, "front_desk", ["lincoln"])
    assert desk.get("/buildings/lincoln").status_code == 403
    anonymous = world.test_client()
    assert anonymous.get("/buildings/lincoln").status_code == 302


def test_revealing_a_code_is_audited(world) -> None:
    client, csrf = signed_in(world, "principal", ["lincoln"])
    with get_database(world).session() as s:
        from hub.models import Secret
        secret_id = s.scalars(select(Secret.id)).one()
    r = client.post(f"/secrets/{secret_id}/view", data={"csrf_token": csrf, "reason": "alarm"})
    assert r.status_code == 200 and "5150" in r.get_data(as_text=True)
    with get_database(world).session() as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "secret.view")))
    assert len(rows) == 1 and rows[0].target == f"secret:{secret_id}"
    auditor, acsrf = signed_in(world, "auditor", [])
    assert auditor.post(f"/secrets/{secret_id}/view", data={"csrf_token": acsrf}).status_code == 403


def test_devices_page(world) -> None:
    client, _ = signed_in(world, "principal", ["lincoln"])
    html = client.get("/buildings/lincoln/devices").get_data(as_text=True)
    assert "lincoln-ctl-1" in html and "never connected" in html
