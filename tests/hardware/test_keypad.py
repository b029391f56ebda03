"""MatrixKeypad scanned on MockFactory pins wired as a real 3x4 matrix."""

import pytest
from gpiozero.pins.mock import MockFactory

from hardware.errors import ConfigError, DeviceClosed, GpioError
from hardware.keypad import LAYOUT_3X4, MatrixKeypad, SimKeypad, decode_keys


@pytest.mark.parametrize(
    ("pressed", "key"),
    [(set(), None), ({(0, 0)}, "1"), ({(1, 1)}, "5"), ({(3, 0)}, "*"), ({(3, 1)}, "0"), ({(3, 2)}, "#"),
     ({(0, 0), (0, 1)}, None), ({(0, 0), (1, 0), (1, 1)}, None)],
)
def test_decode_table(pressed: set, key: str | None) -> None:
    assert decode_keys(frozenset(pressed)) == key


@pytest.fixture
def keypad():
    with SimKeypad() as k:
        yield k


@pytest.mark.parametrize("key", list("1234567890*#"))
def test_every_key_scans_to_its_position(keypad: SimKeypad, key: str) -> None:
    keypad.press(key)
    (row, col), = keypad.scan()
    assert LAYOUT_3X4[row][col] == key
    keypad.release()
    assert keypad.scan() == frozenset()


def test_a_held_key_is_one_press_and_bounce_is_ignored(keypad: SimKeypad) -> None:
    events = []
    now = 0.0
    for down in [1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1]:
        keypad.press("7") if down else keypad.release("7")
        events.append(keypad.poll(now))
        now += 0.01
    assert [e for e in events if e] == ["7", "7"]


def test_two_keys_at_once_give_nothing(keypad: SimKeypad) -> None:
    keypad.press("1")
    keypad.press("5")
    assert [keypad.poll(t * 0.01) for t in range(10)] == [None] * 10


def test_typing_a_pin(keypad: SimKeypad) -> None:
    typed = []
    now = 0.0
    for key in "4821#":
        keypad.press(key)
        for _ in range(5):
            got = keypad.poll(now)
            now += 0.01
            if got:
                typed.append(got)
        keypad.release()
        for _ in range(5):
            keypad.poll(now)
            now += 0.01
    assert "".join(typed) == "4821#"
    assert "4821" not in str(keypad.state())


def test_read_key_and_background_scan(keypad: SimKeypad) -> None:
    import threading

    keypad.press("#")
    assert keypad.read_key(timeout_s=2.0) == "#"
    keypad.release()
    got = []
    seen = threading.Event()
    keypad.start(lambda k: (got.append(k), seen.set()))
    keypad.press("9")
    assert seen.wait(5.0)
    keypad.stop()
    assert got == ["9"]


def test_read_key_times_out(keypad: SimKeypad) -> None:
    assert keypad.read_key(timeout_s=0.05) is None


def test_rows_idle_high_and_released_on_close() -> None:
    factory = MockFactory()
    keypad = SimKeypad(pin_factory=factory)
    assert all(factory.pin(p).state for p in keypad.row_pins)
    keypad.close()
    keypad.close()
    with pytest.raises(DeviceClosed):
        keypad.scan()
    MatrixKeypad(pin_factory=factory).close()  # pins are free again


def test_bad_layouts_and_pins() -> None:
    factory = MockFactory()
    with pytest.raises(ConfigError, match="rows"):
        MatrixKeypad(row_pins=(12, 16, 20), pin_factory=factory)
    with pytest.raises(ConfigError, match="twice"):
        MatrixKeypad(row_pins=(12, 16, 20, 21), col_pins=(19, 26, 12), pin_factory=factory)
    with pytest.raises(GpioError):
        MatrixKeypad(row_pins=(12, 16, 20, 21), col_pins=(19, 26, 99), pin_factory=factory)
    with pytest.raises(ValueError, match="no key"):
        SimKeypad(pin_factory=MockFactory()).press("A")


def test_enter_types_keys_for_the_background_scan(keypad: SimKeypad) -> None:
    import threading

    got: list[str] = []
    done = threading.Event()

    def on_key(key: str) -> None:
        got.append(key)
        if len(got) == 5:
            done.set()

    keypad.start(on_key)
    keypad.enter("1234#").join(timeout=10)
    assert done.wait(5.0)
    keypad.stop()
    assert "".join(got) == "1234#"


def test_enter_refuses_unknown_keys_before_typing(keypad: SimKeypad) -> None:
    with pytest.raises(ValueError, match="no key"):
        keypad.enter("12A")
    assert keypad.scan() == frozenset()
