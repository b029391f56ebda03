"""The hub's real bridge and a kiosk built from its configuration, over a real Mosquitto.

Used by the tests that need the hub exactly as it runs (lockdown requests, the desk's verdicts
sent from the bridge's tick), rather than :mod:`tests.kiosk.hubside`'s visit-only stand-in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hub.bridge import Bridge
from hub.db import get_database
from hub.keyring import get_keyring
from hub.models import Building
from hub.services import buildings, devices
from hub.visitors import services
from kiosk import config as kconfig
from kiosk.cli import build
from link import keys as link_keys
from tests.conftest import make_broker_config
from tests.hub.conftest import make_test_app
from tests.kiosk.conftest import FIXTURES
from tests.kiosk.hubside import wait_for

HOLD_S = 0.5


class Site:
    """A hub (app, database, bridge) with one building and a kiosk with a simulated panic button."""

    def __init__(self, tmp_path: Path, broker, pki, **app_config) -> None:
        self.tmp_path, self.broker, self.pki = tmp_path, broker, pki
        self.app = make_test_app(f"sqlite:///{tmp_path / 'hub.db'}", tmp_path, **app_config)
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
            services.add_destination(s, "lincoln", "main-office", "Main office")
        camera = tmp_path / "camera"
        camera.mkdir()
        (camera / "face.jpg").write_bytes((FIXTURES / "face.jpg").read_bytes())
        self.bridge = Bridge(self.db, self.keyring, make_broker_config(broker, pki, "hub"))
        self.bridge.start()
        assert self.bridge.client.wait_connected(10)
        bc = make_broker_config(broker, pki, "kiosk-front")
        self.cfg = kconfig.KioskToml.model_validate({
            "kiosk": {"id": "kiosk-front", "state_dir": str(tmp_path / "kiosk-state"), "hub_timeout_s": 2.0},
            "camera": {"type": "sim", "source": str(camera)},
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


