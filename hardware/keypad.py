"""A 3x4 matrix keypad on GPIO (rows driven, columns read), scanned and debounced.

The keys are returned as one-character strings: ``"0"``-``"9"``, ``"*"`` and ``"#"``.
Decoding and debouncing are pure; only :meth:`MatrixKeypad.scan` touches pins.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from hardware.debounce import Debounced, debounce_start, debounce_step
from hardware.errors import ConfigError, DeviceClosed, GpioError
from hardware.sampler import Sampler

log = logging.getLogger(__name__)

#: Standard 3x4 phone layout, one string per row.
LAYOUT_3X4: tuple[str, ...] = ("123", "456", "789", "*0#")


def decode_keys(pressed: frozenset[tuple[int, int]], layout: tuple[str, ...] = LAYOUT_3X4) -> str | None:
    """Key for one (row, column) contact; None for none or several (chords and ghosting)."""
    if len(pressed) != 1:
        return None
    row, col = next(iter(pressed))
    return layout[row][col]


class MatrixKeypad:
    """A membrane 3x4 keypad: row pins are outputs held high, column pins inputs pulled up.

    A scan drives one row low at a time; a pressed key joins its row to its column, so that
    column reads low. Wiring (BCM, from config): rows default GPIO 12, 16, 20, 21 (pins 32,
    36, 38, 40), columns GPIO 19, 26, 23 (pins 35, 37, 16). No resistors needed.

    Example::

        with MatrixKeypad(pin_factory=factory) as keypad:
            key = keypad.read_key(timeout_s=5)   # "7", "#", ...
    """

    kind = "keypad"
    driver = "gpio"

    def __init__(
        self,
        name: str = "keypad0",
        row_pins: tuple[int, ...] = (12, 16, 20, 21),
        col_pins: tuple[int, ...] = (19, 26, 23),
        debounce_s: float = 0.03,
        scan_interval_s: float = 0.01,
        layout: tuple[str, ...] = LAYOUT_3X4,
        *,
        pin_factory: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from gpiozero import DigitalInputDevice, DigitalOutputDevice

        if len(row_pins) != len(layout) or any(len(row) != len(col_pins) for row in layout):
            raise ConfigError(f"keypad {name}: {len(row_pins)} rows x {len(col_pins)} columns do not match the layout")
        if len(set(row_pins) | set(col_pins)) != len(row_pins) + len(col_pins):
            raise ConfigError(f"keypad {name}: a pin is used twice")
        self.name = name
        self.row_pins, self.col_pins, self.layout = tuple(row_pins), tuple(col_pins), layout
        self.debounce_s = debounce_s
        self.scan_interval_s = scan_interval_s
        self._clock = clock
        self._closed = False
        self._lock = threading.Lock()
        self._sampler = Sampler("keypad", name, log)
        self._stop = self._sampler.stopping  # wait_key's pauses end when the scan is stopped
        self._devices: list[Any] = []
        try:
            for pin in self.row_pins:
                self._devices.append(DigitalOutputDevice(pin, initial_value=True, pin_factory=pin_factory))
            for pin in self.col_pins:
                self._devices.append(DigitalInputDevice(pin, pull_up=True, pin_factory=pin_factory))
        except Exception as exc:
            self._release()
            raise GpioError(f"cannot set up keypad {name}: {exc}") from exc
        self._rows = self._devices[: len(self.row_pins)]
        self._cols = self._devices[len(self.row_pins):]
        self._state: Debounced[str | None] = debounce_start(None, clock())
        self.presses = 0

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    def __enter__(self) -> "MatrixKeypad":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def scan(self) -> frozenset[tuple[int, int]]:
        """Drive each row low in turn and collect the (row, column) contacts that read low."""
        if self._closed:
            raise DeviceClosed(f"keypad {self.name} is closed")
        pressed = set()
        with self._lock:
            for r, row in enumerate(self._rows):
                row.off()
                try:
                    for c, col in enumerate(self._cols):
                        if col.is_active:  # pulled up: active means low, key down
                            pressed.add((r, c))
                finally:
                    row.on()
        return frozenset(pressed)

    def poll(self, now: float | None = None) -> str | None:
        """Scan once; return a key when a press has just settled (one result per press)."""
        now = self._clock() if now is None else now
        key = decode_keys(self.scan(), self.layout)
        self._state, changed = debounce_step(self._state, key, now, self.debounce_s)
        if changed and self._state.stable is not None:
            self.presses += 1
            return self._state.stable
        return None

    def read_key(self, timeout_s: float) -> str | None:
        """Scan at the scan interval until a key is pressed or the timeout passes."""
        end = self._clock() + timeout_s
        while True:
            start = self._clock()
            key = self.poll(start)
            if key is not None:
                return key
            if start >= end:
                return None
            self._stop.wait(self.scan_interval_s)

    def start(self, on_key: Callable[[str], None]) -> None:
        """Scan in a background thread, calling ``on_key`` once per key press."""
        if self._closed:
            raise DeviceClosed(f"keypad {self.name} is closed")

        def sample() -> list[str]:
            key = self.poll()
            return [] if key is None else [key]

        self._sampler.start(sample, on_key, self.scan_interval_s)

    def stop(self) -> None:
        """Stop the background scan, if any."""
        self._sampler.stop()

    def state(self) -> dict[str, Any]:
        """A printable summary; never the keys pressed (they may be a PIN)."""
        return {"driver": self.driver, "rows": list(self.row_pins), "cols": list(self.col_pins),
                "presses": self.presses, "scanning": self._sampler.running, "closed": self._closed}

    def _release(self) -> None:
        for device in self._devices:
            try:
                device.close()
            except Exception as exc:
                log.debug("keypad=%s event=close_failed error=%s", self.name, exc)
        self._devices = []

    def close(self) -> None:
        """Stop scanning and release every pin; idempotent."""
        if self._closed:
            return
        self.stop()
        self._closed = True
        self._release()


class SimKeypad(MatrixKeypad):
    """``MatrixKeypad`` on ``MockFactory`` pins wired like a real matrix.

    Row pins are gpiozero ``MockPin`` subclasses that, whenever the scan drives them, pull
    the columns of the keys held down; nothing of gpiozero is faked.

    Example::

        with SimKeypad() as keypad:
            keypad.press("5")
            key = keypad.read_key(timeout_s=1)
    """

    driver = "sim"

    def __init__(self, name: str = "keypad0", row_pins: tuple[int, ...] = (12, 16, 20, 21),
                 col_pins: tuple[int, ...] = (19, 26, 23), *args: Any, pin_factory: Any = None,
                 **kwargs: Any) -> None:
        from gpiozero.pins.mock import MockFactory, MockPin

        if pin_factory is None:
            pin_factory = MockFactory()
        self.factory = pin_factory
        self._held: set[tuple[int, int]] = set()
        keypad = self

        class RowPin(MockPin):
            """A row line: its level reaches the columns of the keys held on it."""

            def _change_state(self, value: bool) -> bool:
                changed = super()._change_state(value)
                if changed:
                    keypad._update_columns()
                return changed

        self._row_mock = [pin_factory.pin(pin, pin_class=RowPin) for pin in row_pins]
        self._col_mock = [pin_factory.pin(pin) for pin in col_pins]
        super().__init__(name, row_pins, col_pins, *args, pin_factory=pin_factory, **kwargs)

    def _update_columns(self) -> None:
        for c, col in enumerate(getattr(self, "_col_mock", [])):
            if col.function != "input":
                continue
            low = any(
                (r, c) in self._held and row.function == "output" and not row.state
                for r, row in enumerate(self._row_mock)
            )
            col.drive_low() if low else col.drive_high()

    def _find(self, key: str) -> tuple[int, int]:
        for r, row in enumerate(self.layout):
            if key in row:
                return r, row.index(key)
        raise ValueError(f"no key {key!r} on this keypad")

    def enter(self, keys: str, hold_s: float = 0.08, gap_s: float = 0.08) -> threading.Thread:
        """Type ``keys`` one by one in a background thread (``sim/<device>/pin``); returns it.

        Each key is held for ``hold_s`` and released for ``gap_s``: both must exceed the
        debounce time plus the scan interval for every key to register.
        """
        for key in keys:
            self._find(key)  # refuse unknown keys before typing any
        pause = threading.Event()

        def run() -> None:
            for key in keys:
                self.press(key)
                pause.wait(hold_s)
                self.release(key)
                pause.wait(gap_s)

        thread = threading.Thread(target=run, name=f"keypad-{self.name}-typing", daemon=True)
        thread.start()
        return thread

    def press(self, key: str) -> None:
        """Hold a key down."""
        self._held.add(self._find(key))
        self._update_columns()

    def release(self, key: str | None = None) -> None:
        """Let go of one key, or of every key."""
        if key is None:
            self._held.clear()
        else:
            self._held.discard(self._find(key))
        self._update_columns()
