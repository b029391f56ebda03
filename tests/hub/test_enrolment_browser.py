"""Real Chromium on the enrol-by-tap page: enrolment.js shows the tapped card, the confirm form
appears, the card is enrolled; and a wait that times out says so. The CSP is in force."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from link import messages as m
from hub.auth import passwords, totp
from hub.auth import services as auth_services
from hub.auth.clock import SystemClock
from hub.db import get_database
from hub.keyring import get_keyring
from hub.models import Keycard
from hub.services import events, people
from tests.hub.auth.conftest import PASSWORD
from tests.hub.auth.test_browser import browser  # noqa: F401  (the Chromium fixture)
from tests.hub.conftest import make_test_app
from tests.hub.factories import seed
from tests.support.mosquitto import free_port

pytestmark = pytest.mark.browser

CARD = "5a" * 32
WAIT_S = 4


@pytest.fixture
def served(tmp_path) -> Iterator[tuple[str, object, str]]:
    """The hub on a loopback port (a 4-second tap wait), Lincoln seeded, a principal account."""
    from werkzeug.serving import make_server

    app = make_test_app(f"sqlite:///{tmp_path}/hub.db", tmp_path, AUTH_CLOCK=SystemClock(),
                        TAP_ENROL_WAIT_S=WAIT_S)
    now = datetime.now(UTC)
    secret = totp.new_secret()
    with get_database(app).session() as s:
        seed(s, get_keyring(app), now)
        people.create_person(s, people.PersonSpec(staff_id="N1", name="New Teacher",
                                                  buildings=["lincoln"]), actor="t", now=now)
        _inv, token = auth_services.create_invitation(
            s, auth_services.console_actor("test"), username="pat", display_name="Pat",
            role="principal", buildings=["lincoln"], now=now, ttl_s=3600)
        auth_services.activate_invitation(
            s, token, password_hash=passwords.hash_password(PASSWORD), totp_secret=secret,
            now=now, vault=get_keyring(app).vault)
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", app, secret
    server.shutdown()
    thread.join(5)
    get_database(app).dispose()


def _sign_in(page, base: str, secret: str) -> None:
    page.goto(base + "/auth/login")
    page.fill("input[name=username]", "pat")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/auth/second-factor")
    page.fill("input[name=code]", totp.code_at(secret, SystemClock().now()))
    page.click("form:has(input[value=totp]) button[type=submit]")
    page.wait_for_load_state()


def _tap(app, cred: str) -> None:
    now = datetime.now(UTC)
    item = events.IncomingEvent("lincoln-ctl-1", 1, "access.denied", now, m.AccessDenied(
        door="lincoln-door-1", reason="unknown_card", cred=cred))
    with get_database(app).session() as s:
        events.store(s, [item], events.building_map(s), now)


def _watch(page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return problems


def test_tap_shows_the_card_and_confirm_enrols_it(served, browser) -> None:  # noqa: F811
    base, app, secret = served
    page = browser.new_page()
    problems = _watch(page)
    _sign_in(page, base, secret)
    page.goto(base + "/people/N1")
    page.select_option("select[name=device]", "lincoln-ctl-1")
    page.click("#enrol-tap-start")
    page.wait_for_url("**/enrolments/*")
    assert page.locator("#tap-left").is_visible()
    assert page.locator("#tap-confirm").is_hidden()
    _tap(app, CARD)
    page.wait_for_selector("#tap-confirm", state="visible", timeout=5000)
    assert page.locator("#tap-fingerprint").inner_text() == CARD[:8]
    assert "confirm to enrol it for New Teacher" in page.locator("#tap-message").inner_text()
    assert page.locator("#tap-left").is_hidden()
    page.fill("input[name=approver]", "Principal Pat")
    page.click("#tap-confirm-button")
    page.wait_for_load_state()
    assert "enrolled as keycard" in page.locator("#tap-message").inner_text()
    with get_database(app).session() as s:
        card = s.scalars(select(Keycard).where(Keycard.cred_hash == CARD)).one()
        assert card.person.staff_id == "N1"
    assert problems == []  # no CSP violation, no script error


def test_the_page_says_when_no_card_came(served, browser) -> None:  # noqa: F811
    base, app, secret = served
    page = browser.new_page()
    problems = _watch(page)
    _sign_in(page, base, secret)
    page.goto(base + "/people/N1")
    page.click("#enrol-tap-start")
    page.wait_for_url("**/enrolments/*")
    page.wait_for_selector("#tap-message.gh-tap-expired", timeout=(WAIT_S + 4) * 1000)
    assert f"within {WAIT_S} s" in page.locator("#tap-message").inner_text()
    assert page.locator("#tap-confirm").is_hidden() and page.locator("#tap-again").is_visible()
    assert problems == []
