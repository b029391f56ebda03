"""The devices of one door, assembled from ``controller.toml`` (real pins or MockFactory).

This module only wires: the card reader comes from :mod:`hardware.reader` (the MFRC522
driver, or its emulated chip in simulation) and the strike, contact, request-to-exit, LED
and buzzer are gpiozero's own devices on an injected pin factory (``MockFactory`` when
simulating). The controller drives a door through :class:`DoorHardware` only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from gpiozero import LED, Button, Buzzer, OutputDevice

from controller.config import DoorConfig
from hardware.reader import CardRead, Mfrc522Reader, SimReader

log = logging.getLogger("gatehouse.controller.hw")

# (on_time, off_time, repeats or None for "until changed")
_LED_PATTERNS: dict[str, tuple[float, float, int | None] | bool] = {
    "idle": False, "grant": True, "deny": (0.1, 0.1, 3), "held": (0.5, 0.5, None),
    "forced": (0.2, 0.2, None), "lockdown": (1.0, 1.0, None), "pin": (0.25, 0.25, 40),
    "fault": (0.1, 0.9, None),
}
_BUZZER_PATTERNS: dict[str, tuple[float, float, int | None] | bool] = {
    "off": False, "grant": (0.1, 0.1, 1), "deny": (0.1, 0.1, 3), "alarm": (0.5, 0.5, None),
}


class DoorHardware:
    """A door's reader, strike relay, contact, exit button, LED and buzzer.

    Wiring (BCM numbers from the config): the strike relay on ``relay_pin`` (active high
    unless ``relay_active_high = false``; a fail-secure strike locks when unpowered), the
    reed contact between ``contact_pin`` and ground (closed door pulls it low), the
    request-to-exit button between ``rex_pin`` and ground, the LED and buzzer on their pins.

    Example::

        door = DoorHardware(cfg, pin_factory=MockFactory(), simulate=True)
        door.start(on_card=print, on_contact=print, on_rex=print)
        door.sim_open(); door.close()
    """

    def __init__(self, cfg: DoorConfig, *, pin_factory: Any = None, simulate: bool = False,
                 board: Any = None) -> None:
        self.cfg = cfg
        self.id = cfg.id
        self.simulate = simulate
        self._factory = pin_factory
        self._devices: list[Any] = []
        try:
            self.relay = self._add(OutputDevice(cfg.relay_pin, active_high=cfg.relay_active_high,
                                                initial_value=False, pin_factory=pin_factory))
            self.contact = self._add(Button(cfg.contact_pin, pull_up=True,
                                            pin_factory=pin_factory))
            if simulate:
                # A simulated door starts closed: the reed switch pulls the line low.
                pin_factory.pin(cfg.contact_pin).drive_low()
            self.rex = (self._add(Button(cfg.rex_pin, pull_up=True, pin_factory=pin_factory))
                        if cfg.rex_pin is not None else None)
            self.led = (self._add(LED(cfg.led_pin, pin_factory=pin_factory))
                        if cfg.led_pin is not None else None)
            self.buzzer = (self._add(Buzzer(cfg.buzzer_pin, pin_factory=pin_factory))
                           if cfg.buzzer_pin is not None else None)
            r = cfg.reader
            reader_cls = SimReader if (simulate or r.type == "sim") else Mfrc522Reader
            extra: dict[str, Any] = {"board": board} if reader_cls is SimReader else {}
            self.reader = reader_cls(name=cfg.id, bus=r.bus, device=r.device, rst_pin=r.rst_pin,
                                     irq_pin=r.irq_pin, poll_interval_s=r.poll_interval_ms / 1000,
                                     pin_factory=pin_factory, **extra)
            self._devices.append(self.reader)
        except BaseException:
            self.close()
            raise

    def _add(self, device: Any) -> Any:
        self._devices.append(device)
        return device

    # ------------------------------------------------------------------ inputs
    def is_open(self) -> bool:
        """True when the door contact reads open."""
        pressed = bool(self.contact.is_pressed)
        return not pressed if self.cfg.contact_closed_low else pressed

    def start(self, *, on_card: Callable[[CardRead], None],
              on_contact: Callable[[bool], None], on_rex: Callable[[], None]) -> None:
        """Route the door's inputs to the callbacks and start polling the reader."""
        def changed() -> None:
            on_contact(self.is_open())

        self.contact.when_pressed = changed
        self.contact.when_released = changed
        if self.rex is not None:
            self.rex.when_pressed = on_rex
        self.reader.start(on_card)

    # ------------------------------------------------------------------ outputs
    def relay_ready(self) -> bool:
        """True when the strike relay can be driven (open device, reads back as commanded)."""
        return not self.relay.closed

    def set_relay(self, on: bool) -> None:
        """Energise or release the strike; raise if the relay does not read back as told."""
        if on:
            self.relay.on()
        else:
            self.relay.off()
        if bool(self.relay.value) != on:
            raise OSError(f"relay of door {self.id} reads {self.relay.value} after set {on}")

    def relay_is_on(self) -> bool:
        """The strike relay's current state."""
        return not self.relay.closed and bool(self.relay.value)

    def show(self, pattern: str) -> None:
        """Show an LED pattern."""
        _run_pattern(self.led, _LED_PATTERNS[pattern])

    def sound(self, pattern: str) -> None:
        """Sound a buzzer pattern."""
        _run_pattern(self.buzzer, _BUZZER_PATTERNS[pattern])

    # ------------------------------------------------------------------ simulation helpers
    def _pin(self, number: int) -> Any:
        if not self.simulate:
            raise RuntimeError("simulation helpers work only with --simulate")
        return self._factory.pin(number)

    def sim_open(self) -> None:
        """Open the simulated door (the reed switch releases its line)."""
        self._pin(self.cfg.contact_pin).drive_high()

    def sim_close(self) -> None:
        """Close the simulated door."""
        self._pin(self.cfg.contact_pin).drive_low()

    def sim_rex(self) -> None:
        """Press and release the simulated request-to-exit button."""
        if self.cfg.rex_pin is None:
            raise RuntimeError(f"door {self.id} has no request-to-exit button")
        pin = self._pin(self.cfg.rex_pin)
        pin.drive_low()
        pin.drive_high()

    def sim_tap(self, uid: bytes) -> None:
        """Hold a card on the emulated reader briefly."""
        if not isinstance(self.reader, SimReader):
            raise RuntimeError("simulation helpers work only with --simulate")
        self.reader.tap(uid)

    # ------------------------------------------------------------------ lifecycle
    def state(self) -> dict[str, Any]:
        """A printable summary of the door's devices."""
        return {
            "door": self.id,
            "relay": {"pin": self.cfg.relay_pin, "on": self.relay_is_on(),
                      "closed": self.relay.closed},
            "contact": {"pin": self.cfg.contact_pin, "open": self.is_open()},
            "rex": {"pin": self.cfg.rex_pin},
            "led": {"pin": self.cfg.led_pin},
            "buzzer": {"pin": self.cfg.buzzer_pin},
            "reader": self.reader.state(),
        }

    def close(self) -> None:
        """Release the strike first, then every device; idempotent."""
        relay = getattr(self, "relay", None)
        if relay is not None and not relay.closed:
            try:
                relay.off()
            except Exception:  # closing anyway: an unpowered strike is locked
                log.exception("door=%s event=relay_off_failed_on_close", self.id)
        for device in reversed(self._devices):
            try:
                device.close()
            except Exception:
                log.exception("door=%s event=close_failed device=%r", self.id, device)
        self._devices.clear()


def _run_pattern(device: Any, pattern: tuple[float, float, int | None] | bool) -> None:
    if device is None or device.closed:
        return
    if pattern is True:
        device.on()
    elif pattern is False:
        device.off()
    else:
        on_s, off_s, n = pattern
        device.blink(on_time=on_s, off_time=off_s, n=n, background=True)
