"""Building scope on real objects: a principal of one building asking for another building's
person or code by id gets a 404 and no data; secrets need a fresh re-authentication and are
audited; the auditor never sees one; an API token is held to its buildings the same way."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from hub.auth import services as auth_services
from hub.auth.models import AuditEntry
from hub.db import get_database
from hub.keyring import get_keyring
from hub.services import buildings, credentials, people

CODE = "418207"


@pytest.fixture
def site(app, clock):
    """Two buildings, a person and a keypad code in the first."""
    with get_database(app).session() as s:
        for building_id, name in (("hs-1", "High School"), ("ms-2", "Middle School")):
            buildings.create_building(s, building_id=building_id, name=name, tz="America/New_York",
                                      actor="test", now=clock.now())
        people.create_person(s, people.PersonSpec(staff_id="E1001", name="Robin <i>Hood</i>",
                                                  buildings=["hs-1"]), actor="test", now=clock.now())
        secret = credentials.create_secret(s, get_keyring(app).vault, "hs-1", kind="keypad_code",
                                           label="Records room keypad", value=CODE, actor="test",
                                           now=clock.now())
        return {"secret_id": secret.id}


def test_person_of_another_building_is_not_found(app, clock, site, signed_in, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="hub.auth")
    own, _ = signed_in("principal", ["hs-1"])
    other, _ = signed_in("principal", ["ms-2"])
    auditor, _ = signed_in("auditor")
    page = own.get("/people/E1001")
    assert page.status_code == 200
    assert "Robin &lt;i&gt;Hood&lt;/i&gt;" in page.get_data(as_text=True)
    assert auditor.get("/people/E1001").status_code == 200
    refused = other.get("/people/E1001")
    assert refused.status_code == 404
    assert "Robin" not in refused.get_data(as_text=True)
    assert "reason=object_out_of_scope" in caplog.text
    # the same answer as for someone who does not exist at all
    assert other.get("/people/NOBODY").status_code == 404


def test_api_token_of_another_building_gets_nothing(app, clock, site) -> None:
    with get_database(app).session() as s:
        _t, other = auth_services.create_api_token(
            s, auth_services.console_actor("test"), name="ms", role="principal",
            buildings=["ms-2"], actions=None, days=30, max_days=366, now=clock.now())
        _t, own = auth_services.create_api_token(
            s, auth_services.console_actor("test"), name="hs", role="principal",
            buildings=["hs-1"], actions=None, days=30, max_days=366, now=clock.now())
    client = app.test_client()
    refused = client.get("/api/v1/people/E1001", headers={"Authorization": f"Bearer {other}"})
    assert refused.status_code == 404 and "Robin" not in refused.get_data(as_text=True)
    assert refused.get_json()["error"] == "not_found"
    ok = client.get("/api/v1/people/E1001", headers={"Authorization": f"Bearer {own}"})
    assert ok.status_code == 200


def test_secret_view_needs_scope_reauth_and_is_audited(app, clock, site, signed_in) -> None:
    url = f"/secrets/{site['secret_id']}/view"
    own, account = signed_in("principal", ["hs-1"])
    csrf = own.csrf("/auth/account")
    shown = own.post(url, data={"csrf_token": csrf, "reason": "fire drill"})
    assert shown.status_code == 200 and CODE in shown.get_data(as_text=True)
    with get_database(app).session() as s:
        row = s.scalar(select(AuditEntry).where(AuditEntry.action == "secret.view"))
        assert row.actor == account.username and row.building == "hs-1"
        assert CODE not in row.after_json and CODE not in row.before_json
    # six minutes later the same person must confirm password and second factor again
    clock.advance(minutes=4)
    own.get("/auth/account")
    clock.advance(minutes=2)
    stale = own.post(url, data={"csrf_token": csrf})
    assert stale.status_code == 403 and CODE not in stale.get_data(as_text=True)
    # the auditor never, another building's principal not even its existence
    auditor, _ = signed_in("auditor")
    csrf = auditor.csrf("/auth/account")
    denied = auditor.post(url, data={"csrf_token": csrf})
    assert denied.status_code == 403 and CODE not in denied.get_data(as_text=True)
    other, _ = signed_in("principal", ["ms-2"])
    csrf = other.csrf("/auth/account")
    assert other.post(url, data={"csrf_token": csrf}).status_code == 404
    # a GET (link prefetch, image tag) never reveals it
    assert own.get(url).status_code in (403, 405)
