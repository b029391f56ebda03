"""The panic button: the pure hold rule on a table, the driver on gpiozero's MockFactory."""

from __future__ import annotations

import time

import pytest
from gpiozero.pins.mock import MockFactory, MockPin

from hardware.button import PanicButton, SimPanicButton, hold_start, hold_step
from hardware.errors import ConfigError, DeviceClosed, GpioError

HOLD, DEB = 2.0, 0.03


def _run(samples: list[tuple[float, bool]], start_pressed: bool = False) -> list[float]:
    """Feed (time, pressed) samples; the times at which a press counted."""
    state = hold_start(start_pressed, 0.0)
    fired = []
    for now, pressed in samples:
        state, counted = hold_step(state, pressed, now, hold_s=HOLD, debounce_s=DEB)
        if counted:
            fired.append(now)
    return fired


def _press(start: float, end: float, step: float = 0.05) -> list[tuple[float, bool]]:
    out, t = [], start
    while t < end:
        out.append((round(t, 3), True))
        t += step
    return out


@pytest.mark.parametrize(("samples", "start_pressed", "expected"), [
    # a tap is not a press
    ([(0.1, True), (0.5, True), (0.6, False), (3.0, False)], False, []),
    # held 2 s counts once, however long it is held after
    (_press(1.0, 6.0), False, [3.0]),
    # released and pressed again: counts again
    (_press(1.0, 3.5) + [(3.6, False), (3.7, False)] + _press(4.0, 6.5), False, [3.0, 6.0]),
    # a break in the middle restarts the hold time
    (_press(1.0, 2.0) + [(2.0, False), (2.1, False)] + _press(2.2, 4.5), False, [4.2]),
    # chatter shorter than the debounce time does not break the hold, and is not a press on its own
    ([(0.0, True), (0.01, False), (0.02, True)] + _press(0.05, 2.5), False, [2.05]),
    # pressed at start-up (stuck, or wired normally-closed): never counts until released
    (_press(0.0, 5.0), True, []),
    (_press(0.0, 1.0) + [(1.0, False), (1.1, False)] + _press(1.2, 3.5), True, [3.2]),
])
def test_hold_rule(samples, start_pressed, expected) -> None:
    assert _run(samples, start_pressed) == pytest.approx(expected)


def test_pin_driven_low_and_held_counts_once_then_again_after_release() -> None:
    factory = MockFactory()
    clock = [100.0]
    with PanicButton(pin=26, hold_s=2.0, pin_factory=factory, clock=lambda: clock[0]) as button:
        pin = factory.pin(26)
        assert pin.pull == "up" and not button.poll(100.0)
        pin.drive_low()
        assert [button.poll(t) for t in (100.1, 101.0, 102.0, 102.2, 105.0)] == [False, False, False, True, False]
        assert button.is_pressed and button.presses == 1
        pin.drive_high()
        assert not button.poll(105.1) and button.is_pressed  # not yet: the release is debounced
        assert not button.poll(105.2) and not button.is_pressed
        pin.drive_low()
        assert button.poll(105.3) is False and button.poll(107.2) is False and button.poll(107.3) is True
        assert button.state() == {"driver": "gpio", "pin": 26, "hold_s": 2.0, "closed": False, "pressed": True,
                                  "stuck": False, "presses": 2}


class ShortedPin(MockPin):
    """A pin whose button is held (or shorted) when the service starts."""

    def _set_pull(self, value):
        super()._set_pull(value)
        self.drive_low()


def test_stuck_at_start_is_reported_and_ignored() -> None:
    factory = MockFactory(pin_class=ShortedPin)
    with PanicButton(pin=21, hold_s=0.5, pin_factory=factory, clock=lambda: 0.0) as button:
        assert button.stuck and not button.poll(10.0)
        factory.pin(21).drive_high()
        button.poll(10.1)
        button.poll(10.2)
        assert not button.stuck


def test_background_thread_calls_on_held_for_a_simulated_hold() -> None:
    calls = []
    with SimPanicButton(hold_s=0.2) as button:
        button.start(on_held=lambda: calls.append(time.monotonic()))
        button.hold(0.1)  # too short
        time.sleep(0.4)
        assert calls == []
        button.hold(0.5)
        deadline = time.monotonic() + 3
        while not calls and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(calls) == 1 and button.state()["driver"] == "sim"


@pytest.mark.parametrize("pin", [0, 1, 28, -1, 40, "26", True])
def test_bad_pin_is_a_clear_config_error(pin) -> None:
    with pytest.raises(ConfigError, match="BCM number from 2 to 27"):
        PanicButton(pin=pin, pin_factory=MockFactory())


@pytest.mark.parametrize("hold_s", [0, -1, 31])
def test_bad_hold_time(hold_s) -> None:
    with pytest.raises(ConfigError, match="hold_s"):
        PanicButton(hold_s=hold_s, pin_factory=MockFactory())


def test_pin_already_in_use_is_a_gpio_error() -> None:
    factory = MockFactory()
    with PanicButton(pin=26, pin_factory=factory):
        with pytest.raises(GpioError, match="GPIO26"):
            PanicButton(pin=26, pin_factory=factory)


def test_close_is_idempotent_and_frees_the_pin() -> None:
    factory = MockFactory()
    button = PanicButton(pin=26, pin_factory=factory)
    button.close()
    button.close()
    with pytest.raises(DeviceClosed):
        button.poll()
    assert button.state()["closed"] is True
    PanicButton(pin=26, pin_factory=factory).close()  # the pin is free again


def test_config_builds_the_button_and_refuses_a_shared_pin(tmp_path) -> None:
    from pydantic import ValidationError

    from hardware.config import HardwareConfig, KeypadConfig, simulated_kiosk_config
    from hardware.devices import build_devices, format_devices

    import shutil
    from pathlib import Path

    shutil.copyfile(Path(__file__).resolve().parents[1] / "fixtures" / "kiosk" / "face.jpg", tmp_path / "face.jpg")
    with build_devices(simulated_kiosk_config(tmp_path)) as devices:
        button = devices.buttons["panic0"]
        assert isinstance(button, SimPanicButton) and button.pin == 26 and button.hold_s == 2.0
        assert "button panic0" in format_devices(devices.describe())
    with pytest.raises(ValidationError, match="GPIO26 is used by both keypad keypad0 and button panic0"):
        HardwareConfig.model_validate({"keypads": [KeypadConfig(type="sim").model_dump()],
                                       "buttons": [{"type": "gpio", "pin": 26}]})
    with pytest.raises(ValidationError, match="buttons.0.pin"):
        HardwareConfig.model_validate({"buttons": [{"type": "gpio", "pin": 1}]})
