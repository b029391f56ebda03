"""build_devices: config picks real or simulated drivers; the listing shows their state."""

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from hardware.camera import SimCamera
from hardware.config import (DoorIOConfig, HardwareConfig, Mfrc522ReaderConfig, OpenCvCameraConfig,
                             simulated_controller_config, simulated_kiosk_config)
from hardware.devices import build_devices, format_devices
from hardware.door import DoorIO, SimDoorIO
from hardware.errors import HardwareError
from hardware.printer import SimPrinter
from hardware.reader import SimReader

UID = bytes.fromhex("04a1b2c3d4e5f6")


def test_simulated_controller_works_end_to_end() -> None:
    with build_devices(simulated_controller_config(doors=2)) as devices:
        reader = devices.readers["reader1"]
        assert isinstance(reader, SimReader)
        reader.present(UID)
        assert reader.poll(0.0).uid == UID and devices.readers["reader0"].poll(0.0) is None
        door = devices.doors["door0"]
        assert isinstance(door, SimDoorIO)
        door.unlock()
        assert door.strike_energised
        listing = format_devices(devices.describe())
        assert "reader reader1" in listing and "[sim]" in listing and "strike=unlocked" in listing
        assert UID.hex() not in listing
    assert not door.strike_energised  # closing the devices locked the strike


def test_simulated_kiosk(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), np.full((40, 60, 3), 90, dtype=np.uint8))
    with build_devices(simulated_kiosk_config(tmp_path, preview_dir=tmp_path / "badges")) as devices:
        camera, printer = devices.cameras["camera0"], devices.printers["printer0"]
        assert isinstance(camera, SimCamera) and isinstance(printer, SimPrinter)
        assert camera.grab().shape == (40, 60, 3)
        from PIL import Image

        printer.print_image(Image.new("L", (200, 100), 0))
        assert (tmp_path / "badges" / "printer0-job-0001.png").exists()
        assert "camera camera0" in format_devices(devices.describe())


def test_gpio_types_use_the_given_pin_factory() -> None:
    factory = MockFactory()
    config = HardwareConfig(doors=[DoorIOConfig(type="gpio", relay_active_high=False)])
    with build_devices(config, pin_factory=factory) as devices:
        door = devices.doors["door0"]
        assert type(door) is DoorIO
        door.unlock()
        assert factory.pin(17).state is False  # active-low relay energised


def test_a_real_reader_off_a_pi_is_a_typed_error_and_nothing_is_left_open() -> None:
    factory = MockFactory()
    config = HardwareConfig(doors=[DoorIOConfig(type="gpio")],
                            readers=[Mfrc522ReaderConfig(type="mfrc522")])
    with pytest.raises(HardwareError):
        build_devices(config, pin_factory=factory)
    # the door built... or not: its pins must be free again either way
    DoorIO(pin_factory=factory).close()


def test_non_strict_build_lists_what_is_unavailable() -> None:
    config = HardwareConfig(readers=[Mfrc522ReaderConfig(type="mfrc522", name="front")],
                            cameras=[OpenCvCameraConfig(type="opencv", index=57, open_timeout_s=5)])
    with build_devices(config, strict=False) as devices:
        assert devices.readers == {} and devices.cameras == {}
        listing = format_devices(devices.describe())
        assert re.search(r"reader front +\[mfrc522\]  unavailable=the mfrc522 library cannot load", listing)
        assert re.search(r"camera camera0 +\[opencv\]  unavailable=no camera at index 57", listing)


def test_empty_config_lists_nothing() -> None:
    with build_devices(HardwareConfig()) as devices:
        assert format_devices(devices.describe()) == "no devices configured"
