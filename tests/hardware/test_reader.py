"""Mfrc522Reader: the real mfrc522 library code, fixed by subclass, on the emulated chip."""

import logging
import threading

import pytest
from gpiozero.pins.mock import MockFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardware.errors import CardReadError, DeviceClosed, HardwareError, ReaderError
from hardware.mfrc522_sim import SimBoard
from hardware.reader import CardRead, CardReader, SimReader

UID4 = bytes.fromhex("a1b2c3d4")
UID7 = bytes.fromhex("04a1b2c3d4e5f6")
UID10 = bytes.fromhex("04a1b2c3d4e5f60708a9")


@pytest.fixture
def reader():
    with SimReader(name="front") as r:
        yield r


def test_sim_reader_is_a_card_reader(reader: SimReader) -> None:
    assert isinstance(reader, CardReader)
    assert reader.state()["chip"] == "MFRC522 v2.0"


@pytest.mark.parametrize("uid", [UID4, UID7, UID10], ids=["single", "double", "triple"])
def test_reads_every_uid_size_as_bytes(reader: SimReader, uid: bytes) -> None:
    reader.present(uid)
    assert reader.read_uid() == uid


def test_no_card_is_none(reader: SimReader) -> None:
    assert reader.read_uid() is None


def test_a_held_card_is_one_presentation(reader: SimReader) -> None:
    reader.present(UID7)
    events = [reader.poll(now=t * 0.05) for t in range(20)]
    reads = [e for e in events if e is not None]
    assert reads == [CardRead(reader="front", uid=UID7, at=0.0)]
    assert reader.state()["reads"] == 20  # it answered every poll


def test_swiped_repeatedly_is_one_event_per_presentation(reader: SimReader) -> None:
    events = []
    now = 0.0
    for _ in range(3):
        reader.present(UID4)
        for _ in range(4):
            events.append(reader.poll(now))
            now += 0.05
        reader.remove()
        for _ in range(8):  # 0.4 s off the reader: longer than release_s
            events.append(reader.poll(now))
            now += 0.05
    assert [e.uid for e in events if e] == [UID4, UID4, UID4]


@pytest.mark.parametrize("fault", ["crc", "bcc", "partial", "collision", "drop", "parity"])
def test_noise_is_filtered_and_the_card_still_reported_once(reader: SimReader, fault: str) -> None:
    reader.present(UID7)
    reader.inject(fault, times=2)
    events = [reader.poll(now=t * 0.05) for t in range(6)]
    assert [e.uid for e in events if e] == [UID7]


@pytest.mark.parametrize(("fault", "reason"), [("crc", "crc"), ("bcc", "bcc"), ("partial", "partial"),
                                               ("collision", "collision"), ("parity", "protocol")])
def test_noise_raises_a_typed_read_error(reader: SimReader, fault: str, reason: str) -> None:
    reader.present(UID4)
    reader.inject(fault)
    with pytest.raises(CardReadError) as info:
        reader.read_uid()
    assert info.value.reason == reason
    assert isinstance(info.value, IOError) and isinstance(info.value, HardwareError)


@pytest.mark.parametrize("fault", ["partial", "bcc", "crc", "drop"])
def test_a_seven_byte_uid_broken_at_level_two_never_reports_its_first_half(reader: SimReader, fault: str) -> None:
    reader.present(UID7)
    reader.inject(fault, after=1)  # let cascade level 1 through, break level 2
    with pytest.raises(CardReadError):
        reader.read_uid()
    assert reader.read_uid() in (None, UID7)  # the card may need one WUPA to fall back


def test_noise_while_a_card_is_held_does_not_repeat_it(reader: SimReader) -> None:
    reader.present(UID4)
    events = [reader.poll(0.0)]
    reader.inject("crc", times=3)
    events += [reader.poll(t * 0.05) for t in range(1, 10)]
    assert [e.uid for e in events if e] == [UID4]
    assert reader.state()["noise"]["crc"] >= 1


def test_two_cards_at_once_are_refused_until_one_is_taken_away(reader: SimReader) -> None:
    reader.present(UID4)
    reader.add_card(bytes.fromhex("a1b2c3d5"))
    events = [reader.poll(t * 0.05) for t in range(4)]
    assert all(e is None for e in events)
    assert reader.state()["noise"]["collision"] >= 1
    reader.chip.lift(bytes.fromhex("a1b2c3d5"))
    later = [reader.poll(0.2 + t * 0.05) for t in range(3)]
    assert [e.uid for e in later if e] == [UID4]


def test_card_read_repr_never_shows_the_uid() -> None:
    assert UID7.hex() not in repr(CardRead(reader="front", uid=UID7, at=1.0)).lower()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    uid=st.sampled_from([4, 7, 10]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    faults=st.lists(st.tuples(st.sampled_from(["crc", "bcc", "partial", "collision", "drop", "parity"]),
                              st.integers(0, 3)), max_size=4),
)
def test_noise_never_produces_a_wrong_uid(reader: SimReader, uid: bytes, faults: list) -> None:
    reader.present(uid)
    for fault, after in faults:
        reader.inject(fault, after=after)
    for _ in range(12):
        try:
            got = reader.read_uid()
        except CardReadError:
            continue
        assert got in (None, uid)
    reader.chip.faults.clear()
    reader.read_uid()  # a card left READY by a failed attempt falls back to IDLE here
    assert reader.read_uid() == uid


def test_two_readers_on_ce0_and_ce1_are_independent() -> None:
    board = SimBoard()
    with SimReader(name="in", device=0, rst_pin=25, board=board) as inner, \
            SimReader(name="out", device=1, rst_pin=24, board=board) as outer:
        outer.present(UID4)
        assert inner.poll(0.0) is None
        assert outer.poll(0.0).uid == UID4
        inner.close()
        assert 24 in board.gpio.outputs  # closing one reader left the other's reset line alone
        outer.remove()
        outer.present(UID7)
        assert outer.poll(1.0).uid == UID7


def test_shared_reset_line_for_two_readers() -> None:
    board = SimBoard()
    with SimReader(name="a", device=0, board=board) as a, SimReader(name="b", device=1, board=board) as b:
        a.present(UID4)
        b.present(UID7)
        assert (a.read_uid(), b.read_uid()) == (UID4, UID7)


@pytest.mark.parametrize(("mode", "driven"), [(None, 25), (11, 25), (10, 22)])
def test_reset_pin_follows_the_numbering_mode_already_chosen(mode: int | None, driven: int) -> None:
    board = SimBoard()
    board.gpio.mode = mode
    with SimReader(board=board, rst_pin=25) as r:
        r.present(UID4)
        assert r.read_uid() == UID4
    # FakeGpio records BCM numbers: BOARD pin 22 is GPIO25 either way.
    assert (25, 1) in board.gpio.history
    assert all(pin == 25 for pin, _ in board.gpio.history)


def test_missing_spi_device_is_a_reader_error() -> None:
    board = SimBoard()
    board.load_mfrc522()
    from hardware.reader import Mfrc522Reader

    with pytest.raises(ReaderError, match="SPI bus 0 device 1"):
        Mfrc522Reader(device=1, mfrc522_module=board.load_mfrc522())


def test_a_chip_that_does_not_answer_is_a_reader_error() -> None:
    board = SimBoard()
    chip = board.attach(rst_pin=None)  # reset line not wired: chip stays powered down
    chip.in_reset = True
    from hardware.reader import Mfrc522Reader

    with pytest.raises(ReaderError, match="no MFRC522 answers"):
        Mfrc522Reader(mfrc522_module=board.load_mfrc522(), rst_pin=25)


def test_chip_dying_mid_service_is_a_reader_error_not_no_card(reader: SimReader) -> None:
    reader.present(UID4)
    reader.chip.in_reset = True
    with pytest.raises(ReaderError, match="did not finish"):
        reader.poll(0.0)


def test_brown_out_reset_is_detected_and_the_chip_reconfigured(reader: SimReader) -> None:
    reader.chip.set_reset_pin(False)
    reader.chip.set_reset_pin(True)  # registers back to defaults: antenna off, timer off
    reader.present(UID4)
    assert reader.poll(10.0).uid == UID4  # the 5 s self-check re-initialised it


def test_irq_pin_wait(caplog: pytest.LogCaptureFixture) -> None:
    factory = MockFactory()
    with SimReader(irq_pin=24, pin_factory=factory) as r:
        r.present(UID10)
        assert r.read_uid() == UID10
        r.remove()
        assert r.read_uid() is None
        assert r.state()["irq_pin"] == 24


def test_background_polling_calls_back_once_per_presentation(reader: SimReader) -> None:
    got: list[CardRead] = []
    seen = threading.Event()

    def on_card(read: CardRead) -> None:
        got.append(read)
        seen.set()

    reader.start(on_card)
    reader.present(UID7)
    assert seen.wait(5.0)
    reader.stop()
    assert [r.uid for r in got] == [UID7]


def wait_until(condition, timeout_s: float = 10.0) -> bool:
    """Wait for a condition set by another thread (behaviour, not speed, is asserted)."""
    done = threading.Event()
    for _ in range(int(timeout_s / 0.01)):
        if condition():
            return True
        done.wait(0.01)
    return condition()


def test_background_polling_survives_a_failing_callback(
        reader: SimReader, caplog: pytest.LogCaptureFixture) -> None:
    calls: list[bytes] = []

    def on_card(read: CardRead) -> None:
        calls.append(read.uid)
        raise RuntimeError("controller bug")

    reader.start(on_card)
    reader.present(UID4)
    assert wait_until(lambda: len(calls) == 1)
    reader.present(UID7)  # a different card is a new presentation at once
    assert wait_until(lambda: len(calls) == 2)
    reader.stop()
    assert calls == [UID4, UID7]
    assert "on_card_failed" in caplog.text
    assert UID4.hex() not in caplog.text.lower() and UID7.hex() not in caplog.text.lower()


def test_background_polling_reports_a_chip_fault_and_recovers(reader: SimReader) -> None:
    calls: list[bytes] = []
    reader.start(lambda read: calls.append(read.uid))
    reader.chip.in_reset = True  # reader unplugged
    assert wait_until(lambda: reader.state()["fault"] is not None)
    reader.chip.set_reset_pin(True)  # plugged back in: registers at their defaults
    reader.present(UID4)
    assert wait_until(lambda: calls == [UID4], timeout_s=15.0)
    assert reader.state()["fault"] is None
    reader.stop()


def test_tap_holds_the_card_then_lifts_it(reader: SimReader) -> None:
    reader.tap(UID4, hold_s=0.05)
    assert reader.read_uid() == UID4
    reader._stop.wait(0.2)
    assert reader.chip.cards == []


def test_close_is_idempotent_and_use_after_close_is_typed(reader: SimReader) -> None:
    reader.close()
    reader.close()
    assert reader.state()["closed"] is True
    with pytest.raises(DeviceClosed):
        reader.poll()
    with pytest.raises(RuntimeError):
        reader.read_uid()


@pytest.mark.parametrize("uid", [b"", b"\x01\x02\x03", bytes(5), bytes(8), bytes(11)])
def test_presenting_an_impossible_uid_is_refused(reader: SimReader, uid: bytes) -> None:
    with pytest.raises(ValueError, match="4, 7 or 10"):
        reader.present(uid)
