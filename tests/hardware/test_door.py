"""DoorIO on gpiozero's MockFactory: drive the contact pin, read the relay pin."""

import pytest
from gpiozero.pins.mock import MockFactory

from hardware.door import (DOOR_CLOSED, DOOR_OPENED, REX_PRESSED, REX_RELEASED, TAMPER_OPENED, DoorIO,
                           SimDoorIO)
from hardware.errors import ConfigError, DeviceClosed, GpioError, HardwareError

PINS = dict(relay_pin=17, contact_pin=27, rex_pin=22, green_led_pin=5, red_led_pin=6, buzzer_pin=13, tamper_pin=26)


@pytest.fixture
def factory() -> MockFactory:
    return MockFactory()


@pytest.mark.parametrize(("active_high", "level_when_unlocked"), [(True, True), (False, False)])
def test_relay_pin_follows_unlock_and_lock(factory: MockFactory, active_high: bool, level_when_unlocked: bool) -> None:
    with DoorIO(**PINS, relay_active_high=active_high, pin_factory=factory) as io:
        relay = factory.pin(17)
        assert relay.state is (not level_when_unlocked)  # starts locked
        io.unlock()
        assert relay.state is level_when_unlocked and io.is_unlocked
        io.lock()
        assert relay.state is (not level_when_unlocked) and not io.is_unlocked


def test_close_locks_the_strike_first(factory: MockFactory) -> None:
    io = DoorIO(**PINS, relay_active_high=False, pin_factory=factory)
    io.unlock()
    relay = factory.pin(17)
    io.close()
    assert True in [s.state for s in relay.states]  # it was driven high (locked, active low)
    assert relay.states[-2].state is True or relay.state is True
    io.close()
    with pytest.raises(DeviceClosed):
        io.unlock()


def test_contact_pin_drives_door_events(factory: MockFactory) -> None:
    with DoorIO(**PINS, pin_factory=factory) as io:
        contact = factory.pin(27)
        contact.drive_low()  # NC reed closed: door shut
        io.reset_inputs(0.0)
        contact.drive_high()
        assert io.poll(0.00) == []
        assert [e.kind for e in io.poll(0.03)] == [DOOR_OPENED]
        assert io.is_open
        contact.drive_low()
        io.poll(0.10)
        assert [e.kind for e in io.poll(0.14)] == [DOOR_CLOSED]


def test_chattering_contact_gives_one_event(factory: MockFactory) -> None:
    with SimDoorIO(pin_factory=factory, **PINS) as io:
        io.reset_inputs(0.0)
        events = []
        now = 0.0
        for level in [1, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1]:  # bounces for 12 ms, then open
            io.open_door() if level else io.close_door()
            events += io.poll(now)
            now += 0.002 if now < 0.012 else 0.01
        assert [e.kind for e in events] == [DOOR_OPENED]


def test_rex_and_tamper(factory: MockFactory) -> None:
    with SimDoorIO(pin_factory=factory, **PINS) as io:
        io.reset_inputs(0.0)
        io.press_rex()
        io.open_case()
        io.poll(0.0)
        assert sorted(e.kind for e in io.poll(0.05)) == sorted([REX_PRESSED, TAMPER_OPENED])
        assert io.is_tampered
        io.release_rex()
        io.poll(0.1)
        assert [e.kind for e in io.poll(0.2)] == [REX_RELEASED]


def test_sim_door_starts_closed_and_reports_strike_from_the_pin() -> None:
    with SimDoorIO(**{**PINS, "relay_active_high": False}) as io:
        assert not io.is_open and not io.is_tampered
        assert not io.strike_energised
        io.unlock()
        assert io.strike_energised and factory_level(io) is False
        state = io.state()
        assert state["strike"] == "unlocked" and state["door"] == "closed" and state["tamper"] == "closed"


def factory_level(io: SimDoorIO) -> bool:
    return io.factory.pin(io.pins["relay"]).state


def test_leds_and_buzzer(factory: MockFactory) -> None:
    with DoorIO(**PINS, pin_factory=factory) as io:
        io.set_leds(green=True)
        io.set_buzzer(True)
        assert factory.pin(5).state and not factory.pin(6).state and factory.pin(13).state
        io.set_leds(red=True)
        io.set_buzzer(False)
        assert not factory.pin(5).state and factory.pin(6).state and not factory.pin(13).state


def test_optional_devices_can_be_left_out(factory: MockFactory) -> None:
    with DoorIO(relay_pin=17, contact_pin=27, rex_pin=None, green_led_pin=None, red_led_pin=None,
                buzzer_pin=None, tamper_pin=None, pin_factory=factory) as io:
        io.set_leds(green=True)
        io.set_buzzer(True)
        assert io.state()["tamper"] is None and not io.is_tampered


def test_two_functions_on_one_pin_is_a_config_error(factory: MockFactory) -> None:
    with pytest.raises(ConfigError, match="share one pin"):
        DoorIO(relay_pin=17, contact_pin=17, pin_factory=factory)


def test_a_pin_already_in_use_is_a_gpio_error_and_releases_what_it_claimed(factory: MockFactory) -> None:
    from gpiozero import LED

    blocker = LED(6, pin_factory=factory)
    with pytest.raises(GpioError, match="red LED on GPIO6") as info:
        DoorIO(**PINS, pin_factory=factory)
    assert isinstance(info.value, OSError) and isinstance(info.value, HardwareError)
    blocker.close()
    DoorIO(**PINS, pin_factory=factory).close()  # the relay and contact were released


def test_background_sampling_delivers_events(factory: MockFactory) -> None:
    import threading

    got = []
    seen = threading.Event()
    with SimDoorIO(pin_factory=factory, **PINS) as io:
        io.start(lambda e: (got.append(e.kind), seen.set()))
        io.open_door()
        assert seen.wait(5.0)
        io.stop()
    assert got == [DOOR_OPENED]


def test_tap_rex_presses_then_releases(factory: MockFactory) -> None:
    import threading

    got = []
    released = threading.Event()
    with SimDoorIO(pin_factory=factory, **PINS) as io:
        io.start(lambda e: (got.append(e.kind), e.kind == REX_RELEASED and released.set()))
        io.tap_rex(hold_s=0.1)
        assert released.wait(5.0)
        io.stop()
    assert got == [REX_PRESSED, REX_RELEASED]
