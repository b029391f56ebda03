"""Real Chromium drives the kiosk: sign in end to end, the on-screen keyboard, the idle wipe.

The kiosk runs with the simulated camera (fixture images of a licence and a face) and escpos's
Dummy printer, talking to the hub side over a real Mosquitto.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.visitors.models import VisitRecord
from kiosk.web import create_app
from tests.conftest import need_service
from tests.kiosk.hubside import wait_for
from tests.support.mosquitto import free_port

pytestmark = [pytest.mark.browser, pytest.mark.broker]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]
SHOTS = Path(os.environ.get("KIOSK_SCREENSHOTS", "")) if os.environ.get("KIOSK_SCREENSHOTS") else None


@pytest.fixture
def served(kiosk_env) -> Iterator[tuple[str, object]]:
    """The kiosk app on a free loopback port."""
    from werkzeug.serving import make_server

    app = create_app(kiosk_env.kiosk)
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", kiosk_env
    server.shutdown()
    thread.join(5)


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


def _shot(page, name: str) -> None:
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"))


@pytest.mark.parametrize("size", [(800, 480), (1280, 800)], ids=["800x480", "1280x800"])
def test_sign_in_end_to_end(served, browser, size) -> None:
    base, env = served
    env.show("licence.png")  # the visitor holds up the back of the licence
    page = browser.new_page(viewport={"width": size[0], "height": size[1]}, has_touch=True)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(base + "/")
    page.get_by_test_id("lang-es").click()
    page.wait_for_url("**/?lang=es")
    _shot(page, f"welcome-{size[0]}")
    page.get_by_test_id("sign-in").click()
    page.get_by_test_id("category-visitor").click()
    page.wait_for_url("**/in/id")
    _shot(page, f"scan-{size[0]}")
    # The page polls the camera until the barcode reads.
    page.wait_for_url("**/in/photo", timeout=15_000)
    assert "¡Hola, Jordan!" in page.content()
    env.show("face.jpg")  # card away, face to the camera
    for _ in range(4):
        page.get_by_test_id("take-photo").click()
        page.wait_for_load_state()
        if page.url.endswith("/in/host"):
            break
    assert page.url.endswith("/in/host")
    _shot(page, f"host-{size[0]}")
    page.locator("label.pick-item", has_text="Dana Rivera").click()
    page.locator("label.pick-item", has_text="Main office").click()
    page.get_by_test_id("next").click()
    page.wait_for_url("**/in/confirm")
    assert page.get_by_test_id("confirm-name").inner_text() == "Jordan Sample"
    _shot(page, f"confirm-{size[0]}")
    page.get_by_test_id("confirm").click()
    result = page.get_by_test_id("result")
    assert result.get_attribute("data-kind") == "printed"
    assert "Su gafete se está imprimiendo" in result.inner_text()
    _shot(page, f"done-{size[0]}")
    assert len(env.printer.jobs) == 1
    with env.database.session() as s:
        assert wait_for(lambda: s.scalars(select(VisitRecord.status)).all() == ["on_site"])
    # Every target on the pages is finger-sized.
    assert not errors
    page.close()


def test_on_screen_keyboard_types_the_name(served, browser) -> None:
    base, env = served
    page = browser.new_page(viewport={"width": 800, "height": 480}, has_touch=True)
    page.goto(base + "/")
    page.get_by_test_id("sign-in").click()
    page.get_by_test_id("category-contractor").click()
    page.get_by_test_id("type-name").click()
    first = page.get_by_test_id("first")
    first.click()
    panel = page.locator("[data-osk-panel]")
    assert panel.is_visible()
    for key in ["J", "o", "s", "é"]:
        panel.locator("button.osk-key", has_text=key).first.dispatch_event("pointerdown")
    assert first.input_value() == "José"
    _shot(page, "keyboard-800")
    page.get_by_test_id("last").click()
    for key in ["N", "g"]:
        panel.locator("button.osk-key", has_text=key).first.dispatch_event("pointerdown")
    panel.locator("button.osk-key", has_text="✓").dispatch_event("pointerdown")
    box = page.get_by_test_id("next").bounding_box()
    assert box is not None and box["height"] >= 64
    page.get_by_test_id("next").click()
    page.wait_for_url("**/in/photo")
    assert "Hello, José!" in page.content()
    page.close()


def test_idle_returns_to_welcome_and_forgets(served, browser) -> None:
    base, env = served
    env.kiosk.idle_s = 2
    page = browser.new_page(viewport={"width": 800, "height": 480})
    page.goto(base + "/")
    page.get_by_test_id("sign-in").click()
    page.wait_for_url("**/in/category")
    page.wait_for_url("**/?m=expired", timeout=10_000)
    assert "We cleared the screen" in page.content()
    page.goto(base + "/in/category")
    page.wait_for_url("**/?m=expired")
    page.close()
