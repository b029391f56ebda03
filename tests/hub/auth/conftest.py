"""Fixtures for the accounts layer: an app with a hand-moved clock, accounts of every role, and
a test client that speaks HTTPS (the session cookie is ``__Host-`` and Secure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient

from hub.auth import services, totp
from hub.auth.clock import ManualClock
from hub.auth.config import COOKIE_NAME
from hub.db import get_database
from hub.keyring import get_keyring
from tests.hub.conftest import make_test_app

START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
PASSWORD = "violet cabinet mossy ladder"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


class HttpsClient(FlaskClient):
    """Flask's test client over https://hub.test, with the Referer a browser sends on a form post."""

    def open(self, *args, **kwargs):  # noqa: D102
        kwargs.setdefault("base_url", "https://hub.test")
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault("Referer", "https://hub.test/")
        kwargs["headers"] = headers
        return super().open(*args, **kwargs)

    def csrf(self, path: str = "/auth/login") -> str:
        """Fetch a page and return the CSRF token of its first form."""
        page = self.get(path)
        match = CSRF_FIELD.search(page.get_data(as_text=True))
        assert match, f"no CSRF token on {path} ({page.status_code})"
        return match.group(1)

    @property
    def session_cookie(self) -> str | None:
        """The current value of the session cookie, if any."""
        cookie = self.get_cookie(COOKIE_NAME, domain="hub.test")
        return cookie.value if cookie else None


@dataclass
class AccountInfo:
    """An account created through the invitation service, with its TOTP seed."""

    id: int
    username: str
    password: str
    secret: str
    role: str
    buildings: list[str]


@pytest.fixture
def clock() -> ManualClock:
    """The app's clock; tests move it by hand."""
    return ManualClock(START)


@pytest.fixture
def app(db_url, tmp_path, clock):
    """The hub app on each backend with the manual clock."""
    app = make_test_app(db_url, tmp_path, AUTH_CLOCK=clock)
    app.test_client_class = HttpsClient
    yield app
    get_database(app).dispose()


@pytest.fixture
def sqlite_app(tmp_path, clock):
    """The hub app on a SQLite file only (tests that open the database file themselves)."""
    app = make_test_app(f"sqlite:///{tmp_path}/hub.db", tmp_path, AUTH_CLOCK=clock)
    app.test_client_class = HttpsClient
    yield app
    get_database(app).dispose()


@pytest.fixture
def make_account(app, clock):
    """Factory: an active account of a role, made from an invitation (as production does)."""
    counter = iter(range(1, 1000))

    def make(role: str, buildings: list[str] | None = None, *, username: str | None = None,
             display_name: str | None = None, password: str = PASSWORD) -> AccountInfo:
        name = username or f"{role.replace('_', '')}{next(counter)}"
        secret = totp.new_secret()
        with get_database(app).session() as s:
            _inv, token = services.create_invitation(
                s, services.console_actor("test"), username=name,
                display_name=display_name or name.title(), role=role, buildings=buildings or [],
                now=clock.now(), ttl_s=3600)
            from hub.auth import passwords

            account = services.activate_invitation(
                s, token, password_hash=passwords.hash_password(password), totp_secret=secret,
                totp_step=0, now=clock.now(), vault=get_keyring(app).vault)
            account_id = account.id
        return AccountInfo(account_id, name, password, secret, role, list(buildings or []))

    return make


def login(client: HttpsClient, account: AccountInfo, clock: ManualClock, *, step_s: int = 30):
    """Sign in through the pages with password and a fresh TOTP code; returns the final response.

    The clock moves one TOTP step first so the code is never one already used.
    """
    clock.advance(seconds=step_s)
    token = client.csrf("/auth/login")
    first = client.post("/auth/login", data={"csrf_token": token, "username": account.username,
                                             "password": account.password})
    assert first.status_code == 302, first.get_data(as_text=True)
    token = client.csrf("/auth/second-factor")
    return client.post("/auth/second-factor", data={
        "csrf_token": token, "method": "totp", "code": totp.code_at(account.secret, clock.now())})


@pytest.fixture
def signed_in(app, clock, make_account):
    """Factory: a test client fully signed in as a new account of ``role``."""

    def make(role: str, buildings: list[str] | None = None, **kw):
        account = make_account(role, buildings, **kw)
        client = app.test_client()
        response = login(client, account, clock)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client, account

    return make


def mint_session(app, client: HttpsClient, account_id: int | None, now: datetime, *,
                 stage: str = "full", reauth_at: datetime | None = None) -> str:
    """Put a session row straight into the table and its cookie into ``client``; returns the
    CSRF form token for it. Used where signing in through the pages hundreds of times would
    only slow the test (the sign-in pages have tests of their own)."""
    import json
    import secrets

    from itsdangerous import URLSafeTimedSerializer

    from hub.auth.models import ServerSession
    from hub.auth.sessions import digest

    raw_csrf = secrets.token_hex(20)
    token = secrets.token_urlsafe(32)
    with get_database(app).session() as s:
        s.add(ServerSession(
            id_hash=digest(token), account_id=account_id, stage=stage, created_at=now,
            last_seen_at=now, authenticated_at=now if stage == "full" else None,
            reauth_at=(reauth_at or now) if stage == "full" else None,
            data_json=json.dumps({"csrf_token": raw_csrf, "pending": {"purpose": "login"}})))
    client.set_cookie(COOKIE_NAME, token, domain="hub.test", secure=True, httponly=True)
    return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw_csrf)


@pytest.fixture(autouse=True)
def _restore_permission_table():
    """Tests that declare test-only endpoints leave the shared table as they found it."""
    from hub.auth import permissions

    saved = dict(permissions.ENDPOINTS)
    yield
    permissions.ENDPOINTS.clear()
    permissions.ENDPOINTS.update(saved)
