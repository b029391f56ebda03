"""Invitations, the mandatory second factor, TOTP replay refusal, recovery codes, re-authentication."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from sqlalchemy import select

from hub.auth import seeds, services, totp
from hub.auth.models import Account, Invitation
from hub.auth.permissions import ENDPOINTS, PARTIAL, PUBLIC
from hub.auth.sessions import digest
from hub.db import get_database
from hub.keyring import get_keyring
from tests.hub.auth.conftest import PASSWORD, login

CODE = re.compile(r"<code>([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})</code>")
SECRET = re.compile(r'class="gh-secret">([A-Z2-7]+)<')


def _invite(app, clock, *, role="front_desk", buildings=("hs-1",), ttl_s=3600, name="pat"):
    with get_database(app).session() as s:
        _inv, token = services.create_invitation(
            s, services.console_actor("test"), username=name, display_name="Pat Lee", role=role,
            buildings=list(buildings), now=clock.now(), ttl_s=ttl_s)
    return token


def test_invitation_creates_account_with_second_factor_and_shows_recovery_codes(app, clock) -> None:
    token = _invite(app, clock)
    client = app.test_client()
    page = client.get(f"/auth/invitation/{token}")
    assert page.status_code == 200 and "Pat Lee" in page.get_data(as_text=True)
    csrf = client.csrf(f"/auth/invitation/{token}")
    weak = client.post(f"/auth/invitation/{token}", data={
        "csrf_token": csrf, "new_password": "password1234", "confirm_password": "password1234"})
    assert weak.status_code == 400
    assert "common or breached" in weak.get_data(as_text=True)
    step1 = client.post(f"/auth/invitation/{token}", data={
        "csrf_token": csrf, "new_password": PASSWORD, "confirm_password": PASSWORD})
    assert step1.status_code == 302 and step1.location.endswith(f"/auth/invitation/{token}/totp")
    # no account yet: it exists only once the second factor is confirmed
    with get_database(app).session() as s:
        assert s.scalar(select(Account).where(Account.username == "pat")) is None
    setup = client.get(f"/auth/invitation/{token}/totp")
    html = setup.get_data(as_text=True)
    assert 'src="data:image/svg+xml' in html and "<script>" not in html
    secret = SECRET.search(html).group(1)
    csrf = client.csrf(f"/auth/invitation/{token}/totp")
    wrong = client.post(f"/auth/invitation/{token}/totp", data={"csrf_token": csrf, "code": "000000"})
    assert wrong.status_code == 400
    done = client.post(f"/auth/invitation/{token}/totp",
                       data={"csrf_token": csrf, "code": totp.code_at(secret, clock.now())})
    assert done.status_code == 302
    codes_page = client.get(done.location)
    codes = CODE.findall(codes_page.get_data(as_text=True))
    assert len(codes) == 10
    assert client.get("/auth/account").status_code == 200  # signed in
    with get_database(app).session() as s:
        account = s.scalar(select(Account).where(Account.username == "pat"))
        assert secret not in account.totp_secret  # sealed with the vault key
        assert seeds.unseal(get_keyring(app).vault, "pat", account.totp_secret) == secret
        assert account.role == "front_desk"
        assert account.building_ids == {"hs-1"}
        inv = s.scalar(select(Invitation).where(Invitation.token_hash == digest(token)))
        assert inv.used_at is not None
    # single use
    again = app.test_client().get(f"/auth/invitation/{token}")
    assert again.status_code == 410


def test_expired_and_unknown_invitations_are_refused(app, clock, caplog) -> None:
    caplog.set_level(logging.WARNING)
    token = _invite(app, clock, ttl_s=600)
    clock.advance(seconds=600)
    client = app.test_client()
    assert client.get(f"/auth/invitation/{token}").status_code == 410
    assert client.get("/auth/invitation/not-a-real-token").status_code == 404
    assert "invitation_expired" in caplog.text and "invitation_unknown" in caplog.text


def test_no_route_is_reachable_after_the_password_alone(app, clock, make_account, caplog) -> None:
    """MFA enforcement: a session that passed the password only reaches the second-factor pages."""
    caplog.set_level(logging.INFO, logger="hub.auth")
    account = make_account("privacy_team")
    client = app.test_client()
    csrf = client.csrf()
    first = client.post("/auth/login", data={"csrf_token": csrf, "username": account.username,
                                             "password": account.password})
    assert first.status_code == 302 and first.location.endswith("/auth/second-factor")
    csrf = client.csrf("/auth/second-factor")
    reached = []
    for rule in app.url_map.iter_rules():
        declared = ENDPOINTS.get(rule.endpoint)
        if declared is not None and any(a in (PUBLIC, PARTIAL) for a in declared.actions.values()):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            values = {arg: 1 if "id" in arg else "hs-1" for arg in rule.arguments}
            url = rule.build(values, append_unknown=False)[1]
            caplog.clear()
            response = client.open(url, method=method, data={"csrf_token": csrf},
                                    headers={"X-CSRFToken": csrf})
            if "by=guard" not in caplog.text:
                reached.append(f"{method} {url} -> {response.status_code}")
            assert response.status_code in (302, 401, 403)
    assert reached == []


def test_totp_code_is_refused_when_replayed(app, clock, make_account) -> None:
    account = make_account("principal", ["hs-1"])
    clock.advance(seconds=30)
    code = totp.code_at(account.secret, clock.now())

    def attempt(client):
        csrf = client.csrf()
        client.post("/auth/login", data={"csrf_token": csrf, "username": account.username,
                                         "password": account.password})
        csrf = client.csrf("/auth/second-factor")
        return client.post("/auth/second-factor",
                           data={"csrf_token": csrf, "method": "totp", "code": code})

    first = app.test_client()
    assert attempt(first).status_code == 302
    replay = app.test_client()
    refused = attempt(replay)
    assert refused.status_code == 401
    assert "A code works only once" in refused.get_data(as_text=True)
    assert replay.get("/auth/account").status_code == 302  # still not signed in
    # an older code (previous step) is refused too, the next step's code is accepted
    older = totp.code_at(account.secret, clock.now() - timedelta(seconds=30))
    csrf = replay.csrf("/auth/second-factor")
    assert replay.post("/auth/second-factor", data={"csrf_token": csrf, "method": "totp",
                                                    "code": older}).status_code == 401
    clock.advance(seconds=30)
    csrf = replay.csrf("/auth/second-factor")
    ok = replay.post("/auth/second-factor", data={
        "csrf_token": csrf, "method": "totp", "code": totp.code_at(account.secret, clock.now())})
    assert ok.status_code == 302


def test_totp_window_is_plus_minus_one_step(app, clock, make_account) -> None:
    secret = totp.new_secret()
    now = clock.now()
    assert totp.match_step(secret, totp.code_at(secret, now - timedelta(seconds=30)), now, 0)
    assert totp.match_step(secret, totp.code_at(secret, now + timedelta(seconds=30)), now, 0)
    assert totp.match_step(secret, totp.code_at(secret, now - timedelta(seconds=60)), now, 0) is None
    assert totp.match_step(secret, totp.code_at(secret, now + timedelta(seconds=60)), now, 0) is None
    assert totp.match_step(secret, "12345", now, 0) is None
    assert totp.match_step(secret, "abcdef", now, 0) is None


def test_recovery_code_signs_in_once(app, clock, make_account) -> None:
    account = make_account("auditor")
    with get_database(app).session() as s:
        codes = services.new_recovery_codes(s, s.get(Account, account.id), clock.now(), 3)

    def attempt(code):
        client = app.test_client()
        csrf = client.csrf()
        client.post("/auth/login", data={"csrf_token": csrf, "username": account.username,
                                         "password": account.password})
        csrf = client.csrf("/auth/second-factor")
        return client.post("/auth/second-factor",
                           data={"csrf_token": csrf, "method": "recovery", "code": code})

    assert attempt(codes[0].lower()).status_code == 302  # case and dashes do not matter
    assert attempt(codes[0]).status_code == 401
    assert attempt("AAAA-BBBB-CCCC-DDDD").status_code == 401
    with get_database(app).session() as s:
        assert services.remaining_recovery_codes(s, s.get(Account, account.id)) == 2


def test_sensitive_action_needs_fresh_reauthentication(app, clock, signed_in) -> None:
    client, account = signed_in("privacy_team")
    assert client.get("/auth/accounts/invite").status_code == 200  # fresh after sign-in
    clock.advance(minutes=4)
    client.get("/auth/account")
    clock.advance(minutes=2)  # 6 minutes since the second factor, session kept alive
    stale = client.get("/auth/accounts/invite")
    assert stale.status_code == 302 and "/auth/reauth" in stale.location
    csrf = client.csrf("/auth/account")
    post = client.post("/auth/accounts/invite", data={"csrf_token": csrf, "username": "x1y",
                                                      "display_name": "X", "role": "auditor"})
    assert post.status_code == 403
    # password, then second factor, then the action works again
    csrf = client.csrf("/auth/reauth?next=/auth/accounts/invite")
    step = client.post("/auth/reauth", data={"csrf_token": csrf, "password": account.password,
                                             "next": "/auth/accounts/invite"})
    assert step.status_code == 302 and step.location.endswith("/auth/second-factor")
    clock.advance(seconds=30)
    csrf = client.csrf("/auth/second-factor")
    done = client.post("/auth/second-factor", data={
        "csrf_token": csrf, "method": "totp", "code": totp.code_at(account.secret, clock.now())})
    assert done.status_code == 302 and done.location.endswith("/auth/accounts/invite")
    assert client.get("/auth/accounts/invite").status_code == 200


def test_require_recent_auth_decorator(app, clock, signed_in) -> None:
    from hub.auth import require_recent_auth
    from hub.auth.permissions import declare

    @app.route("/test-only/sensitive")
    @require_recent_auth
    def sensitive():
        return "ok"

    declare("sensitive", "building.read")
    client, _account = signed_in("front_desk", ["hs-1"])
    assert client.get("/test-only/sensitive").status_code == 200
    clock.advance(minutes=3)
    client.get("/auth/account")
    clock.advance(minutes=3)
    response = client.get("/test-only/sensitive")
    assert response.status_code == 302 and "/auth/reauth" in response.location


def test_login_page_flow_with_login_helper(app, clock, make_account) -> None:
    account = make_account("front_desk", ["hs-1"])
    client = app.test_client()
    before = client.session_cookie
    assert login(client, account, clock).status_code == 302
    assert client.session_cookie and client.session_cookie != before
