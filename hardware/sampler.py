"""The one background thread a driver samples its device on (door inputs, keypad, reader, button).

Every driver used to carry its own copy of the same start/stop/join block; this is that block once.
A :class:`Sampler` runs either a plain loop (``start_loop``) or the common "sample every interval,
hand each reading on" loop (``start``), and stops and joins it the same way for all of them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

from hardware.errors import DeviceClosed

T = TypeVar("T")


class Sampler:
    """A driver's sampling thread: started once, stopped and joined from any thread but its own.

    Log lines name the driver (``<what>=<name>``) and never a reading: a keypad's key may be part
    of a PIN, a reader's UID is personal data.
    """

    def __init__(self, what: str, name: str, log: logging.Logger) -> None:
        self.what, self.name, self.log = what, name, log
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True while the sampling thread has been started and not stopped."""
        return self._thread is not None

    @property
    def stopping(self) -> threading.Event:
        """Set by :meth:`stop`; a driver's own waits use it so that stop() interrupts them."""
        return self._stop

    def start_loop(self, loop: Callable[[threading.Event], None]) -> None:
        """Run ``loop(stop_event)`` on the thread; a second start while running does nothing."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=loop, args=(self._stop,), daemon=True,
                                        name=f"{self.what}-{self.name}")
        self._thread.start()

    def start(self, sample: Callable[[], Iterable[T]], deliver: Callable[[T], None],
              interval_s: float) -> None:
        """Every ``interval_s`` call ``sample()`` and pass each item it yields to ``deliver``.

        ``DeviceClosed`` from ``sample`` ends the thread; any other error in either is logged
        and sampling goes on (a door must keep reading its inputs after one bad callback).
        """
        def loop(stop: threading.Event) -> None:
            while not stop.wait(interval_s):
                try:
                    items = list(sample())
                except DeviceClosed:
                    return
                except Exception:
                    self.log.exception("%s=%s event=sample_failed", self.what, self.name)
                    continue
                for item in items:
                    try:
                        deliver(item)
                    except Exception:
                        self.log.exception("%s=%s event=deliver_failed", self.what, self.name)

        self.start_loop(loop)

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop the thread, if any, and wait for it (not when called from the thread itself)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=timeout_s)
