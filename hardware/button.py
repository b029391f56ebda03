"""A panic button on GPIO: a gpiozero ``Button`` that must be held before it counts.

The decision "has this press been held long enough?" is pure (:func:`hold_step`, on top of
:mod:`hardware.debounce`), so it is tested with a table and a fixed clock; the driver only
samples the pin and calls it. A press counts once: it must be released before it can count
again. A button found pressed at start-up (stuck, or wired normally-closed by mistake) is
reported as ``stuck`` and does not count until it has been released once, so a wiring fault
never locks a building down at every boot.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hardware.debounce import Debounced, debounce_start, debounce_step
from hardware.errors import ConfigError, DeviceClosed, GpioError
from hardware.sampler import Sampler

log = logging.getLogger(__name__)

#: BCM GPIOs a button may use: 0 and 1 are the HAT ID EEPROM's I2C lines.
USABLE_PINS = range(2, 28)


@dataclass(frozen=True)
class HoldState:
    """The debounced level of the button and whether the current press has already counted."""

    pressed: Debounced[bool]
    counted: bool


def hold_start(pressed: bool, now: float) -> HoldState:
    """Initial state from the level read at start: a button already down does not count."""
    return HoldState(debounce_start(pressed, now), counted=pressed)


def hold_step(state: HoldState, pressed: bool, now: float, *, hold_s: float,
              debounce_s: float) -> tuple[HoldState, bool]:
    """Feed one raw sample; return the new state and True when this press just counted.

    A press counts once it has been seen pressed, without a break, for ``hold_s``; it must
    be released (debounced) before another press can count.
    """
    level, _ = debounce_step(state.pressed, pressed, now, debounce_s)
    if not level.stable:
        return HoldState(level, counted=False), False
    if state.counted or not level.candidate:
        return HoldState(level, counted=state.counted), False
    if now - level.since >= hold_s:
        return HoldState(level, counted=True), True
    return HoldState(level, counted=False), False


def _check_pin(pin: int) -> int:
    if not isinstance(pin, int) or isinstance(pin, bool) or pin not in USABLE_PINS:
        raise ConfigError(f"panic button: GPIO {pin!r} cannot be used; choose a BCM number from 2 to 27 "
                          "(0 and 1 belong to the HAT EEPROM)")
    return pin


class PanicButton:
    """A normally-open push button between a GPIO and GND, counted after it is held.

    Wiring (BCM numbers): one terminal of the button to ``pin`` (default GPIO26, header pin
    37), the other to GND (header pin 39, next to it). The Pi's internal pull-up holds the
    pin high; pressing pulls it low. No resistor is needed. A cut wire reads "not pressed":
    test the button monthly.

    Example::

        with PanicButton(pin=26, hold_s=2.0, pin_factory=factory) as button:
            button.start(on_held=lambda: print("lockdown"))
    """

    kind = "panic_button"
    driver = "gpio"

    def __init__(self, name: str = "panic0", pin: int = 26, hold_s: float = 2.0, debounce_s: float = 0.03,
                 *, pin_factory: Any = None, clock: Callable[[], float] = time.monotonic) -> None:
        from gpiozero import Button

        if not 0 < hold_s <= 30:
            raise ConfigError(f"panic button {name}: hold_s must be above 0 and at most 30, not {hold_s}")
        self.name = name
        self.pin = _check_pin(pin)
        self.hold_s = hold_s
        self.debounce_s = debounce_s
        self._clock = clock
        self._closed = False
        self._lock = threading.Lock()
        self._sampler = Sampler("button", name, log)
        self.presses = 0
        try:
            self._button = Button(pin, pull_up=True, pin_factory=pin_factory)
        except Exception as exc:  # gpiozero raises GPIOZeroError subclasses and OSErrors
            raise GpioError(f"cannot set up the panic button on GPIO{pin}: {exc}") from exc
        self._state = hold_start(bool(self._button.is_pressed), self._clock())
        self.stuck = self._state.counted
        if self.stuck:
            log.warning("button=%s event=pressed_at_start pin=%d", name, pin)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} GPIO{self.pin}>"

    def __enter__(self) -> PanicButton:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def is_pressed(self) -> bool:
        """Debounced: the button is down now."""
        return self._state.pressed.stable

    def poll(self, now: float | None = None) -> bool:
        """Sample the pin once; True when a press has just been held long enough."""
        if self._closed:
            raise DeviceClosed(f"panic button {self.name} is closed")
        now = self._clock() if now is None else now
        with self._lock:
            self._state, counted = hold_step(self._state, bool(self._button.is_pressed), now,
                                             hold_s=self.hold_s, debounce_s=self.debounce_s)
            if not self._state.pressed.stable:
                self.stuck = False
            if counted:
                self.presses += 1
        return counted

    def start(self, on_held: Callable[[], None], interval_s: float = 0.02) -> None:
        """Sample in a background thread; call ``on_held`` once for each press held long enough."""
        if self._closed:
            raise DeviceClosed(f"panic button {self.name} is closed")

        def sample() -> list[bool]:
            return [True] if self.poll() else []

        def held(_: bool) -> None:
            log.warning("button=%s event=held hold_s=%.1f", self.name, self.hold_s)
            on_held()

        self._sampler.start(sample, held, interval_s)

    def stop(self) -> None:
        """Stop the sampling thread, if any."""
        self._sampler.stop()

    def state(self) -> dict[str, Any]:
        """A printable summary: pin, hold time, pressed, stuck, presses counted."""
        out: dict[str, Any] = {"driver": self.driver, "pin": self.pin, "hold_s": self.hold_s, "closed": self._closed}
        if not self._closed:
            out.update(pressed=self.is_pressed, stuck=self.stuck, presses=self.presses)
        return out

    def close(self) -> None:
        """Stop sampling and release the pin; idempotent."""
        if self._closed:
            return
        self.stop()
        self._closed = True
        try:
            self._button.close()
        except Exception as exc:
            log.debug("button=%s event=close_failed error=%s", self.name, exc)


class SimPanicButton(PanicButton):
    """``PanicButton`` on a gpiozero ``MockFactory`` pin, with helpers that act like a hand.

    Example::

        with SimPanicButton(hold_s=2.0) as button:
            button.hold(2.5)   # pressed now, released 2.5 s later
    """

    driver = "sim"

    def __init__(self, name: str = "panic0", pin: int = 26, hold_s: float = 2.0, debounce_s: float = 0.03,
                 *, pin_factory: Any = None, clock: Callable[[], float] = time.monotonic) -> None:
        if pin_factory is None:
            from gpiozero.pins.mock import MockFactory

            pin_factory = MockFactory()
        self.factory = pin_factory
        super().__init__(name, pin, hold_s, debounce_s, pin_factory=pin_factory, clock=clock)

    def press(self) -> None:
        """Push the button (the pin goes low)."""
        self.factory.pin(self.pin).drive_low()

    def release(self) -> None:
        """Let go (the pin goes high)."""
        self.factory.pin(self.pin).drive_high()

    def hold(self, hold_s: float) -> None:
        """Push now and let go ``hold_s`` later; returns at once."""
        self.press()
        timer = threading.Timer(hold_s, self.release)
        timer.daemon = True
        timer.start()
