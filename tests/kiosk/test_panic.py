"""The panic button, from a MockFactory pin held low to the lockdown at the hub's real bridge.

The kiosk is built from a ``kiosk.toml`` model by ``kiosk.cli.build`` (``[panic_button]
type = "sim"``); the hub side is the real :class:`hub.bridge.Bridge` on SQLite; both talk
through a real Mosquitto.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from hub.auth.models import AuditEntry
from kiosk import config as kconfig
from kiosk.panic import PanicAlarm
from kiosk.store import KioskStore
from kiosk.web import create_app
from tests.kiosk.bridgeside import HOLD_S, Site
from tests.kiosk.hubside import wait_for

pytestmark = pytest.mark.broker


@pytest.fixture
def site(tmp_path, mosquitto, pki):
    s = Site(tmp_path, mosquitto, pki)
    yield s
    s.close()


def test_a_held_press_locks_the_building_down_and_a_tap_does_not(site) -> None:
    kiosk = site.start_kiosk()
    button = kiosk.panic.button
    assert button.state()["pin"] == 21 and button.state()["driver"] == "sim"
    button.hold(0.1)  # a brush against the button
    time.sleep(HOLD_S + 0.5)
    assert not site.lockdown() and kiosk.panic.pending_since() is None
    button.hold(HOLD_S + 0.4)
    assert wait_for(site.lockdown, 10)
    assert wait_for(lambda: kiosk.panic.pending_since() is None, 5)
    with site.db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "lockdown.on")).one()
        assert entry.actor == "device:kiosk-front"
    assert kiosk.health()["panic"]["button"]["presses"] == 1


def test_the_screen_shows_nothing_to_the_visitor(site) -> None:
    kiosk = site.start_kiosk()
    client = create_app(kiosk, translations_dir=site.tmp_path / "tr").test_client()
    before = client.get("/").get_data(as_text=True)
    kiosk.panic.button.hold(HOLD_S + 0.4)
    assert wait_for(site.lockdown, 10)
    after = client.get("/").get_data(as_text=True)
    assert after == before and "lockdown" not in after.lower()


def test_offline_press_is_kept_across_a_restart_and_sent_when_the_hub_returns(tmp_path, fresh_mosquitto, pki) -> None:
    site = Site(tmp_path, fresh_mosquitto, pki)
    try:
        kiosk = site.start_kiosk()
        fresh_mosquitto.stop()
        assert wait_for(lambda: not kiosk.gateway.is_connected(), 10)
        kiosk.panic.button.hold(HOLD_S + 0.4)
        assert wait_for(lambda: kiosk.panic.pending_since() is not None, 5)
        # The kiosk is power-cycled while the hub is still away: the press is not forgotten.
        kiosk.stop()
        kiosk = site.start_kiosk(connected=False)
        assert kiosk.panic.pending_since() is not None and not site.lockdown()
        fresh_mosquitto.start()
        assert wait_for(site.lockdown, 30)
        assert wait_for(lambda: kiosk.panic.pending_since() is None, 10)
    finally:
        site.close()


def test_without_a_hub_the_request_waits_in_the_store(tmp_path) -> None:
    from link import keys
    from kiosk.hublink import LocalGateway

    store = KioskStore(tmp_path / "kiosk.db")
    gateway = LocalGateway("kiosk-front", tmp_path / "link", keys.generate(tmp_path / "k.pem", tmp_path / "k.pub"))
    alarm = PanicAlarm(gateway=gateway, store=store, clock=lambda: datetime(2026, 11, 28, 14, 0, tzinfo=UTC))
    alarm.pressed()
    alarm.pressed()  # a second press keeps the first one's time
    assert alarm.flush() is False
    assert alarm.pending_since() == datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
    assert alarm.state() == {"lockdown_waiting_since": "2026-11-28T14:00:00+00:00"}
    gateway.close()
    store.close()


@pytest.mark.parametrize(("pin", "hold_s", "message"), [
    (1, 2.0, "panic_button.pin (line 11): Value error, GPIO 1 cannot be used: give a BCM number from 2 to 27"),
    (28, 2.0, "panic_button.pin (line 11): Value error, GPIO 28 cannot be used"),
    (26, 0.1, "panic_button.hold_s (line 12): Input should be greater than or equal to 0.5"),
])
def test_bad_panic_button_config_is_refused_with_key_and_line(pin, hold_s, message) -> None:
    text = ('[kiosk]\nid = "kiosk-front"\n\n[camera]\ntype = "opencv"\n\n[printer]\ntype = "dummy"\n\n'
            f'[panic_button]\npin = {pin}\nhold_s = {hold_s}\ntype = "gpio"\n')
    with pytest.raises(kconfig.ConfigError) as err:
        kconfig.parse(text)
    assert message in str(err.value)
