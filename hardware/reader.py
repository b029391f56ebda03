"""Card readers: the ``CardReader`` interface, the MFRC522 driver and its simulator.

``Mfrc522Reader`` runs the chip protocol of the ``mfrc522`` package (0.0.7) through a
subclass that fixes what a door cannot live with:

* ``MFRC522_ToCard`` ignores the chip's timer interrupt (its loop condition is a chain of
  ``~`` on booleans that reduces to ``n & waitIRq``), so every poll with no card spins
  2000 SPI reads: about a second on a Pi Zero and a core at 100 %. Ours stops on TimerIRq,
  sleeps between status reads (or waits on the IRQ pin), and has a wall-clock deadline that
  turns a dead chip into ``ReaderError`` instead of a silent "no card".
* Only cascade level 1 exists (``0x93`` hard-coded), so a 7-byte UID (NTAG, DESFire,
  MIFARE Plus) reads as its cascade tag ``0x88`` plus three bytes. Ours walks levels
  1-3 until the SAK says the UID is complete.
* The select answer's CRC_A is never checked (``ErrorReg & 0x1B`` leaves out CRCErr, and
  RxCRCEn is off). Ours checks it in software; the CRC of frames we send is computed in
  software too, which also avoids the library's ``DivIrqReg`` clear that never clears CRCIRq.
* The reset pin defaults to BOARD 22, and if the process already chose BCM numbering it
  drives BCM 15 (the UART RX pin). Ours always passes the configured BCM pin, translated
  to BOARD numbering when someone else set BOARD mode first.
* ``Close_MFRC522`` calls ``GPIO.cleanup()`` for every pin of the process, which would
  release the other reader's reset line and any other RPi.GPIO user; ours frees only its pin.
* Each construction adds a ``StreamHandler`` to the library's logger (duplicate lines with
  two readers, and unstructured output); ours removes it.
* A card is halted (HLTA) after each read and woken with WUPA, so a card held on the
  antenna answers every poll and :func:`hardware.debounce.presence_step` reports it once.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, runtime_checkable

from hardware.debounce import Presence, presence_hold, presence_step
from hardware.errors import CardReadError, DeviceClosed, DeviceUnavailable, ReaderError
from hardware.sampler import Sampler
from hardware.iso14443 import CASCADE_SEL, CASCADE_TAG, HLTA, SAK_CASCADE_BIT, WUPA, bcc, check_crc_a, crc_a

log = logging.getLogger(__name__)

#: Pi 40-pin header, BCM GPIO number -> BOARD (physical) pin.
BCM_TO_BOARD: dict[int, int] = {
    2: 3, 3: 5, 4: 7, 14: 8, 15: 10, 17: 11, 18: 12, 27: 13, 22: 15, 23: 16, 24: 18, 10: 19,
    9: 21, 25: 22, 11: 23, 8: 24, 7: 26, 0: 27, 1: 28, 5: 29, 6: 31, 12: 32, 13: 33, 19: 35,
    16: 36, 26: 37, 20: 38, 21: 40,
}
#: Version register values of genuine chips (v1.0, v2.0) and of common clones.
KNOWN_VERSIONS = {0x91: "MFRC522 v1.0", 0x92: "MFRC522 v2.0", 0x88: "FM17522", 0x12: "clone 0x12", 0xB2: "FM17522 0xB2"}

_BOARD, _BCM = 10, 11
_TRANSCEIVE_IRQ_EN = 0x33  # Rx, Idle, Err, Timer: not TxIEn, which would fire before the answer
#: TReloadReg low byte: 10 ticks of 0.5 ms = 5 ms, against the library's 15.5 ms. A card
#: answers within ~0.1 ms (ISO 14443-3 frame delay time), so this only shortens no-card polls.
_RELOAD_TICKS = 9


@dataclass(frozen=True)
class CardRead:
    """One presentation of a card: the reader's name, its UID and when it was read."""

    reader: str
    uid: bytes = field(repr=False)  # NOTE: never log a raw UID; the controller HMACs it
    at: float = 0.0


@runtime_checkable
class CardReader(Protocol):
    """What the controller needs from a card reader; both drivers implement it."""

    name: str

    def poll(self, now: float | None = None) -> CardRead | None:
        """Run one read attempt; return a card read only for a NEW presentation."""
        ...

    def _read_or_reinit(self) -> bytes | None:
        try:
            return self._chip.read_uid()
        except CardReadError:
            raise
        except ReaderError:
            # NOTE: a reset pulse (another reader initialised on a shared RST line, a
            # brown-out) returns the chip to defaults with no timer; re-init once, then retry.
            if self._chip.version() in (0x00, 0xFF):
                raise
            log.warning("reader=%s event=chip_reinit reason=no_timer_interrupt", self.name)
            self._chip.MFRC522_Init()
            return self._chip.read_uid()

    def wait_for_card(self, timeout_s: float) -> CardRead | None:
        """Poll at the configured interval until a card is presented or the timeout passes."""
        ...

    def start(self, on_card: Callable[[CardRead], None]) -> None:
        """Poll in a background thread, calling ``on_card`` once per presentation."""
        ...

    def stop(self) -> None:
        """Stop the background thread, if any."""
        ...

    def state(self) -> dict[str, Any]:
        """A printable summary (chip, polling, counters), free of card UIDs."""
        ...

    def close(self) -> None:
        """Stop polling and release the SPI device and reset pin; idempotent."""
        ...

    def __enter__(self) -> "CardReader": ...

    def __exit__(self, *exc: object) -> None: ...


class _FixedChip:
    """Mixin placed before the library's ``MFRC522`` class; see the module docstring."""

    # Set on the built class: the library module's RPi.GPIO, and a sleep function.
    _GPIO: Any = None

    MI_OK: int
    MI_NOTAGERR: int
    MI_ERR: int

    def __init__(self, *, bus: int, device: int, spi_hz: int, rst_pin: int,
                 wait_irq: Callable[[float], bool] | None, sleep: Callable[[float], None],
                 status_poll_s: float) -> None:
        self._wait_irq = wait_irq
        self._sleep = sleep
        self._status_poll_s = status_poll_s
        self._rst_pin_bcm = rst_pin
        self.last_failure = ""
        self.last_error_reg = 0
        gpio = self._GPIO
        mode = gpio.getmode()
        if mode is None:
            gpio.setmode(gpio.BCM)
            mode = _BCM
        if mode == _BOARD:
            if rst_pin not in BCM_TO_BOARD:
                raise ReaderError(f"reset pin GPIO{rst_pin} is not on the 40-pin header")
            self._rst_channel = BCM_TO_BOARD[rst_pin]
        else:
            self._rst_channel = rst_pin
        logger = logging.getLogger("mfrc522Logger")
        handlers_before = list(logger.handlers)
        try:
            super().__init__(bus=bus, device=device, spd=spi_hz, pin_mode=mode,  # type: ignore[call-arg]
                             pin_rst=self._rst_channel, debugLevel="WARNING")
        except OSError as exc:
            raise ReaderError(f"cannot open SPI bus {bus} device {device}: {exc}") from exc
        finally:
            for handler in logger.handlers:
                if handler not in handlers_before:
                    logger.removeHandler(handler)

    def MFRC522_Init(self) -> None:
        """The library's init, then a shorter timer (5 ms) for faster no-card polls."""
        super().MFRC522_Init()  # type: ignore[misc]
        self.Write_MFRC522(self.TReloadRegL, _RELOAD_TICKS)  # type: ignore[attr-defined]

    def Close_MFRC522(self) -> None:
        """Close SPI and free only this reader's reset pin (the library frees every pin)."""
        self.spi.close()  # type: ignore[attr-defined]
        try:
            self._GPIO.cleanup(self._rst_channel)
        except (RuntimeError, ValueError) as exc:
            log.debug("reader reset pin cleanup failed: %s", exc)

    def timer_s(self) -> float:
        """The chip timer's period as programmed (the no-answer timeout)."""
        read = self.Read_MFRC522  # type: ignore[attr-defined]
        prescaler = ((read(self.TModeReg) & 0x0F) << 8) | read(self.TPrescalerReg)  # type: ignore[attr-defined]
        reload = (read(self.TReloadRegH) << 8) | read(self.TReloadRegL)  # type: ignore[attr-defined]
        return (reload + 1) * (2 * prescaler + 1) / 13_560_000

    def MFRC522_ToCard(self, command: int, sendData: list[int]) -> tuple[int, list[int], int]:
        """The library's ToCard with a wait that honours TimerIRq, sleeps, and has a deadline."""
        write, read = self.Write_MFRC522, self.Read_MFRC522  # type: ignore[attr-defined]
        if command == self.PCD_TRANSCEIVE:  # type: ignore[attr-defined]
            irq_en, wait_irq = _TRANSCEIVE_IRQ_EN, 0x30
        else:
            irq_en, wait_irq = 0x12, 0x10
        write(self.CommIEnReg, irq_en | 0x80)  # type: ignore[attr-defined]
        self.ClearBitMask(self.CommIrqReg, 0x80)  # type: ignore[attr-defined]
        self.SetBitMask(self.FIFOLevelReg, 0x80)  # type: ignore[attr-defined]
        write(self.CommandReg, self.PCD_IDLE)  # type: ignore[attr-defined]
        for byte in sendData:
            write(self.FIFODataReg, byte)  # type: ignore[attr-defined]
        write(self.CommandReg, command)  # type: ignore[attr-defined]
        if command == self.PCD_TRANSCEIVE:  # type: ignore[attr-defined]
            self.SetBitMask(self.BitFramingReg, 0x80)  # type: ignore[attr-defined]
        # The chip's own timer (5 ms) always ends a transceive; four times that means the
        # chip is not running (unplugged, browned out, reset): a fault, not "no card".
        deadline = time.monotonic() + 0.08
        while True:
            if self._wait_irq is not None:
                self._wait_irq(0.02)
            n = read(self.CommIrqReg)  # type: ignore[attr-defined]
            if n & wait_irq or n & 0x01:
                break
            if time.monotonic() > deadline:
                n = read(self.CommIrqReg)  # type: ignore[attr-defined]
                if n & wait_irq or n & 0x01:
                    break  # this thread was descheduled past the deadline; the chip is fine
                self.ClearBitMask(self.BitFramingReg, 0x80)  # type: ignore[attr-defined]
                write(self.CommandReg, self.PCD_IDLE)  # type: ignore[attr-defined]
                raise ReaderError("the reader chip did not finish a command (no timer interrupt)")
            if self._wait_irq is None:
                self._sleep(self._status_poll_s)
        self.ClearBitMask(self.BitFramingReg, 0x80)  # type: ignore[attr-defined]
        if not n & wait_irq:
            write(self.CommandReg, self.PCD_IDLE)  # type: ignore[attr-defined]
            self.last_failure = "timeout"
            return self.MI_NOTAGERR, [], 0
        error = read(self.ErrorReg)  # type: ignore[attr-defined]
        self.last_error_reg = error
        back: list[int] = []
        back_bits = 0
        if command == self.PCD_TRANSCEIVE:  # type: ignore[attr-defined]
            level = read(self.FIFOLevelReg) & 0x7F  # type: ignore[attr-defined]
            last_bits = read(self.ControlReg) & 0x07  # type: ignore[attr-defined]
            back_bits = (level - 1) * 8 + last_bits if last_bits else level * 8
            for _ in range(min(level, 64)):
                back.append(read(self.FIFODataReg))  # type: ignore[attr-defined]
        write(self.CommandReg, self.PCD_IDLE)  # type: ignore[attr-defined]
        if error & 0x08:
            self.last_failure = "collision"
            return self.MI_ERR, back, back_bits
        if error & 0x17:  # BufferOvfl, CRCErr, ParityErr, ProtocolErr
            self.last_failure = "protocol"
            return self.MI_ERR, back, back_bits
        self.last_failure = ""
        return self.MI_OK, back, back_bits

    def _transceive(self, frame: list[int]) -> tuple[list[int], int]:
        self.Write_MFRC522(self.BitFramingReg, 0x00)  # type: ignore[attr-defined]
        status, back, bits = self.MFRC522_ToCard(self.PCD_TRANSCEIVE, frame)  # type: ignore[attr-defined]
        if status != self.MI_OK:
            raise CardReadError(self.last_failure or "protocol")
        return back, bits

    def read_uid(self) -> bytes | None:
        """Wake any card (WUPA), run anticollision/select over all cascade levels, halt it.

        Returns None when no card answers; raises CardReadError for a bad or partial answer.
        """
        status, bits = self.MFRC522_Request(WUPA)  # type: ignore[attr-defined]
        if status != self.MI_OK:
            if self.last_failure == "timeout":
                return None
            reason = self.last_failure or "atqa"
            self._halt()
            raise CardReadError(reason, f"{bits} bits")
        try:
            return self._select_all()
        except CardReadError:
            # NOTE: a card left READY or ACTIVE ignores the next WUPA (ISO 14443-3 sends it
            # back to HALT instead); halting it now lets the very next poll read it.
            self._halt()
            raise

    def _select_all(self) -> bytes:
        uid = b""
        for sel in CASCADE_SEL:
            back, bits = self._transceive([sel, 0x20])
            if len(back) != 5 or bits != 40:
                raise CardReadError("partial", f"{bits} bits at cascade {sel:#x}")
            if bcc(back[:4]) != back[4]:
                raise CardReadError("bcc", f"cascade {sel:#x}")
            frame = [sel, 0x70, *back]
            answer, bits = self._transceive(frame + list(crc_a(frame)))
            if bits != 24 or not check_crc_a(answer):
                raise CardReadError("crc", f"select answer at cascade {sel:#x}")
            sak = answer[0]
            if sak & SAK_CASCADE_BIT:
                if back[0] != CASCADE_TAG:
                    raise CardReadError("sak", "cascade bit without cascade tag")
                uid += bytes(back[1:4])
                continue
            uid += bytes(back[:4])
            self._halt()
            return uid
        raise CardReadError("sak", "UID longer than three cascade levels")

    def _halt(self) -> None:
        frame = list(HLTA)
        # A halted card sends no answer: the timer running out is the expected outcome.
        self.Write_MFRC522(self.BitFramingReg, 0x00)  # type: ignore[attr-defined]
        self.MFRC522_ToCard(self.PCD_TRANSCEIVE, frame + list(crc_a(frame)))  # type: ignore[attr-defined]

    def version(self) -> int:
        """Contents of VersionReg (0x91/0x92 genuine, 0x00/0xFF: nothing on the bus)."""
        return self.Read_MFRC522(self.VersionReg)  # type: ignore[attr-defined]

    def is_configured(self) -> bool:
        """True while the chip still holds our timer settings (False after a brown-out reset)."""
        return self.Read_MFRC522(self.TModeReg) == 0x8D and self.Read_MFRC522(self.TReloadRegL) == _RELOAD_TICKS  # type: ignore[attr-defined]


def fixed_chip_class(module: types.ModuleType) -> type:
    """Build the fixed chip class on top of ``module.MFRC522`` (real or simulated library)."""
    cls = type("FixedMFRC522", (_FixedChip, module.MFRC522), {})
    cls._GPIO = module.GPIO
    return cls


def _load_real_mfrc522() -> types.ModuleType:
    try:
        return importlib.import_module("mfrc522.MFRC522")
    except (ImportError, RuntimeError) as exc:
        # RPi.GPIO raises RuntimeError off a Pi; spidev is missing off Linux.
        raise DeviceUnavailable(
            f"the mfrc522 library cannot load here ({exc}); on a Pi install spidev and "
            "rpi-lgpio, then mfrc522==0.0.7 with --no-deps"
        ) from exc


class Mfrc522Reader:
    """An MFRC522 on the Pi's SPI bus, polled for ISO 14443A cards.

    Wiring (BCM numbers): SDA/SS to CE0 (GPIO8, pin 24) for ``device=0`` or CE1 (GPIO7,
    pin 26) for ``device=1``; SCK GPIO11 (23), MOSI GPIO10 (19), MISO GPIO9 (21); RST to
    ``rst_pin`` (default GPIO25, pin 22); optional IRQ to ``irq_pin``; 3.3 V only.

    Example::

        with Mfrc522Reader(name="front", device=0) as reader:
            read = reader.wait_for_card(timeout_s=10)
    """

    kind = "reader"
    driver = "mfrc522"

    def __init__(
        self,
        name: str = "reader0",
        bus: int = 0,
        device: int = 0,
        rst_pin: int = 25,
        irq_pin: int | None = None,
        spi_hz: int = 1_000_000,
        poll_interval_s: float = 0.05,
        release_s: float = 0.3,
        *,
        mfrc522_module: types.ModuleType | None = None,
        pin_factory: Any = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.bus, self.device, self.rst_pin, self.irq_pin = bus, device, rst_pin, irq_pin
        self.poll_interval_s = poll_interval_s
        self.release_s = release_s
        self._clock = clock
        self._presence = Presence()
        self._lock = threading.Lock()
        self._sampler = Sampler("reader", name, log)
        self._stop = self._sampler.stopping  # the polling loop's waits end when it is stopped
        self._closed = False
        self._irq_device: Any = None
        self.counters: dict[str, int] = {"polls": 0, "reads": 0, "presentations": 0}
        self.noise: dict[str, int] = {}
        self.fault: str = ""
        self._last_check = clock()
        module = mfrc522_module if mfrc522_module is not None else _load_real_mfrc522()
        wait_irq = None
        if irq_pin is not None:
            from gpiozero import DigitalInputDevice

            # IRqInv is set by the library: the IRQ line is active low.
            self._irq_device = DigitalInputDevice(irq_pin, pull_up=True, pin_factory=pin_factory)
            wait_irq = self._irq_device.wait_for_active
        try:
            self._chip = fixed_chip_class(module)(
                bus=bus, device=device, spi_hz=spi_hz, rst_pin=rst_pin, wait_irq=wait_irq,
                sleep=sleep, status_poll_s=0.001,
            )
        except BaseException:
            if self._irq_device is not None:
                self._irq_device.close()
            raise
        version = self._chip.version()
        if version in (0x00, 0xFF):
            self._chip.Close_MFRC522()
            if self._irq_device is not None:
                self._irq_device.close()
            raise ReaderError(f"no MFRC522 answers on SPI bus {bus} device {device} (version {version:#04x})")
        self.chip_version = version

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} spi{self.bus}.{self.device}>"

    def __enter__(self) -> "Mfrc522Reader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self) -> None:
        if self._closed:
            raise DeviceClosed(f"reader {self.name} is closed")

    def read_uid(self) -> bytes | None:
        """One raw read attempt without debouncing (None: no card; CardReadError: noise)."""
        self._check()
        with self._lock:
            return self._read_or_reinit()

    def poll(self, now: float | None = None) -> CardRead | None:
        """Run one read attempt; return a card read only for a NEW presentation."""
        self._check()
        now = self._clock() if now is None else now
        self.counters["polls"] += 1
        with self._lock:
            if now - self._last_check > 5.0:
                self._last_check = now
                if not self._chip.is_configured():
                    # NOTE: a brown-out resets the chip to defaults (antenna off, no timer):
                    # it would then report "no card" forever.
                    log.warning("reader=%s event=chip_reinit reason=lost_configuration", self.name)
                    self._chip.MFRC522_Init()
            try:
                uid = self._read_or_reinit()
            except CardReadError as exc:
                self.noise[exc.reason] = self.noise.get(exc.reason, 0) + 1
                log.debug("reader=%s event=read_noise reason=%s", self.name, exc.reason)
                self._presence = presence_hold(self._presence, now)
                uid = None
        if uid is not None:
            self.counters["reads"] += 1
        self._presence, new = presence_step(self._presence, uid, now, self.release_s)
        if new is None:
            return None
        self.counters["presentations"] += 1
        return CardRead(reader=self.name, uid=new, at=now)

    def _read_or_reinit(self) -> bytes | None:
        try:
            return self._chip.read_uid()
        except CardReadError:
            raise
        except ReaderError:
            # NOTE: a reset pulse (another reader initialised on a shared RST line, a
            # brown-out) returns the chip to defaults with no timer; re-init once, then retry.
            if self._chip.version() in (0x00, 0xFF):
                raise
            log.warning("reader=%s event=chip_reinit reason=no_timer_interrupt", self.name)
            self._chip.MFRC522_Init()
            return self._chip.read_uid()

    def wait_for_card(self, timeout_s: float) -> CardRead | None:
        """Poll at the configured interval until a card is presented or the timeout passes."""
        end = self._clock() + timeout_s
        while True:
            start = self._clock()
            read = self.poll(start)
            if read is not None:
                return read
            if start >= end:
                return None
            self._stop.wait(max(0.0, min(end, start + self.poll_interval_s) - self._clock()))

    def start(self, on_card: Callable[[CardRead], None]) -> None:
        """Poll in a background thread, calling ``on_card`` once per presentation."""
        self._check()
        self._sampler.start_loop(lambda _stop: self._run(on_card))

    def _run(self, on_card: Callable[[CardRead], None]) -> None:
        backoff_s = 0.5
        while not self._stop.is_set():
            start = self._clock()
            try:
                read = self.poll(start)
                self.fault = ""
                backoff_s = 0.5
            except ReaderError as exc:
                if not self.fault:
                    log.warning("reader=%s event=reader_fault error=%s", self.name, exc)
                self.fault = str(exc)
                self._stop.wait(backoff_s)
                backoff_s = min(backoff_s * 2, 10.0)
                try:
                    with self._lock:
                        self._chip.MFRC522_Init()
                except Exception as init_exc:  # keep polling: the reader may come back
                    log.debug("reader=%s event=reinit_failed error=%s", self.name, init_exc)
                continue
            except DeviceClosed:
                return
            if read is not None:
                try:
                    on_card(read)
                except Exception:
                    log.exception("reader=%s event=on_card_failed", self.name)
            self._stop.wait(max(0.0, start + self.poll_interval_s - self._clock()))

    def stop(self) -> None:
        """Stop the background thread, if any."""
        self._sampler.stop()

    def state(self) -> dict[str, Any]:
        """A printable summary (chip, polling, counters), free of card UIDs."""
        return {
            "driver": self.driver,
            "spi": f"{self.bus}.{self.device}",
            "rst_pin": self.rst_pin,
            "irq_pin": self.irq_pin,
            "chip": KNOWN_VERSIONS.get(getattr(self, "chip_version", 0), f"{getattr(self, 'chip_version', 0):#04x}"),
            "poll_interval_ms": round(self.poll_interval_s * 1000),
            "card_present": self._presence.uid is not None,
            "polling": self._sampler.running,
            "fault": self.fault or None,
            "closed": self._closed,
            **self.counters,
            "noise": dict(self.noise),
        }

    def close(self) -> None:
        """Stop polling and release the SPI device, reset pin and IRQ pin; idempotent."""
        if self._closed:
            return
        self.stop()
        self._closed = True
        with self._lock:
            self._chip.Close_MFRC522()
        if self._irq_device is not None:
            self._irq_device.close()


class SimReader(Mfrc522Reader):
    """An ``Mfrc522Reader`` whose SPI bus holds an emulated MFRC522 and virtual cards.

    The real ``mfrc522`` library code runs; only ``spidev`` and ``RPi.GPIO`` are fakes.
    Two readers share one :class:`~hardware.mfrc522_sim.SimBoard` like two chips on one Pi.

    Example::

        with SimReader(name="front") as reader:
            reader.present(bytes.fromhex("04a1b2c3d4e5f6"))
            read = reader.wait_for_card(timeout_s=1)
    """

    driver = "sim"

    def __init__(self, name: str = "reader0", bus: int = 0, device: int = 0, rst_pin: int = 25,
                 irq_pin: int | None = None, spi_hz: int = 1_000_000, poll_interval_s: float = 0.05,
                 release_s: float = 0.3, *, board: Any = None, pin_factory: Any = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        from hardware.mfrc522_sim import SimBoard

        self.board = board if board is not None else SimBoard()
        self.chip = self.board.attach(bus=bus, device=device, rst_pin=rst_pin)
        if irq_pin is not None:
            if pin_factory is None:
                from gpiozero.pins.mock import MockFactory

                pin_factory = MockFactory()
            irq = pin_factory.pin(irq_pin)

            def drive(level: bool) -> None:
                if irq.function == "input":
                    irq.drive_high() if level else irq.drive_low()

            self.chip.on_irq = drive
        super().__init__(name, bus, device, rst_pin, irq_pin, spi_hz, poll_interval_s, release_s,
                         mfrc522_module=self.board.load_mfrc522(), pin_factory=pin_factory,
                         clock=clock, sleep=sleep)

    def present(self, uid: bytes) -> None:
        """Hold a card with this 4, 7 or 10 byte UID on the antenna (replacing any other)."""
        self.chip.place(bytes(uid))

    def add_card(self, uid: bytes) -> None:
        """Hold one more card on the antenna, next to the ones already there (a collision)."""
        self.chip.add(bytes(uid))

    def remove(self) -> None:
        """Take every card off the antenna."""
        self.chip.take_away()

    def inject(self, fault: str, times: int = 1, after: int = 0) -> None:
        """Corrupt answers: ``crc``, ``bcc``, ``partial``, ``collision``, ``drop``, ``parity``."""
        self.chip.inject(fault, times, after)

    def tap(self, uid: bytes, hold_s: float = 0.5) -> None:
        """Hold a card on the antenna for ``hold_s``, then take it away (``sim/<device>/tap``).

        Returns at once; the polling loop (``start``) reports the card like a real tap.
        """
        self.present(uid)
        timer = threading.Timer(hold_s, self._lift, args=(bytes(uid),))
        timer.daemon = True
        timer.start()

    def _lift(self, uid: bytes) -> None:
        self.chip.lift(uid)
