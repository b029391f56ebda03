"""Security keys: registration at invitation and from the account page, sign-in with the key,
and refusals (wrong origin, replayed assertion, someone else's key)."""

from __future__ import annotations

from sqlalchemy import select

from hub.auth import services
from hub.auth.models import Account, WebAuthnCredential
from hub.db import get_database
from tests.hub.auth.conftest import PASSWORD, login
from tests.hub.auth.softkey import SoftKey

ORIGIN = "https://hub.test"


def _json_post(client, url: str, csrf: str, body=None):
    return client.post(url, json=body if body is not None else {},
                       headers={"X-CSRFToken": csrf, "Accept": "application/json"})


def _invite_with_key(app, clock, key: SoftKey, username: str = "sam") -> None:
    with get_database(app).session() as s:
        _inv, token = services.create_invitation(
            s, services.console_actor("test"), username=username, display_name="Sam Key",
            role="principal", buildings=["hs-1"], now=clock.now(), ttl_s=3600)
    client = app.test_client()
    csrf = client.csrf(f"/auth/invitation/{token}")
    client.post(f"/auth/invitation/{token}", data={"csrf_token": csrf, "new_password": PASSWORD,
                                                   "confirm_password": PASSWORD})
    page = client.get(f"/auth/invitation/{token}/totp").get_data(as_text=True)
    assert "Register my security key" in page and "/auth/static/auth/webauthn.js" in page
    csrf = client.csrf(f"/auth/invitation/{token}/totp")
    options = _json_post(client, f"/auth/invitation/{token}/webauthn/begin", csrf).get_json()
    assert options["rp"]["id"] == "hub.test"
    done = _json_post(client, f"/auth/invitation/{token}/webauthn/finish", csrf,
                      {"credential": key.register(options, ORIGIN), "name": "Blue key"})
    assert done.status_code == 200, done.get_data(as_text=True)
    assert client.get(done.get_json()["redirect"]).status_code == 200  # recovery codes page
    assert client.get("/auth/account").status_code == 200


def _password_step(app, username: str):
    client = app.test_client()
    csrf = client.csrf()
    assert client.post("/auth/login", data={"csrf_token": csrf, "username": username,
                                            "password": PASSWORD}).status_code == 302
    page = client.get("/auth/second-factor").get_data(as_text=True)
    assert "Use my security key" in page
    return client, client.csrf("/auth/second-factor")


def test_invitation_and_sign_in_with_a_security_key(app, clock) -> None:
    key = SoftKey()
    _invite_with_key(app, clock, key)
    with get_database(app).session() as s:
        account = s.scalar(select(Account).where(Account.username == "sam"))
        assert account.totp_secret is None
        assert [c.name for c in account.webauthn_credentials] == ["Blue key"]
    client, csrf = _password_step(app, "sam")
    options = _json_post(client, "/auth/webauthn/login/begin", csrf).get_json()
    assert options["allowCredentials"][0]["id"]
    result = _json_post(client, "/auth/webauthn/login/finish", csrf,
                        key.authenticate(options, ORIGIN))
    assert result.status_code == 200, result.get_data(as_text=True)
    assert client.get("/auth/account").status_code == 200
    with get_database(app).session() as s:
        assert s.scalar(select(WebAuthnCredential.sign_count)) == 1


def test_wrong_origin_and_replayed_assertions_are_refused(app, clock) -> None:
    key = SoftKey()
    _invite_with_key(app, clock, key)
    client, csrf = _password_step(app, "sam")
    options = _json_post(client, "/auth/webauthn/login/begin", csrf).get_json()
    phished = _json_post(client, "/auth/webauthn/login/finish", csrf,
                         key.authenticate(options, "https://hub-login.evil.example"))
    assert phished.status_code == 401
    # a captured assertion replayed against a new challenge
    options = _json_post(client, "/auth/webauthn/login/begin", csrf).get_json()
    good = key.authenticate(options, ORIGIN)
    assert _json_post(client, "/auth/webauthn/login/finish", csrf, good).status_code == 200
    other, csrf2 = _password_step(app, "sam")
    _json_post(other, "/auth/webauthn/login/begin", csrf2)
    assert _json_post(other, "/auth/webauthn/login/finish", csrf2, good).status_code in (400, 401)
    assert other.get("/auth/account").status_code == 302
    # a finish without a begin has no challenge to match
    third, csrf3 = _password_step(app, "sam")
    assert _json_post(third, "/auth/webauthn/login/finish", csrf3, good).status_code == 400


def test_someone_elses_key_is_refused(app, clock) -> None:
    sams_key, robs_key = SoftKey(), SoftKey()
    _invite_with_key(app, clock, sams_key, "sam")
    _invite_with_key(app, clock, robs_key, "rob")
    client, csrf = _password_step(app, "sam")
    options = _json_post(client, "/auth/webauthn/login/begin", csrf).get_json()
    refused = _json_post(client, "/auth/webauthn/login/finish", csrf,
                         robs_key.authenticate(options, ORIGIN))
    assert refused.status_code == 401
    assert client.get("/auth/account").status_code == 302


def test_add_a_key_from_the_account_page(app, clock, make_account) -> None:
    account = make_account("front_desk", ["hs-1"])
    client = app.test_client()
    login(client, account, clock)
    csrf = client.csrf("/auth/account")
    key = SoftKey()
    options = _json_post(client, "/auth/webauthn/register/begin", csrf).get_json()
    done = _json_post(client, "/auth/webauthn/register/finish", csrf,
                      {"credential": key.register(options, ORIGIN), "name": "<b>spare</b>"})
    assert done.status_code == 200
    html = client.get("/auth/account").get_data(as_text=True)
    assert "&lt;b&gt;spare&lt;/b&gt;" in html
    # the same key cannot be registered twice
    options = _json_post(client, "/auth/webauthn/register/begin", csrf).get_json()
    again = _json_post(client, "/auth/webauthn/register/finish", csrf,
                       {"credential": key.register(options, ORIGIN)})
    assert again.status_code == 400
