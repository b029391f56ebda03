"""The devices of one door, assembled from ``controller.toml`` out of :mod:`hardware`.

This module only wires: the card reader is :class:`hardware.reader.Mfrc522Reader` (or
:class:`~hardware.reader.SimReader`, the real mfrc522 code on an emulated chip), the strike,
contact, exit button, tamper switch, LEDs and buzzer are :class:`hardware.door.DoorIO` (or
:class:`~hardware.door.SimDoorIO` on ``MockFactory`` pins), the keypad is
:class:`hardware.keypad.MatrixKeypad` (or :class:`~hardware.keypad.SimKeypad`). The
controller drives a door through :class:`DoorHardware` only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from controller.config import DoorConfig
from hardware import door as hwdoor
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
    """A door's reader, door I/O (strike, contact, exit, tamper, LEDs, buzzer) and keypad.

    Wiring is :class:`hardware.door.DoorIO`'s: the strike relay's input on ``relay_pin``
    (a fail-secure strike is locked while the relay is off), the reed contact and tamper
    switch between their pin and GND, the exit button closing its pin to GND; the MFRC522
    on SPI (CE0 or CE1) with its reset on ``reader.rst_pin``.

    Example::

        door = DoorHardware(cfg, pin_factory=MockFactory(), simulate=True)
        door.start(on_card=print, on_input=print, on_key=print)
        door.io.open_door(); door.close()
    """

    def __init__(self, cfg: DoorConfig, *, pin_factory: Any = None, simulate: bool = False,
                 board: Any = None) -> None:
        self.cfg = cfg
        self.id = cfg.id
        self.simulate = simulate
        self._timers: list[threading.Timer] = []
        self._lock = threading.Lock()
        self.keypad: MatrixKeypad | None = None
        self.reader: Mfrc522Reader | None = None
        io_cls = hwdoor.SimDoorIO if simulate else hwdoor.DoorIO
        self.io = io_cls(cfg.id, relay_pin=cfg.relay_pin, contact_pin=cfg.contact_pin,
                         rex_pin=cfg.rex_pin, green_led_pin=cfg.green_led_pin,
                         red_led_pin=cfg.red_led_pin, buzzer_pin=cfg.buzzer_pin,
                         tamper_pin=cfg.tamper_pin, relay_active_high=cfg.relay_active_high,
                         contact_normally_closed=cfg.contact_normally_closed,
                         pin_factory=pin_factory)
        try:
            r = cfg.reader
            if simulate or r.type == "sim":
                self.reader = SimReader(name=cfg.id, bus=r.bus, device=r.device,
                                        rst_pin=r.rst_pin, irq_pin=r.irq_pin,
                                        poll_interval_s=r.poll_interval_ms / 1000,
                                        board=board, pin_factory=pin_factory)
            else:
                self.reader = Mfrc522Reader(name=cfg.id, bus=r.bus, device=r.device,
                                            rst_pin=r.rst_pin, irq_pin=r.irq_pin,
                                            poll_interval_s=r.poll_interval_ms / 1000,
                                            pin_factory=pin_factory)
            if cfg.keypad is not None:
                kp_cls = SimKeypad if simulate else MatrixKeypad
                self.keypad = kp_cls(f"{cfg.id}-keypad", tuple(cfg.keypad.row_pins),
                                     tuple(cfg.keypad.col_pins), pin_factory=pin_factory)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ inputs
    def is_open(self) -> bool:
        """True when the (debounced) door contact reads open."""
        return bool(self.io.is_open)

    def start(self, *, on_card: Callable[[CardRead], None],
              on_input: Callable[[hwdoor.DoorInput], None],
              on_key: Callable[[str], None] | None = None) -> None:
        """Route the door's inputs to the callbacks and start the polling threads."""
        self.io.start(on_input)
        if self.reader is not None:
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

    # ------------------------------------------------------------------ simulation helpers
    def _sim(self) -> Any:
        if not self.simulate:
            raise RuntimeError("simulation helpers work only with --simulate")
        return self.io

    def sim_open(self) -> None:
        """Open the simulated door."""
        self._sim().open_door()

    def sim_close(self) -> None:
        """Close the simulated door."""
        self._sim().close_door()

    def sim_rex(self) -> None:
        """Press the simulated exit button (released shortly after)."""
        io = self._sim()
        io.press_rex()
        self._later(0.2, io.release_rex)

    def sim_tap(self, uid: bytes) -> None:
        """Hold a card on the emulated reader briefly."""
        if not isinstance(self.reader, SimReader):
            raise RuntimeError("simulation helpers work only with --simulate")
        self.reader.tap(uid)

    # ------------------------------------------------------------------ lifecycle
    def state(self) -> dict[str, Any]:
        """A printable summary of the door's devices."""
        return {"door": self.id, "io": self.io.state(),
                "reader": self.reader.state() if self.reader is not None else None,
                "keypad": self.keypad.state() if self.keypad is not None else None}

    def close(self) -> None:
        """Lock the strike first, then release every device; idempotent."""
        with self._lock:
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
        try:
            self.io.close()  # DoorIO.close drops the relay before letting go of the pin
        except Exception:
            log.exception("door=%s event=door_io_close_failed", self.id)
        for device in (self.reader, self.keypad):
            if device is not None:
                try:
                    device.close()
                except Exception:
                    log.exception("door=%s event=close_failed device=%r", self.id, device)
