"""A door controller builds its devices without loading numpy, OpenCV or Pillow (memory budget)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_devices_module_loads_no_imaging_libraries() -> None:
    code = ("import sys, hardware.devices, hardware.door, hardware.reader, hardware.keypad\n"
            "print(sorted(m for m in ('numpy', 'cv2', 'PIL', 'escpos') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[2], capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "[]"


def test_door_io_close_twice_and_after_relay_closed() -> None:
    from gpiozero.pins.mock import MockFactory

    from hardware.door import SimDoorIO

    door = SimDoorIO(relay_pin=17, contact_pin=27, pin_factory=MockFactory())
    door.relay.close()
    door.close()
    door.close()
