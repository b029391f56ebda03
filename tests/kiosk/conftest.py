"""Kiosk test fixtures: the fixture images and a sample licence frame maker."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kiosk"
sys.path.insert(0, str(FIXTURES))

from make_fixtures import SAMPLE, licence_frame  # noqa: E402



@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The folder of kiosk fixture images."""
    return FIXTURES


@pytest.fixture(scope="session")
def face_frame() -> np.ndarray:
    """A camera frame with exactly one face."""
    return cv2.imread(str(FIXTURES / "face.jpg"))


@pytest.fixture(scope="session")
def sample_person() -> dict:
    """Who the sample licence belongs to."""
    return dict(SAMPLE)


@pytest.fixture(scope="session")
def make_licence_frame():
    """licence_frame(record_bytes, angle_deg) -> BGR frame."""
    return licence_frame


# --------------------------------------------------------------------------- a kiosk wired to a hub
import shutil  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from hub.db import Database  # noqa: E402
from kiosk import config as kconfig  # noqa: E402
from kiosk.cli import build  # noqa: E402
from tests.kiosk.hubside import VisitHub, make_kiosk_keys, seed, wait_for  # noqa: E402


@dataclass
class KioskEnv:
    """A kiosk (simulated camera and printer) and the hub side, over a real Mosquitto."""

    kiosk: object
    hub: VisitHub
    database: Database
    camera_dir: Path
    state_dir: Path

    def show(self, *names: str) -> None:
        """Put only these fixture images (or paths) in front of the simulated camera."""
        for old in self.camera_dir.iterdir():
            old.unlink()
        for i, name in enumerate(names):
            src = Path(name) if Path(name).is_absolute() else FIXTURES / name
            shutil.copyfile(src, self.camera_dir / f"{i:02d}-{src.name}")
        self.kiosk.camera._is_open = False  # reopen: the simulator lists the folder when it opens

    @property
    def printer(self):
        """The first (simulated) printer."""
        return self.kiosk.printers[0]


def make_kiosk_env(tmp_path: Path, broker_config, *, kiosk_id: str = "kiosk-front", hub_delay_s: float = 0.0,
                   idle_s: int = 60) -> KioskEnv:
    """Build and start the pair; the caller stops it."""
    keys_dir = tmp_path / "keys"
    kiosk_key, hub_key = make_kiosk_keys(keys_dir)
    database = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    import hub.visitors.models  # noqa: F401

    database.create_all()
    seed(database, kiosk_id)
    hub = VisitHub(database, broker_config("hub"), hub_key, {kiosk_id: kiosk_key.public_key()},
                   delay_s=hub_delay_s).start()
    camera_dir = tmp_path / "camera"
    camera_dir.mkdir()
    shutil.copyfile(FIXTURES / "face.jpg", camera_dir / "00-face.jpg")
    bc = broker_config(kiosk_id)
    state = tmp_path / "kiosk-state"
    cfg = kconfig.KioskToml.model_validate({
        "kiosk": {"id": kiosk_id, "state_dir": str(state), "idle_s": idle_s, "hub_timeout_s": 2.0},
        "camera": {"type": "sim", "source": str(camera_dir)},
        "printer": {"type": "dummy", "paper_dots": 384},
        "link": {"host": bc.host, "port": bc.port, "ca_file": str(bc.ca_file), "cert_file": str(bc.cert_file),
                 "key_file": str(bc.key_file), "device_key_file": str(keys_dir / "kiosk.pem"),
                 "hub_public_key_file": str(keys_dir / "hub.pub.pem")},
    })
    kiosk = build(cfg)
    assert wait_for(kiosk.gateway.is_connected, 10), "kiosk did not connect"
    time.sleep(0.3)
    return KioskEnv(kiosk=kiosk, hub=hub, database=database, camera_dir=camera_dir, state_dir=state)


@pytest.fixture
def kiosk_env(tmp_path: Path, broker_config):
    """A started kiosk + hub pair with the directory and watch list fetched once."""
    env = make_kiosk_env(tmp_path, broker_config)
    assert env.kiosk.refresh()
    yield env
    env.kiosk.stop()
    env.hub.stop()
