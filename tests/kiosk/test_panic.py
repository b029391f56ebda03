"""The panic button, from a MockFactory pin held low to the lockdown at the hub's real bridge.

The kiosk is built from a ``kiosk.toml`` model by ``kiosk.cli.build`` (``[panic_button]
type = "sim"``); the hub side is the real :class:`hub.bridge.Bridge` on SQLite; both talk
through a real Mosquitto.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.bridge import Bridge
from hub.db import get_database
from hub.keyring import get_keyring
from hub.auth.models import AuditEntry
from hub.models import Building
from hub.services import buildings, devices
from kiosk import config as kconfig
from kiosk.cli import build
from kiosk.panic import PanicAlarm
from kiosk.store import KioskStore
from kiosk.web import create_app
from link import keys as link_keys
from tests.conftest import make_broker_config
from tests.hub.conftest import make_test_app
from tests.kiosk.conftest import FIXTURES
from tests.kiosk.hubside import wait_for

pytestmark = pytest.mark.broker

HOLD_S = 0.5


class Site:
    """A hub (app, database, bridge) with one building and a kiosk with a simulated panic button."""

    def __init__(self, tmp_path: Path, broker, pki) -> None:
        self.tmp_path, self.broker, self.pki = tmp_path, broker, pki
        self.app = make_test_app(f"sqlite:///{tmp_path / 'hub.db'}", tmp_path)
        self.db, self.keyring = get_database(self.app), get_keyring(self.app)
        keys = tmp_path / "keys"
        kiosk_key = link_keys.generate(keys / "kiosk.pem", keys / "kiosk.pub.pem")
        (keys / "hub.pub.pem").write_bytes(link_keys.public_pem(self.keyring.hub_key.public_key()))
        now = datetime.now(UTC)
        with self.db.session() as s:
            buildings.create_building(s, building_id="lincoln", name="Lincoln", tz="America/New_York",
                                      actor="test", now=now)
            devices.register(s, device_id="kiosk-front", kind="kiosk", building_id="lincoln",
                             public_key_pem=link_keys.public_pem(kiosk_key.public_key()), cert_serial="",
                             actor="test", now=now)
        self.bridge = Bridge(self.db, self.keyring, make_broker_config(broker, pki, "hub"))
        self.bridge.start()
        assert self.bridge.client.wait_connected(10)
        bc = make_broker_config(broker, pki, "kiosk-front")
        self.cfg = kconfig.KioskToml.model_validate({
            "kiosk": {"id": "kiosk-front", "state_dir": str(tmp_path / "kiosk-state"), "hub_timeout_s": 2.0},
            "camera": {"type": "sim", "source": str(FIXTURES)},
            "printer": {"type": "dummy", "paper_dots": 384},
            "panic_button": {"type": "sim", "pin": 21, "hold_s": HOLD_S},
            "link": {"host": bc.host, "port": bc.port, "ca_file": str(bc.ca_file), "cert_file": str(bc.cert_file),
                     "key_file": str(bc.key_file), "device_key_file": str(keys / "kiosk.pem"),
                     "hub_public_key_file": str(keys / "hub.pub.pem")},
        })
        self.kiosk = None

    def start_kiosk(self, *, connected: bool = True):
        """Build and start the kiosk from its configuration."""
        self.kiosk = build(self.cfg)
        if connected:
            assert wait_for(self.kiosk.gateway.is_connected, 10), "kiosk did not connect"
        self.kiosk.start(refresh_s=300)
        return self.kiosk

    def lockdown(self) -> bool:
        """The building's lockdown flag at the hub."""
        with self.db.session() as s:
            return s.get(Building, "lincoln").lockdown

    def close(self) -> None:
        """Stop everything."""
        if self.kiosk is not None:
            self.kiosk.stop()
        self.bridge.stop()
        get_database(self.app).dispose()


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
