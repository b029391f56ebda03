"""The door story on the running demo stack, driven the way a person and a script would.

`python -m hub.demo run` starts the whole system (Mosquitto, hub, bridge, four simulated
controllers) on free ports; a principal signs in with password + TOTP in real Chromium,
terminates a staff member who holds a records-room card, and watches every door of the
building turn `confirmed`; that card is then refused at the records room (`revoked`), while
another staff member, inside their schedule, is let in.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import need_service
from tests.support.mosquitto import find_mosquitto, free_port

ROOT = Path(__file__).parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]

pytestmark = [pytest.mark.broker, pytest.mark.browser]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    """The demo, started as `make demo` starts it, on ports of its own."""
    if find_mosquitto() is None:
        need_service("mosquitto")
    if not Path(CHROMIUM).exists():
        need_service("chromium")
    state = tmp_path_factory.mktemp("demo") / "demo"
    env = {**os.environ, "GATEHOUSE_DEMO_DIR": str(state), "GATEHOUSE_DEMO_MQTT_PORT": str(free_port()),
           "GATEHOUSE_DEMO_MQTT_TLS_PORT": str(free_port()), "GATEHOUSE_DEMO_HUB_PORT": str(free_port())}
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "hub.demo", "run"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    facts_file = state / "demo.json"
    while not facts_file.exists():
        if proc.poll() is not None or time.monotonic() - started > 90:
            proc.kill()
            reader.join(5)
            proc.stdout.close()
            pytest.fail("demo did not write demo.json within 90 s:\n" + "".join(lines)[-4000:])
        time.sleep(0.2)
    facts = json.loads(facts_file.read_text())
    facts["_started_s"] = time.monotonic() - started
    facts["_state"] = state
    yield facts
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("demo did not stop within 30 s of SIGTERM")
    finally:
        reader.join(10)
        proc.stdout.close()
    assert proc.returncode == 0, "".join(lines)[-3000:]
    assert "stopping the demo" in "".join(lines)


class Observer:
    """mosquitto_sub-like observer with the demo's read-all, write-sim credentials."""

    def __init__(self, facts: dict) -> None:
        from link.client import BrokerConfig, LinkClient

        broker = facts["broker"]
        self.events: list[tuple[str, dict]] = []
        self.client = LinkClient(BrokerConfig(host=broker["host"], port=broker["port"], client_id="story-observer",
                                              username=broker["observer"]["username"],
                                              password=broker["observer"]["password"]))
        self.client.subscribe("gatehouse/v1/dev/+/events", self._on_event)
        self.client.start()
        assert self.client.wait_connected(10)
        time.sleep(0.3)

    def _on_event(self, msg) -> None:
        self.events.append((msg.topic, json.loads(msg.payload)))

    def sim(self, device: str, input_name: str, body: dict) -> None:
        from link import topics

        assert self.client.publish(topics.sim(device, input_name), json.dumps(body).encode(), qos=1).wait(5)

    def wait_event(self, device: str, type_name: str, since: int, timeout: float = 15.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for topic, env in self.events[since:]:
                if topic.endswith(f"/dev/{device}/events") and env["type"] == type_name:
                    return env
            time.sleep(0.05)
        raise AssertionError(f"no {type_name} from {device}; saw {[e['type'] for _, e in self.events[since:]]}")


def totp_code(secret: str, at: datetime) -> str:
    import pyotp

    return pyotp.TOTP(secret).at(at)


def test_demo_prints_its_facts_in_time(demo) -> None:
    assert demo["_started_s"] < 90
    assert demo["hub_url"].startswith("http://127.0.0.1:")
    assert {"principal", "privacy_team"} <= set(demo["api_tokens"])
    assert demo["broker"]["tls"] is None
    kinds = {d["kind"] for d in demo["doors"]}
    assert kinds == {"records_room", "office"}
    assert len(demo["staff"]) >= 40
    for building in {d["building"] for d in demo["doors"]}:
        assert any(p["always"] and p["building"] == building for p in demo["staff"])


def test_termination_story(demo) -> None:
    from playwright.sync_api import sync_playwright

    staff = demo["staff"]
    leaver = next(p for p in staff if p["building"] == "lincoln" and "lincoln-records" in p["doors"]
                  and not p["always"] and p["kind"] == "staff")
    stayer = next(p for p in staff if p["building"] == "lincoln" and p["always"]
                  and "lincoln-records" in p["doors"] and p["staff_id"] != leaver["staff_id"])
    lincoln_doors = sorted(d["device"] for d in demo["doors"] if d["building"] == "lincoln")
    account = demo["accounts"]["principal"]
    observer = Observer(demo)
    hub = demo["hub_url"]

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        page.goto(f"{hub}/")  # redirects to the sign-in page
        page.fill("input[name=username]", account["username"])
        page.fill("input[name=password]", account["password"])
        page.click("button[type=submit]")
        page.fill("input[name=code]", totp_code(account["totp_secret"], datetime.now(UTC)))
        page.click("button[type=submit]")
        page.goto(f"{hub}/people/{leaver['staff_id']}")
        assert leaver["name"] in page.content()
        page.click("#terminate")
        if "/reauth" in page.url:  # a fresh password + second factor before terminating
            page.fill("input[name=password]", account["password"])
            page.click("button[type=submit]")
            page.fill("input[name=code]", totp_code(account["totp_secret"], datetime.now(UTC) + timedelta(seconds=30)))
            page.click("button[type=submit]")
            if "/people/" in page.url:
                page.click("#terminate")
        page.wait_for_url("**/revocations/*", timeout=15000)
        for door in lincoln_doors:
            row = page.locator("#doors tr", has_text=door)
            row.locator("[data-field=state]").filter(has_text="confirmed").wait_for(timeout=20000)
        page.screenshot(path=str(demo["_state"] / "revocation.png"))
        browser.close()

    # The leaver's card is refused at the records room, as revoked.
    mark = len(observer.events)
    observer.sim("lincoln-records", "tap", {"uid": leaver["card_uid"]})
    denied = observer.wait_event("lincoln-records", "access.denied", mark)
    assert denied["body"]["reason"] == "revoked"

    # Someone still employed, inside their schedule (24/7), gets in: card, then PIN at this door.
    mark = len(observer.events)
    observer.sim("lincoln-records", "tap", {"uid": stayer["card_uid"]})
    if stayer["pin"]:
        time.sleep(0.3)
        observer.sim("lincoln-records", "pin", {"digits": stayer["pin"] + "#"})
    granted = observer.wait_event("lincoln-records", "access.granted", mark)
    assert granted["body"]["holder"] == stayer["staff_id"]
    observer.client.stop()
