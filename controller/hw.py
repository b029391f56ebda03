"""One door's devices, as the controller drives them.

The devices themselves come from :func:`hardware.devices.build_devices` (the ``type`` in the
``[hardware]`` table picks the real driver or its simulator): a card reader
(:class:`hardware.reader.CardReader`), the door I/O (:class:`hardware.door.DoorIO`: strike,
contact, exit button, tamper, LEDs, buzzer) and optionally a keypad
(:class:`hardware.keypad.MatrixKeypad`). :class:`DoorHardware` groups them per door and turns
the door machine's LED and buzzer patterns into what the door I/O can show.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from hardware import door as hwdoor
from hardware.reader import CardRead

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
