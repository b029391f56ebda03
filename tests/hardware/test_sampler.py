"""The shared sampling thread of every driver (hardware.sampler)."""

from __future__ import annotations

import logging
import threading
import time

from hardware.errors import DeviceClosed
from hardware.sampler import Sampler

log = logging.getLogger("test.sampler")


def _until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.005)
    return predicate()


def test_delivers_every_item_and_survives_bad_samples_and_callbacks(caplog) -> None:
    sampler, got, calls = Sampler("keypad", "k0", log), [], [0]

    def sample():
        calls[0] += 1
        if calls[0] == 2:
            raise OSError("bus glitch")
        return ["1", "2"] if calls[0] == 3 else []

    def deliver(item):
        if item == "1":
            raise ValueError("handler broke")
        got.append(item)

    with caplog.at_level(logging.ERROR, logger="test.sampler"):
        sampler.start(sample, deliver, 0.001)
        assert _until(lambda: got == ["2"] and calls[0] > 4)
        sampler.stop()
    assert not sampler.running
    assert "keypad=k0 event=sample_failed" in caplog.text and "keypad=k0 event=deliver_failed" in caplog.text
    assert "'1'" not in caplog.text and " 1 " not in caplog.text  # a key is never logged


def test_device_closed_ends_the_thread_and_start_is_idempotent() -> None:
    sampler, calls = Sampler("door", "d0", log), [0]

    def sample():
        calls[0] += 1
        raise DeviceClosed("gone")

    sampler.start(sample, lambda _: None, 0.001)
    first = sampler._thread
    sampler.start(sample, lambda _: None, 0.001)  # already running: no second thread
    assert sampler._thread is first
    first.join(2)
    assert not first.is_alive() and calls[0] == 1
    sampler.stop()


def test_stop_from_inside_the_loop_does_not_deadlock_and_restart_works() -> None:
    sampler, ran = Sampler("reader", "r0", log), threading.Event()

    def loop(stop: threading.Event) -> None:
        ran.set()
        sampler.stop()  # from its own thread: no join on itself
        assert stop.is_set()

    sampler.start_loop(loop)
    assert ran.wait(2) and _until(lambda: not sampler.running)
    again = threading.Event()
    sampler.start_loop(lambda stop: (again.set(), stop.wait(5)))
    assert again.wait(2) and sampler.running and not sampler.stopping.is_set()
    sampler.stop()
    assert sampler.stopping.is_set() and not sampler.running
