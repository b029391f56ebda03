"""A door controller's devices, opened from the ``[hardware]`` table, grouped per door.

:func:`open_devices` opens the readers, door I/O and keypads of a
:class:`hardware.config.HardwareConfig` exactly as :func:`hardware.devices.build_devices`
does (the ``type`` picks the driver or its simulator; simulators share one ``MockFactory``
and one emulated SPI board), but only those three kinds: ``hardware.devices`` also imports
the kiosk's camera and printer stacks (numpy, Pillow), about 15 MB a door controller's memory
budget cannot spare. :class:`DoorHardware` groups one door's reader, door I/O and keypad and
turns the door machine's LED and buzzer patterns into what the door I/O can show.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from hardware import door as hwdoor
from hardware.config import HardwareConfig, SimReaderConfig
from hardware.errors import HardwareError
from hardware.keypad import MatrixKeypad, SimKeypad
from hardware.reader import CardRead, Mfrc522Reader, SimReader

log = logging.getLogger("gatehouse.controller.hw")

#: LED pattern -> (green, red); "deny" lights red for DENY_SHOW_S then returns to idle.
_LEDS: dict[str, tuple[bool, bool]] = {
    "idle": (False, False), "grant": (True, False), "deny": (False, True),
    "held": (False, True), "forced": (False, True), "lockdown": (False, True),
    "pin": (True, True), "fault": (False, True),
}
#: buzzer pattern -> seconds on (None: until told otherwise, 0: off)
_BUZZ: dict[str, float | None] = {"off": 0, "grant": 0.1, "deny": 0.4, "alarm": None}
DENY_SHOW_S = 1.0


class DoorHardware:
    """A door's reader, door I/O and keypad (the keypad only on card + PIN doors).

    Example::

        devices = build_devices(config.hardware)
        door = DoorHardware("rr-1", io=devices.doors["door0"], reader=devices.readers["reader0"])
        door.start(on_card=print, on_input=print)
    """

    def __init__(self, door_id: str, *, io: hwdoor.DoorIO, reader: Any,
                 keypad: Any = None) -> None:
        self.id = door_id
        self.io = io
        self.reader = reader
        self.keypad = keypad
        self._timers: list[threading.Timer] = []
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ inputs
    def is_open(self) -> bool:
        """True when the (debounced) door contact reads open."""
        return bool(self.io.is_open)

    def start(self, *, on_card: Callable[[CardRead], None],
              on_input: Callable[[hwdoor.DoorInput], None],
              on_key: Callable[[str], None] | None = None) -> None:
        """Route the door's inputs to the callbacks and start the polling threads."""
        self.io.start(on_input)
        self.reader.start(on_card)
        if self.keypad is not None and on_key is not None:
            self.keypad.start(on_key)

    # ------------------------------------------------------------------ outputs
    def relay_ready(self) -> bool:
        """True when the strike relay can be driven (door I/O open, relay device open)."""
        return not getattr(self.io, "_closed", False) and not self.io.relay.closed

    def set_relay(self, on: bool) -> None:
        """Energise or release the strike; raise if the relay does not read back as told."""
        if on:
            self.io.unlock()
        else:
            self.io.lock()
        if self.io.is_unlocked != on:
            raise OSError(f"strike relay of door {self.id} did not follow the command")

    def show(self, pattern: str) -> None:
        """Show an LED pattern (green, red, or both for "enter PIN")."""
        green, red = _LEDS[pattern]
        self.io.set_leds(green=green, red=red)
        if pattern == "deny":
            self._later(DENY_SHOW_S, lambda: self.io.set_leds(False, False))

    def sound(self, pattern: str) -> None:
        """Sound a buzzer pattern."""
        seconds = _BUZZ[pattern]
        self.io.set_buzzer(seconds != 0)
        if seconds:
            self._later(seconds, lambda: self.io.set_buzzer(False))

    def _later(self, seconds: float, action: Callable[[], None]) -> None:
        def run() -> None:
            try:
                action()
            except Exception as exc:  # the door may have closed meanwhile
                log.debug("door=%s event=indicator_timer_failed error=%s", self.id, exc)

        timer = threading.Timer(seconds, run)
        timer.daemon = True
        with self._lock:
            self._timers = [t for t in self._timers if t.is_alive()] + [timer]
        timer.start()

    # ------------------------------------------------------------------ simulation (sim topics)
    def _sim(self, device: Any, helper: str) -> Callable[..., Any]:
        action = getattr(device, helper, None)
        if action is None:
            raise RuntimeError(f"door {self.id}: {helper} needs a simulated device")
        return action

    def sim_open(self) -> None:
        """Open the simulated door."""
        self._sim(self.io, "open_door")()

    def sim_close(self) -> None:
        """Close the simulated door."""
        self._sim(self.io, "close_door")()

    def sim_rex(self) -> None:
        """Press the simulated exit button briefly."""
        self._sim(self.io, "tap_rex")()

    def sim_tap(self, uid: bytes) -> None:
        """Hold a card on the emulated reader briefly."""
        self._sim(self.reader, "tap")(uid)

    def sim_keys(self, keys: str) -> bool:
        """Type on the simulated keypad; False when this door has none."""
        if self.keypad is None:
            return False
        self._sim(self.keypad, "enter")(keys)
        return True

    # ------------------------------------------------------------------ lifecycle
    def state(self) -> dict[str, Any]:
        """A printable summary of the door's devices."""
        return {"door": self.id, "io": self.io.name, "reader": self.reader.name,
                "keypad": self.keypad.name if self.keypad is not None else None}

    def close(self) -> None:
        """Lock the strike first, then release the door's devices; idempotent."""
        with self._lock:
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
        for device in (self.io, self.reader, self.keypad):  # io first: the strike locks
            if device is None:
                continue
            try:
                device.close()
            except Exception:
                log.exception("door=%s event=close_failed device=%r", self.id, device)


class DoorDevices:
    """The readers, door I/O and keypads of one controller, by name; closes them all."""

    def __init__(self) -> None:
        self.readers: dict[str, Any] = {}
        self.doors: dict[str, hwdoor.DoorIO] = {}
        self.keypads: dict[str, MatrixKeypad] = {}

    def describe(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        """(kind, name, driver, state) of every device, doors' I/O first."""
        out = []
        for kind, devices in (("door", self.doors), ("reader", self.readers),
                              ("keypad", self.keypads)):
            for name, device in devices.items():
                try:
                    state = device.state()
                except Exception as exc:  # a listing must not fail because one device did
                    state = {"error": str(exc)}
                out.append((kind, name, getattr(device, "driver", "?"), state))
        return out

    def close(self) -> None:
        """Close every device, door I/O first (the strikes lock); idempotent."""
        for devices in (self.doors, self.readers, self.keypads):
            for name, device in devices.items():
                try:
                    device.close()
                except Exception:
                    log.exception("device=%s event=close_failed", name)

    def __enter__(self) -> "DoorDevices":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_devices(config: HardwareConfig, *, pin_factory: Any = None) -> DoorDevices:
    """Open the readers, door I/O and keypads ``config`` names (all or nothing)."""
    devices = DoorDevices()
    shared: dict[str, Any] = {}

    def mock() -> Any:
        if "factory" not in shared:
            from gpiozero.pins.mock import MockFactory

            shared["factory"] = MockFactory()
        return shared["factory"]

    try:
        for r in config.readers:
            kwargs: dict[str, Any] = dict(
                name=r.name, bus=r.bus, device=r.device, rst_pin=r.rst_pin, irq_pin=r.irq_pin,
                spi_hz=r.spi_hz, poll_interval_s=r.poll_interval_ms / 1000,
                release_s=r.release_ms / 1000)
            if isinstance(r, SimReaderConfig):
                if "board" not in shared:
                    from hardware.mfrc522_sim import SimBoard

                    shared["board"] = SimBoard()  # one simulated Pi: readers share its bus
                devices.readers[r.name] = SimReader(
                    **kwargs, board=shared["board"],
                    pin_factory=mock() if r.irq_pin is not None else None)
            else:
                devices.readers[r.name] = Mfrc522Reader(**kwargs, pin_factory=pin_factory)
        for d in config.doors:
            kwargs = dict(relay_pin=d.relay_pin, contact_pin=d.contact_pin, rex_pin=d.rex_pin,
                          green_led_pin=d.green_led_pin, red_led_pin=d.red_led_pin,
                          buzzer_pin=d.buzzer_pin, tamper_pin=d.tamper_pin,
                          relay_active_high=d.relay_active_high,
                          contact_normally_closed=d.contact_normally_closed,
                          tamper_normally_closed=d.tamper_normally_closed,
                          debounce_s=d.debounce_ms / 1000)
            devices.doors[d.name] = (hwdoor.SimDoorIO(d.name, pin_factory=mock(), **kwargs)
                                     if d.type == "sim" else
                                     hwdoor.DoorIO(d.name, pin_factory=pin_factory, **kwargs))
        for k in config.keypads:
            kwargs = dict(row_pins=k.row_pins, col_pins=k.col_pins,
                          debounce_s=k.debounce_ms / 1000,
                          scan_interval_s=k.scan_interval_ms / 1000)
            devices.keypads[k.name] = (SimKeypad(k.name, pin_factory=mock(), **kwargs)
                                       if k.type == "sim" else
                                       MatrixKeypad(k.name, pin_factory=pin_factory, **kwargs))
    except BaseException:
        devices.close()
        raise
    return devices


def format_devices(devices: DoorDevices) -> str:
    """One line per device: kind, name, driver and the state worth showing."""
    lines = []
    for kind, name, driver, state in devices.describe():
        shown = {k: v for k, v in state.items()
                 if k != "driver" and v not in (None, {}, []) and not (k == "closed" and v is False)}
        text = " ".join(f"{k}={_compact(v)}" for k, v in shown.items())
        lines.append(f"{kind + ' ' + name:<16}  [{driver}]  {text}")
    return "\n".join(lines) if lines else "no devices configured"


def _compact(value: Any) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}:{v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


__all__ = ["DoorDevices", "DoorHardware", "HardwareError", "format_devices", "open_devices"]
