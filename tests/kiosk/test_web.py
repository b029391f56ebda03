"""The touch web app through Flask's test client."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk import config as kconfig
from kiosk.cli import build
from kiosk.web import COOKIE, create_app


@pytest.fixture
def local_kiosk(tmp_path: Path, fixtures_dir: Path):
    """A kiosk with no hub (every sign-in is held) on the fixture camera folder."""
    kiosk = build(kconfig.simulated(tmp_path / "state", fixtures_dir / "camera"))
    yield kiosk
    kiosk.stop()


@pytest.fixture
def client(local_kiosk):
    """A test client of the kiosk app."""
    return create_app(local_kiosk).test_client()


def _start(client, lang="en", mode="in"):
    return client.post("/start", data={"lang": lang, "mode": mode})


def _through_id(client) -> None:
    _start(client)
    client.post("/in/category", data={"category": "visitor"})
    for _ in range(4):
        if "next" in client.post("/in/id/scan").json:
            return
    raise AssertionError("licence never scanned")


@pytest.mark.parametrize(("lang", "text"), [("en", "Sign in"), ("es", "Registrar entrada"), ("pt", "Registrar saída")])
def test_welcome_in_three_languages(client, lang: str, text: str) -> None:
    page = client.get(f"/?lang={lang}").text
    assert text in page and f'<html lang="{lang}">' in page


def test_csp_and_no_inline_script(client) -> None:
    response = client.get("/")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert not re.search(r"<script(?![^>]*\bsrc=)", response.text)
    assert not re.search(r"\son[a-z]+\s*=", response.text)  # no inline event handlers either


def test_steps_cannot_be_skipped(client) -> None:
    assert client.get("/in/category").headers["Location"].startswith("/?m=expired")
    _start(client)
    assert client.get("/in/photo").headers["Location"] == "/in/category"
    assert client.post("/in/confirm").headers["Location"] == "/in/category"


def test_scan_fills_name_and_goes_to_photo(client) -> None:
    _through_id(client)
    page = client.get("/in/photo").text
    assert "Hello, Jordan!" in page


def test_typed_name_is_cleaned_and_capped(client) -> None:
    _start(client)
    client.post("/in/category", data={"category": "contractor"})
    hostile = "Ana\x1b@\x1dV" + "x" * 500
    response = client.post("/in/id/type", data={"first": hostile, "last": "\u202eSouza 😀"})
    assert response.headers["Location"] == "/in/photo"
    page = client.get("/in/photo").text
    assert "\x1b" not in page and "x" * 65 not in page


def test_empty_typed_name_is_refused_kindly(client) -> None:
    _start(client)
    client.post("/in/category", data={"category": "visitor"})
    page = client.post("/in/id/type", data={"first": " ", "last": ""}).text
    assert "Please type your first and last name." in page


def test_bad_category_stays(client) -> None:
    _start(client)
    assert client.post("/in/category", data={"category": "student"}).status_code == 200


def test_whole_flow_without_hub_is_held(client, local_kiosk) -> None:
    _through_id(client)
    for _ in range(3):
        if client.post("/in/photo").status_code == 302:
            break
    assert client.post("/in/host", data={}).headers["Location"] == "/in/confirm"  # no directory yet
    page = client.get("/in/confirm").text
    assert "Jordan Sample" in page
    result = client.post("/in/confirm")
    assert 'data-kind="held"' in result.text and "Please see the front desk" in result.text
    assert local_kiosk.printers[0].jobs == []
    assert COOKIE in result.headers.get("Set-Cookie", "")  # cookie cleared
    assert client.get("/in/confirm").headers["Location"].startswith("/?m=expired")


def test_idle_forgets_everything(client, local_kiosk) -> None:
    _through_id(client)
    assert client.get("/in/photo").status_code == 200
    real = local_kiosk.clock
    local_kiosk.clock = lambda: real() + timedelta(seconds=local_kiosk.idle_s + 1)
    response = client.get("/in/photo")
    assert response.headers["Location"] == "/?m=expired"
    local_kiosk.clock = real
    assert "We cleared the screen" in client.get("/?m=expired").text


def test_camera_preview_needs_a_visitor(client) -> None:
    assert client.get("/camera.jpg").status_code == 302
    _start(client)
    response = client.get("/camera.jpg")
    assert response.status_code == 200 and response.data[:2] == b"\xff\xd8"


def test_sign_out_by_name_offline_unknown(client) -> None:
    _start(client, mode="out")
    page = client.post("/out/name", data={"first": "Nobody", "last": "Here"}).text
    assert "We could not find an open visit" in page


def test_status_has_no_visitor_data(client) -> None:
    data = client.get("/status").json
    assert data["hub_connected"] is False and "faults" in data


def test_too_large_post_is_refused(client) -> None:
    _start(client)
    assert client.post("/in/category", data={"category": "x" * 100_000}).status_code == 413


@pytest.mark.broker
def test_full_online_flow(kiosk_env) -> None:
    app = create_app(kiosk_env.kiosk)
    client = app.test_client()
    kiosk_env.show("licence.png", "face.jpg")
    _through_id(client)
    for _ in range(3):
        if client.post("/in/photo").status_code == 302:
            break
    page = client.get("/in/host").text
    assert "Dana Rivera" in page and "Main office" in page
    assert client.post("/in/host", data={"host": "s999"}).status_code == 200  # not in the directory
    assert client.post("/in/host", data={"host": "s100", "destination": "library"}).headers["Location"] == "/in/confirm"
    result = client.post("/in/confirm")
    assert 'data-kind="printed"' in result.text and "Jordan S." in result.text
    assert len(kiosk_env.printer.jobs) == 1


def test_start_over_is_not_called_idle(client) -> None:
    _start(client)
    assert client.get("/reset").headers["Location"] == "/"
    _start(client)
    assert client.get("/reset?idle=1").headers["Location"] == "/?m=expired"


@pytest.fixture
def staff_client(tmp_path, fixtures_dir):
    """A kiosk with staff PIN 4321 and no hub."""
    pin = tmp_path / "pin"
    pin.write_text("4321\n")
    cfg = kconfig.simulated(tmp_path / "state", fixtures_dir / "camera")
    cfg = cfg.model_copy(update={"kiosk": cfg.kiosk.model_copy(update={"staff_pin_file": str(pin)})})
    kiosk = build(cfg)
    yield create_app(kiosk).test_client(), kiosk
    kiosk.stop()


def test_staff_menu_needs_the_pin(staff_client) -> None:
    client, kiosk = staff_client
    assert client.get("/staff/menu").headers["Location"] == "/staff"
    assert "Wrong PIN." in client.post("/staff", data={"pin": "0000"}).text
    assert client.post("/staff", data={"pin": "4321"}).headers["Location"] == "/staff/menu"
    page = client.post("/staff/menu", data={"action": "roster"}).text
    assert "The roster is printing." in page and len(kiosk.printers[0].jobs) == 1
    page = client.post("/staff/menu", data={"action": "lockdown_on"}).text
    assert "The hub did not answer" in page
    client.post("/staff/leave")
    assert client.get("/staff/menu").headers["Location"] == "/staff"


def test_staff_pin_locks_after_five_wrong(staff_client) -> None:
    client, _ = staff_client
    for _ in range(4):
        assert "Wrong PIN." in client.post("/staff", data={"pin": "1111"}).text
    assert "Too many wrong PINs" in client.post("/staff", data={"pin": "1111"}).text
    assert "Too many wrong PINs" in client.post("/staff", data={"pin": "4321"}).text


def test_no_pin_configured(client) -> None:
    assert "not set up" in client.get("/staff").text
    assert "not set up" in client.post("/staff", data={"pin": "1234"}).text


def test_bad_pin_file_stops_the_kiosk(tmp_path, fixtures_dir) -> None:
    pin = tmp_path / "pin"
    pin.write_text("abc")
    cfg = kconfig.simulated(tmp_path / "state", fixtures_dir / "camera")
    cfg = cfg.model_copy(update={"kiosk": cfg.kiosk.model_copy(update={"staff_pin_file": str(pin)})})
    with pytest.raises(ValueError, match="4 to 12 digits"):
        build(cfg)


def test_sweeper_forgets_idle_drafts_without_a_request(client, local_kiosk) -> None:
    import time

    from kiosk.web import start_sweeper

    app = client.application
    _start(client)
    drafts = app.extensions["gatehouse.drafts"]
    assert len(drafts) == 1
    local_kiosk.idle_s = 0
    stop = start_sweeper(app, interval_s=0.05)
    try:
        deadline = time.monotonic() + 5
        while len(drafts) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(drafts) == 0
    finally:
        stop.set()


def test_result_page_has_no_start_over(client) -> None:
    _through_id(client)
    for _ in range(3):
        if client.post("/in/photo").status_code == 302:
            break
    client.post("/in/host", data={})
    result = client.post("/in/confirm").text
    assert 'data-testid="start-over"' not in result


def test_result_page_keeps_the_visitors_language(client) -> None:
    _start(client, lang="pt")
    client.post("/in/category", data={"category": "visitor"})
    client.post("/in/id/type", data={"first": "Rui", "last": "Costa"})
    for _ in range(3):
        if client.post("/in/photo").status_code == 302:
            break
    client.post("/in/host", data={})
    page = client.post("/in/confirm").text
    assert "Por favor, dirija-se à recepção para concluir seu registro." in page, page
