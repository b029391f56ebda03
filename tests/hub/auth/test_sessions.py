"""Server-side sessions: 5-minute idle lock on a test clock, 12-hour limit, cookie attributes,
id rotation at sign-in, logout everywhere, the countdown markup."""

from __future__ import annotations

from sqlalchemy import func, select

from hub.auth.config import COOKIE_NAME
from hub.auth.models import ServerSession
from hub.auth.sessions import digest
from hub.db import get_database
from tests.hub.auth.conftest import login


def _rows(app, account_id=None) -> int:
    with get_database(app).session() as s:
        query = select(func.count()).select_from(ServerSession)
        if account_id is not None:
            query = query.where(ServerSession.account_id == account_id)
        return s.scalar(query)


def test_idle_session_ends_at_exactly_five_minutes(app, clock, signed_in) -> None:
    client, account = signed_in("principal", ["hs-1"])
    clock.advance(seconds=299)
    assert client.get("/auth/account").status_code == 200  # 4:59 idle: still signed in
    clock.advance(seconds=299)
    assert client.get("/auth/account").status_code == 200  # activity reset the idle clock
    clock.advance(seconds=300)
    response = client.get("/auth/account")
    assert response.status_code == 302
    assert "/auth/login" in response.location
    assert _rows(app, account.id) == 0  # the row is gone, not just ignored


def test_idle_expiry_tells_the_user_why(app, clock, signed_in) -> None:
    client, _account = signed_in("auditor")
    clock.advance(minutes=5)
    page = client.get("/auth/login")
    assert "signed out after 5 minutes without activity" in page.get_data(as_text=True)


def test_session_ends_after_twelve_hours_even_when_active(app, clock, signed_in) -> None:
    client, _account = signed_in("auditor")
    for _ in range(11 * 15 + 14):  # every 4 minutes for 11 h 56 min
        clock.advance(minutes=4)
        assert client.get("/auth/account").status_code == 200
    clock.advance(minutes=4)
    assert client.get("/auth/account").status_code == 302


def test_status_check_does_not_count_as_activity(app, clock, signed_in) -> None:
    client, _account = signed_in("front_desk", ["hs-1"])
    clock.advance(seconds=200)
    status = client.get("/auth/session/status").get_json()
    assert status == {"signed_in": True, "remaining_s": 100}
    clock.advance(seconds=100)
    assert client.get("/auth/session/status").get_json()["signed_in"] is False
    assert client.get("/auth/account").status_code == 302


def test_stay_signed_in_button_extends(app, clock, signed_in) -> None:
    client, _account = signed_in("front_desk", ["hs-1"])
    clock.advance(seconds=250)
    csrf = client.csrf("/auth/account")  # this page view is activity too
    clock.advance(seconds=250)
    assert client.post("/auth/session/extend", data={"csrf_token": csrf,
                                                     "next": "/auth/account"}).status_code == 302
    clock.advance(seconds=250)
    assert client.get("/auth/account").status_code == 200


def test_countdown_markup_and_script(app, clock, signed_in) -> None:
    client, _account = signed_in("principal", ["hs-1"])
    html = client.get("/auth/account").get_data(as_text=True)
    assert 'data-idle-s="300"' in html
    assert 'data-warn-after-s="240"' in html
    assert 'data-remaining-s="300"' in html
    assert '/auth/static/auth/session.js' in html
    assert "<script>" not in html  # external scripts only (CSP)
    with client.get("/auth/static/auth/session.js") as js:
        assert js.status_code == 200 and b"gh-session-warning" in js.data


def test_cookie_attributes_and_rotation_at_login(app, clock, make_account) -> None:
    account = make_account("principal", ["hs-1"])
    client = app.test_client()
    first = client.get("/auth/login")
    header = first.headers["Set-Cookie"]
    assert header.startswith(f"{COOKIE_NAME}=")
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in header
    assert "Domain" not in header and "Expires" not in header
    anonymous = client.session_cookie
    response = login(client, account, clock)
    assert response.status_code == 302
    signed = client.session_cookie
    assert signed and signed != anonymous
    with get_database(app).session() as s:
        assert s.get(ServerSession, digest(anonymous)) is None  # the old id no longer exists
        row = s.get(ServerSession, digest(signed))
        assert row.stage == "full" and row.account_id == account.id
        # only the digest is stored, never the cookie value
        assert s.get(ServerSession, signed) is None


def test_forged_cookie_is_ignored(app, clock) -> None:
    client = app.test_client()
    client.set_cookie(COOKIE_NAME, "forged-value", domain="hub.test", secure=True)
    assert client.get("/auth/account").status_code == 302


def test_logout_everywhere_ends_other_browsers(app, clock, make_account) -> None:
    account = make_account("privacy_team")
    laptop = app.test_client()
    desk = app.test_client()
    assert login(laptop, account, clock).status_code == 302
    assert login(desk, account, clock).status_code == 302
    assert _rows(app, account.id) == 2
    csrf = laptop.csrf("/auth/account")
    assert laptop.post("/auth/logout-everywhere", data={"csrf_token": csrf}).status_code == 302
    assert _rows(app, account.id) == 0
    assert desk.get("/auth/account").status_code == 302
    assert laptop.get("/auth/account").status_code == 302


def test_logout_ends_this_session(app, clock, signed_in) -> None:
    client, account = signed_in("auditor")
    csrf = client.csrf("/auth/account")
    response = client.post("/auth/logout", data={"csrf_token": csrf})
    assert response.status_code == 302
    assert _rows(app, account.id) == 0
    assert client.get("/auth/account").status_code == 302


def test_disabled_account_loses_its_session_at_once(app, clock, signed_in) -> None:
    admin, _ = signed_in("privacy_team")
    client, account = signed_in("front_desk", ["hs-1"])
    csrf = admin.csrf("/auth/accounts")
    assert admin.post(f"/auth/accounts/{account.id}/active",
                      data={"csrf_token": csrf, "active": "0"}).status_code == 302
    assert client.get("/auth/account").status_code == 302
    # and cannot sign in again
    again = app.test_client()
    csrf = again.csrf()
    refused = again.post("/auth/login", data={"csrf_token": csrf, "username": account.username,
                                              "password": account.password})
    assert refused.status_code == 401


def test_partial_sign_in_expires(app, clock, make_account) -> None:
    account = make_account("auditor")
    client = app.test_client()
    csrf = client.csrf()
    client.post("/auth/login", data={"csrf_token": csrf, "username": account.username,
                                     "password": account.password})
    clock.advance(minutes=5)
    assert client.get("/auth/second-factor").status_code == 302


def test_password_rotation_forces_a_change(app, clock, signed_in) -> None:
    client, account = signed_in("principal", ["hs-1"])
    clock.advance(days=365)
    client2 = app.test_client()
    assert login(client2, account, clock).status_code == 302
    forced = client2.get("/auth/account")
    assert forced.status_code == 302 and "/auth/password" in forced.location
    csrf = client2.csrf("/auth/password?reason=rotation")
    new = "amber trellis quiet harbor"
    changed = client2.post("/auth/password", data={
        "csrf_token": csrf, "current_password": account.password, "new_password": new,
        "confirm_password": new})
    assert changed.status_code == 302
    assert client2.get("/auth/account").status_code == 200


def test_changing_an_account_scope_applies_at_once(app, clock, signed_in) -> None:
    admin, admin_account = signed_in("privacy_team")
    client, account = signed_in("principal", ["hs-1"])
    csrf = admin.csrf("/auth/accounts")
    moved = admin.post(f"/auth/accounts/{account.id}/scope",
                       data={"csrf_token": csrf, "role": "front_desk", "buildings": "ms-2"})
    assert moved.status_code == 302
    assert client.get("/auth/account").status_code == 302  # signed out, to start clean
    with get_database(app).session() as s:
        from hub.auth.models import Account

        changed = s.get(Account, account.id)
        assert changed.role == "front_desk" and changed.building_ids == {"ms-2"}
    # bad scopes, oneself, and the last privacy-team account are refused
    for form, status in (({"role": "front_desk", "buildings": "hs-1 ms-2"}, 400),
                         ({"role": "auditor", "buildings": "hs-1"}, 400),
                         ({"role": "wizard", "buildings": ""}, 400)):
        assert admin.post(f"/auth/accounts/{account.id}/scope",
                          data={"csrf_token": csrf, **form}).status_code == status
    assert admin.post(f"/auth/accounts/{admin_account.id}/scope",
                      data={"csrf_token": csrf, "role": "auditor"}).status_code == 400
    assert admin.post(f"/auth/accounts/{admin_account.id}/active",
                      data={"csrf_token": csrf, "active": "0"}).status_code == 400
    assert admin.post("/auth/accounts/999999/scope",
                      data={"csrf_token": csrf, "role": "auditor"}).status_code == 404


def test_the_last_privacy_team_account_cannot_be_demoted(app, clock) -> None:
    from hub.auth import services
    from hub.auth.models import Account

    with get_database(app).session() as s:
        from hub.auth import passwords
        from hub.keyring import get_keyring

        ids = []
        for name in ("first-pt", "second-pt"):
            _inv, token = services.create_invitation(
                s, services.console_actor("t"), username=name, display_name=name,
                role="privacy_team", buildings=[], now=clock.now(), ttl_s=600)
            ids.append(services.activate_invitation(
                s, token, password_hash=passwords.hash_password("violet cabinet mossy ladder"),
                totp_secret="JBSWY3DPEHPK3PXP", now=clock.now(), vault=get_keyring(app).vault).id)
        console = services.console_actor("t")
        services.change_scope(s, console, ids[0], role="auditor", buildings=[], now=clock.now())
        import pytest

        with pytest.raises(services.AccountError) as exc:
            services.change_scope(s, console, ids[1], role="auditor", buildings=[], now=clock.now())
        assert exc.value.reason == "last_privacy_team"
        with pytest.raises(services.AccountError):
            services.set_active(s, console, ids[1], False, clock.now())
        assert s.get(Account, ids[1]).role == "privacy_team"
