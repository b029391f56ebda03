"""Real Chromium: sign in with password and TOTP, watch the idle countdown warn and sign the
page out, with the hub's Content-Security-Policy in force (no inline script anywhere)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.auth import totp
from hub.auth.clock import SystemClock
from hub.db import get_database
from tests.conftest import need_service
from tests.hub.auth.conftest import HttpsClient
from tests.hub.conftest import make_test_app
from tests.support.mosquitto import free_port

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
IDLE_S, WARN_S = 6, 3


@pytest.fixture
def served(tmp_path) -> Iterator[tuple[str, object]]:
    """The hub on a loopback port with a 6-second idle limit and a warning at 3 seconds."""
    from werkzeug.serving import make_server

    app = make_test_app(f"sqlite:///{tmp_path}/hub.db", tmp_path, AUTH_CLOCK=SystemClock(),
                        AUTH_IDLE_TIMEOUT_S=IDLE_S, AUTH_IDLE_WARNING_S=WARN_S)
    app.test_client_class = HttpsClient
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", app
    server.shutdown()
    thread.join(5)
    get_database(app).dispose()


@pytest.fixture
def browser():
    """Debian's Chromium through Playwright."""
    if not Path(CHROMIUM).exists():
        need_service("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


def test_countdown_warns_then_signs_the_page_out(served, browser, make_account_for) -> None:
    base, app = served
    account = make_account_for(app)
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(base + "/auth/login")
    page.fill("input[name=username]", account.username)
    page.fill("input[name=password]", account.password)
    page.click("button[type=submit]")
    page.wait_for_url("**/auth/second-factor")
    page.fill("input[name=code]", totp.code_at(account.secret, SystemClock().now()))
    page.click("form:has(input[value=totp]) button[type=submit]")
    page.wait_for_load_state()
    page.goto(base + "/auth/account")
    assert page.locator("#gh-session-left").is_visible()
    assert page.locator("#gh-session-warning").is_hidden()
    page.wait_for_selector("#gh-session-warning", state="visible", timeout=(WARN_S + 2) * 1000)
    page.wait_for_url("**/auth/login?reason=idle", timeout=(IDLE_S + 5) * 1000)
    assert "without activity" in page.content()
    # the server ended the session on its own: the account page asks for a sign-in again
    page.goto(base + "/auth/account")
    assert "/auth/login" in page.url
    assert problems == [], failed  # no CSP violation, no script error


@pytest.fixture
def make_account_for(clock):
    """Make an account in a given app (the served app has its own database)."""
    from hub.auth import passwords, services
    from hub.keyring import get_keyring
    from tests.hub.auth.conftest import PASSWORD, AccountInfo

    def make(app) -> AccountInfo:
        secret = totp.new_secret()
        now = SystemClock().now()
        with get_database(app).session() as s:
            _inv, token = services.create_invitation(
                s, services.console_actor("test"), username="browser1", display_name="B",
                role="auditor", buildings=[], now=now, ttl_s=3600)
            account = services.activate_invitation(
                s, token, password_hash=passwords.hash_password(PASSWORD), totp_secret=secret,
                now=now, vault=get_keyring(app).vault)
            return AccountInfo(account.id, "browser1", PASSWORD, secret, "auditor", [])

    return make


@pytest.fixture
def served_localhost(tmp_path) -> Iterator[tuple[str, object]]:
    """The hub on http://localhost (a security key's relying party cannot be an IP address)."""
    from werkzeug.serving import make_server

    app = make_test_app(f"sqlite:///{tmp_path}/hub.db", tmp_path, AUTH_CLOCK=SystemClock())
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{port}", app
    server.shutdown()
    thread.join(5)
    get_database(app).dispose()


def test_security_key_enrolment_and_sign_in_in_the_browser(served_localhost, browser) -> None:
    """webauthn.js against Chromium's virtual authenticator: invitation with a key, then sign-in."""
    from hub.auth import services
    from tests.hub.auth.conftest import PASSWORD

    base, app = served_localhost
    with get_database(app).session() as s:
        _inv, token = services.create_invitation(
            s, services.console_actor("test"), username="keyholder", display_name="Key Holder",
            role="principal", buildings=["hs-1"], now=SystemClock().now(), ttl_s=3600)
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "usb", "hasResidentKey": False,
        "hasUserVerification": False, "automaticPresenceSimulation": True}})
    page.goto(f"{base}/auth/invitation/{token}")
    page.fill("input[name=new_password]", PASSWORD)
    page.fill("input[name=confirm_password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/auth/invitation/{token}/totp")
    page.fill(".gh-webauthn-name", "Desk key")
    page.click("#gh-webauthn-register .gh-webauthn-start")
    page.wait_for_url("**/auth/recovery-codes/new")
    assert page.locator(".gh-codes li").count() == 10
    page.click("header button[type=submit]")  # sign out
    page.wait_for_url("**/auth/login**")
    page.fill("input[name=username]", "keyholder")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/auth/second-factor")
    page.click("#gh-webauthn-login .gh-webauthn-start")
    page.wait_for_url(lambda url: "/auth/" not in url)
    page.goto(base + "/auth/account")
    assert "Desk key" in page.content()
    assert problems == []


@pytest.fixture
def served_tls(tmp_path, pki) -> Iterator[tuple[str, object]]:
    """The hub over HTTPS on https://localhost (Flask-WTF then also checks the Referer)."""
    import ssl

    from werkzeug.serving import make_server

    app = make_test_app(f"sqlite:///{tmp_path}/hub.db", tmp_path, AUTH_CLOCK=SystemClock())
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server.cert, pki.server.key)
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://localhost:{port}", app
    server.shutdown()
    thread.join(5)
    get_database(app).dispose()


def test_sign_in_over_https_with_real_browser_headers(served_tls, browser, make_account_for) -> None:
    """Over TLS: the __Host- cookie is kept, forms pass the strict Referer check, HSTS is sent."""
    base, app = served_tls
    account = make_account_for(app)
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    hsts: list[str] = []
    page.on("response", lambda r: hsts.append(r.headers.get("strict-transport-security", "")))
    page.goto(base + "/auth/login")
    page.fill("input[name=username]", account.username)
    page.fill("input[name=password]", account.password)
    page.click("button[type=submit]")
    page.wait_for_url("**/auth/second-factor")
    page.fill("input[name=code]", totp.code_at(account.secret, SystemClock().now()))
    page.click("form:has(input[value=totp]) button[type=submit]")
    page.wait_for_load_state()
    page.goto(base + "/auth/account")
    assert page.url.endswith("/auth/account")
    cookies = {c["name"]: c for c in context.cookies()}
    session = cookies["__Host-gh_session"]
    assert session["secure"] and session["httpOnly"] and session["sameSite"] == "Lax"
    assert all(h.startswith("max-age=31536000") for h in hsts if h is not None) and hsts
    context.close()
