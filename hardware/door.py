"""Door I/O on gpiozero: strike relay, door contact, request-to-exit, LEDs, buzzer, tamper.

Inputs are sampled and debounced by :mod:`hardware.debounce` (pure code), because gpiozero's
``bounce_time`` is ignored by ``MockFactory`` pins and a software bounce filter on real pins
drops edges rather than waiting for a level to settle.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from hardware.debounce import Debounced, debounce_start, debounce_step
from hardware.errors import DeviceClosed, GpioError
from hardware.sampler import Sampler

log = logging.getLogger(__name__)

#: Input event kinds reported by :meth:`DoorIO.poll`.
DOOR_OPENED, DOOR_CLOSED = "door_opened", "door_closed"
REX_PRESSED, REX_RELEASED = "rex_pressed", "rex_released"
TAMPER_OPENED, TAMPER_CLOSED = "tamper_opened", "tamper_closed"


@dataclass(frozen=True)
class DoorInput:
    """One debounced input change: ``kind`` is one of the module's event constants."""

    door: str
    kind: str
    at: float


def _gpio(call: Callable[[], Any], what: str) -> Any:
    try:
        return call()
    except Exception as exc:  # gpiozero raises many GPIOZeroError subclasses and OSErrors
        raise GpioError(f"cannot set up {what}: {exc}") from exc


class DoorIO:
    """The GPIO side of one door.

    Wiring (BCM numbers from config; defaults in :class:`hardware.config.DoorIOConfig`):
    the strike relay module's IN on ``relay_pin`` (many modules are active-low: set
    ``relay_active_high=False``); a fail-secure strike is locked when the relay is off. The
    door contact (a normally closed reed switch) and the tamper switch go between their pin
    and GND, using the Pi's pull-up, so a cut wire reads "open". The request-to-exit button
    closes its pin to GND. LEDs through 330 ohm resistors; the buzzer through a transistor.

    Example::

        with DoorIO(relay_pin=17, contact_pin=27, rex_pin=22, pin_factory=factory) as io:
            io.unlock()
            events = io.poll(time.monotonic())
    """

    kind = "door_io"
    driver = "gpio"

    def __init__(
        self,
        name: str = "door0",
        relay_pin: int = 17,
        contact_pin: int = 27,
        rex_pin: int | None = 22,
        green_led_pin: int | None = 5,
        red_led_pin: int | None = 6,
        buzzer_pin: int | None = 13,
        tamper_pin: int | None = None,
        relay_active_high: bool = True,
        contact_normally_closed: bool = True,
        tamper_normally_closed: bool = True,
        debounce_s: float = 0.03,
        *,
        pin_factory: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from gpiozero import LED, Buzzer, DigitalInputDevice, OutputDevice

        self.name = name
        self.debounce_s = debounce_s
        self._clock = clock
        self._closed = False
        self._lock = threading.Lock()
        self._sampler = Sampler("door", name, log)
        self.pins = {"relay": relay_pin, "contact": contact_pin, "rex": rex_pin, "green_led": green_led_pin,
                     "red_led": red_led_pin, "buzzer": buzzer_pin, "tamper": tamper_pin}
        used = [p for p in self.pins.values() if p is not None]
        if len(used) != len(set(used)):
            from hardware.errors import ConfigError

            raise ConfigError(f"door {name}: two functions share one pin: {self.pins}")
        self._devices: list[Any] = []

        def claim(factory_call: Callable[[], Any], what: str) -> Any:
            device = _gpio(factory_call, what)
            self._devices.append(device)
            return device

        try:
            # Fail secure: the strike starts (and ends, in close()) de-energised.
            self.relay = claim(lambda: OutputDevice(relay_pin, active_high=relay_active_high, initial_value=False,
                                                    pin_factory=pin_factory), f"strike relay on GPIO{relay_pin}")
            # pull_up=True: "active" when the switch pulls the pin to GND. DigitalInputDevice
            # rather than Button: Button's hold thread costs 0.1 s per close and is unused.
            self._contact = claim(lambda: DigitalInputDevice(contact_pin, pull_up=True, pin_factory=pin_factory),
                                  f"door contact on GPIO{contact_pin}")
            self._contact_nc = contact_normally_closed
            self._rex = None if rex_pin is None else claim(
                lambda: DigitalInputDevice(rex_pin, pull_up=True, pin_factory=pin_factory), f"REX on GPIO{rex_pin}")
            self._tamper = None if tamper_pin is None else claim(
                lambda: DigitalInputDevice(tamper_pin, pull_up=True, pin_factory=pin_factory), f"tamper on GPIO{tamper_pin}")
            self._tamper_nc = tamper_normally_closed
            self.green_led = None if green_led_pin is None else claim(
                lambda: LED(green_led_pin, pin_factory=pin_factory), f"green LED on GPIO{green_led_pin}")
            self.red_led = None if red_led_pin is None else claim(
                lambda: LED(red_led_pin, pin_factory=pin_factory), f"red LED on GPIO{red_led_pin}")
            self.buzzer = None if buzzer_pin is None else claim(
                lambda: Buzzer(buzzer_pin, pin_factory=pin_factory), f"buzzer on GPIO{buzzer_pin}")
        except BaseException:
            self._release()
            raise
        self._states: dict[str, Debounced[bool]] = {}
        self.reset_inputs()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    def __enter__(self) -> "DoorIO":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self) -> None:
        if self._closed:
            raise DeviceClosed(f"door I/O {self.name} is closed")

    # -- raw levels -------------------------------------------------------------------------
    def _raw(self) -> dict[str, bool]:
        raw = {"door_open": self._contact.is_active != self._contact_nc}
        if self._rex is not None:
            raw["rex"] = bool(self._rex.is_active)
        if self._tamper is not None:
            raw["tamper"] = self._tamper.is_active != self._tamper_nc
        return raw

    def reset_inputs(self, now: float | None = None) -> None:
        """Take the current levels as the settled state (at start, with no events)."""
        now = self._clock() if now is None else now
        with self._lock:
            self._states = {key: debounce_start(value, now) for key, value in self._raw().items()}

    # -- outputs ----------------------------------------------------------------------------
    def unlock(self) -> None:
        """Energise the strike relay (a fail-secure strike opens)."""
        self._check()
        self.relay.on()

    def lock(self) -> None:
        """De-energise the strike relay."""
        self._check()
        self.relay.off()

    @property
    def is_unlocked(self) -> bool:
        """True while the strike relay is energised."""
        return bool(self.relay.is_active)

    def set_leds(self, green: bool = False, red: bool = False) -> None:
        """Switch the status LEDs (missing LEDs are ignored)."""
        self._check()
        for led, on in ((self.green_led, green), (self.red_led, red)):
            if led is not None:
                led.on() if on else led.off()

    def set_buzzer(self, on: bool) -> None:
        """Switch the buzzer (ignored when none is fitted)."""
        self._check()
        if self.buzzer is not None:
            self.buzzer.on() if on else self.buzzer.off()

    # -- debounced inputs -------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        """Debounced: the door contact reports the door open."""
        return self._states["door_open"].stable

    @property
    def is_tampered(self) -> bool:
        """Debounced: the tamper switch reports the case open (False when none fitted)."""
        state = self._states.get("tamper")
        return bool(state and state.stable)

    def poll(self, now: float | None = None) -> list[DoorInput]:
        """Sample every input once; return the debounced changes."""
        self._check()
        now = self._clock() if now is None else now
        names = {"door_open": (DOOR_CLOSED, DOOR_OPENED), "rex": (REX_RELEASED, REX_PRESSED),
                 "tamper": (TAMPER_CLOSED, TAMPER_OPENED)}
        events = []
        with self._lock:
            for key, raw in self._raw().items():
                self._states[key], changed = debounce_step(self._states[key], raw, now, self.debounce_s)
                if changed:
                    events.append(DoorInput(self.name, names[key][self._states[key].stable], now))
        return events

    def start(self, on_input: Callable[[DoorInput], None], interval_s: float = 0.005) -> None:
        """Sample inputs in a background thread, calling ``on_input`` for each change."""
        self._check()
        self._sampler.start(self.poll, on_input, interval_s)

    def stop(self) -> None:
        """Stop the background sampling thread, if any."""
        self._sampler.stop()

    def state(self) -> dict[str, Any]:
        """A printable summary of pins and current states."""
        out: dict[str, Any] = {"driver": self.driver, "pins": {k: v for k, v in self.pins.items() if v is not None},
                               "closed": self._closed}
        if not self._closed:
            out.update(strike="unlocked" if self.is_unlocked else "locked",
                       door="open" if self.is_open else "closed",
                       rex="pressed" if self._states.get("rex", debounce_start(False, 0)).stable else "released",
                       tamper=("open" if self.is_tampered else "closed") if self._tamper is not None else None)
        return out

    def _release(self) -> None:
        for device in reversed(self._devices):
            try:
                device.close()
            except Exception as exc:
                log.debug("door=%s event=close_failed error=%s", self.name, exc)
        self._devices = []

    def close(self) -> None:
        """Lock the strike, switch outputs off, release every pin; idempotent."""
        if self._closed:
            return
        self.stop()
        try:
            if not self.relay.closed:  # someone may have closed the device already
                self.relay.off()  # fail secure before letting go of the pin
        finally:
            self._closed = True
            self._release()


class SimDoorIO(DoorIO):
    """``DoorIO`` on gpiozero ``MockFactory`` pins, with helpers that act on the door.

    Example::

        with SimDoorIO() as io:
            io.open_door()
            events = io.poll(now + 0.1)
    """

    driver = "sim"

    def __init__(self, name: str = "door0", *args: Any, pin_factory: Any = None,
                 clock: Callable[[], float] = time.monotonic, **kwargs: Any) -> None:
        if pin_factory is None:
            from gpiozero.pins.mock import MockFactory

            pin_factory = MockFactory()
        self.factory = pin_factory
        super().__init__(name, *args, pin_factory=pin_factory, clock=clock, **kwargs)
        # Start as a closed door with the REX released and the case shut.
        self._drive("contact", self._contact_nc)
        if self.pins["rex"] is not None:
            self._drive("rex", False)
        if self.pins["tamper"] is not None:
            self._drive("tamper", self._tamper_nc)
        self.reset_inputs()

    def _drive(self, what: str, pulled_low: bool) -> None:
        pin = self.factory.pin(self.pins[what])
        pin.drive_low() if pulled_low else pin.drive_high()

    def jam_relay(self) -> None:
        """Fault injection: the strike relay stops following commands (a dead coil or driver)."""
        self._jammed = True

    def unlock(self) -> None:
        """Energise the strike relay, unless :meth:`jam_relay` broke it."""
        if getattr(self, "_jammed", False):
            self._check()
            return
        super().unlock()

    def open_door(self) -> None:
        """Open the door: the contact opens."""
        self._drive("contact", not self._contact_nc)

    def close_door(self) -> None:
        """Close the door: the contact closes."""
        self._drive("contact", self._contact_nc)

    def press_rex(self) -> None:
        """Press the request-to-exit button."""
        self._drive("rex", True)

    def release_rex(self) -> None:
        """Release the request-to-exit button."""
        self._drive("rex", False)

    def tap_rex(self, hold_s: float = 0.2) -> None:
        """Press the REX button for ``hold_s`` then let go (``sim/<device>/rex``); returns at once."""
        self.press_rex()
        timer = threading.Timer(hold_s, self.release_rex)
        timer.daemon = True
        timer.start()

    def open_case(self) -> None:
        """Open the reader's case: the tamper switch opens."""
        self._drive("tamper", not self._tamper_nc)

    def close_case(self) -> None:
        """Close the reader's case."""
        self._drive("tamper", self._tamper_nc)

    @property
    def strike_energised(self) -> bool:
        """Electrical truth read from the relay pin (respects active-low relays)."""
        level = bool(self.factory.pin(self.pins["relay"]).state)
        return level == self.relay.active_high
