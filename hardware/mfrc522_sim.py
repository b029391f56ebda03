"""An emulated MFRC522 chip and ISO 14443A cards behind fake ``spidev`` and ``RPi.GPIO`` modules.

The real ``mfrc522`` library code runs unchanged against it: :meth:`SimBoard.load_mfrc522`
loads a private copy of the library's ``MFRC522`` module whose ``spidev`` and ``RPi.GPIO``
globals are this board's fakes (``sys.modules`` is patched only for the duration of that
import and restored at once, so a real ``import mfrc522`` elsewhere is unaffected).

What is emulated: SPI register reads and writes (single and multi-byte, per datasheet
section 8.1.2), the 64-byte FIFO and its level/flush, CommIrqReg/DivIrqReg set/clear
semantics, SoftReset, CalcCRC, Transceive with TxLastBits and RxLastBits, the timer (TAuto
start at end of transmission, TimerIRq at the programmed period in real time), the antenna
switch, the NRSTPD reset pin, the IRQ output pin (level and polarity), and cards that follow
the ISO 14443-3 state machine (IDLE/READY/ACTIVE/HALT, REQA/WUPA, anticollision and select
at cascade levels 1-3 with BCC and CRC_A, HLTA), with bit collisions between several cards.
Faults can be injected: CRC errors, BCC errors, partial UIDs, collisions, lost answers.

Not emulated, on purpose: MIFARE Classic Crypto1 authentication and block read/write
(MFAuthent gets no answer). Gatehouse reads only the UID and identifies a card by an HMAC of
it; Crypto1 is broken and a door must not trust sector data.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import threading
import time
import types
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Callable

from hardware.iso14443 import (
    CASCADE_SEL,
    REQA,
    SAK_CASCADE_BIT,
    WUPA,
    atqa_for,
    bcc,
    cascade_parts,
    check_crc_a,
    crc_a,
)

log = logging.getLogger(__name__)

# Register addresses (datasheet table 20).
COMMAND, COMM_IEN, DIV_IEN, COMM_IRQ, DIV_IRQ, ERROR, STATUS1, STATUS2 = range(0x01, 0x09)
FIFO_DATA, FIFO_LEVEL, WATER_LEVEL, CONTROL, BIT_FRAMING, COLL = range(0x09, 0x0F)
MODE, TX_MODE, RX_MODE, TX_CONTROL = 0x11, 0x12, 0x13, 0x14
CRC_RESULT_M, CRC_RESULT_L = 0x21, 0x22
T_MODE, T_PRESCALER, T_RELOAD_H, T_RELOAD_L = 0x2A, 0x2B, 0x2C, 0x2D
VERSION = 0x37

CMD_IDLE, CMD_CALC_CRC, CMD_TRANSMIT, CMD_RECEIVE = 0x00, 0x03, 0x04, 0x08
CMD_TRANSCEIVE, CMD_MF_AUTHENT, CMD_SOFT_RESET = 0x0C, 0x0E, 0x0F

IRQ_TX, IRQ_RX, IRQ_IDLE, IRQ_ERR, IRQ_TIMER = 0x40, 0x20, 0x10, 0x02, 0x01
DIV_CRC_IRQ = 0x04
ERR_BUFFER_OVFL, ERR_COLL, ERR_CRC, ERR_PARITY, ERR_PROTOCOL = 0x10, 0x08, 0x04, 0x02, 0x01

_RESET_VALUES = {
    COMMAND: 0x20, COMM_IEN: 0x80, COMM_IRQ: 0x14, STATUS1: 0x21, WATER_LEVEL: 0x08,
    CONTROL: 0x10, COLL: 0xA0, MODE: 0x3F, TX_CONTROL: 0x80, 0x16: 0x10, 0x17: 0x84,
    0x18: 0x84, 0x19: 0x4D, 0x24: 0x26, 0x26: 0x48, 0x27: 0x88, 0x28: 0x20, 0x29: 0x20,
    CRC_RESULT_M: 0xFF, CRC_RESULT_L: 0xFF, VERSION: 0x92,
}
_FIFO_SIZE = 64
_CARRIER_HZ = 13_560_000

#: Pi 40-pin header: BOARD (physical) pin -> BCM GPIO number.
BOARD_TO_BCM: dict[int, int] = {
    3: 2, 5: 3, 7: 4, 8: 14, 10: 15, 11: 17, 12: 18, 13: 27, 15: 22, 16: 23, 18: 24, 19: 10,
    21: 9, 22: 25, 23: 11, 24: 8, 26: 7, 27: 0, 28: 1, 29: 5, 31: 6, 32: 12, 33: 13, 35: 19,
    36: 16, 37: 26, 38: 20, 40: 21,
}
BCM_TO_BOARD: dict[int, int] = {bcm: board for board, bcm in BOARD_TO_BCM.items()}


class Fault(str, Enum):
    """Noise that can be injected into the next matching card answer."""

    CRC = "crc"  # the CRC_A of the next SAK answer is wrong
    BCC = "bcc"  # one bit of the next UID answer flipped, so its BCC no longer matches
    PARTIAL = "partial"  # the next UID answer stops after 3 bytes (card pulled away)
    COLLISION = "collision"  # the next answer arrives with a bit collision
    DROP = "drop"  # the next answer is lost (no reply, the timer runs out)
    PARITY = "parity"  # the next answer has a parity error


_FAULT_KINDS = {
    Fault.CRC: {"sak"},
    Fault.BCC: {"uid"},
    Fault.PARTIAL: {"uid"},
    Fault.COLLISION: {"atqa", "uid", "sak"},
    Fault.DROP: {"atqa", "uid", "sak"},
    Fault.PARITY: {"atqa", "uid", "sak"},
}


class CardState(Enum):
    """ISO 14443-3 type A card states."""

    IDLE = "idle"
    READY = "ready"
    ACTIVE = "active"
    HALT = "halt"


@dataclass
class VirtualCard:
    """An ISO 14443A card with a 4, 7 or 10 byte UID (SAK 0x08: MIFARE Classic 1K)."""

    uid: bytes
    sak: int = 0x08
    state: CardState = CardState.IDLE
    level: int = 0
    was_halted: bool = False
    _parts: list[bytes] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._parts = cascade_parts(self.uid)

    def _fall_back(self) -> None:
        # ISO 14443-3: an unexpected frame sends the card back to IDLE, or to HALT if it
        # was woken from HALT.
        self.state = CardState.HALT if self.was_halted else CardState.IDLE
        self.level = 0

    def receive(self, frame: bytes, last_bits: int) -> tuple[str, bytes] | None:
        """Handle one frame from the reader; return (answer kind, answer bytes) or None."""
        if last_bits == 7 and len(frame) == 1:
            cmd = frame[0]
            if cmd == WUPA and self.state in (CardState.IDLE, CardState.HALT):
                self.was_halted = self.state is CardState.HALT
                self.state, self.level = CardState.READY, 0
                return "atqa", atqa_for(self.uid)
            if cmd == REQA and self.state is CardState.IDLE:
                self.was_halted = False
                self.state, self.level = CardState.READY, 0
                return "atqa", atqa_for(self.uid)
            if self.state in (CardState.READY, CardState.ACTIVE):
                self._fall_back()
            return None
        if last_bits != 0 or not frame:
            self._fall_back()
            return None
        if self.state is CardState.READY and frame[0] in CASCADE_SEL:
            if CASCADE_SEL.index(frame[0]) != self.level:
                return None
            part = self._parts[self.level]
            if len(frame) == 2 and frame[1] == 0x20:
                return "uid", part + bytes((bcc(part),))
            if len(frame) == 9 and frame[1] == 0x70 and check_crc_a(frame):
                if frame[2:6] != part or frame[6] != bcc(part):
                    self._fall_back()
                    return None
                if self.level < len(self._parts) - 1:
                    self.level += 1
                    sak = SAK_CASCADE_BIT
                else:
                    self.state = CardState.ACTIVE
                    sak = self.sak & ~SAK_CASCADE_BIT
                return "sak", bytes((sak,)) + crc_a(bytes((sak,)))
            self._fall_back()
            return None
        if self.state is CardState.ACTIVE and frame[:2] == b"\x50\x00" and check_crc_a(frame):
            self.state, self.level, self.was_halted = CardState.HALT, 0, True
            return None
        if self.state in (CardState.READY, CardState.ACTIVE):
            self._fall_back()
        return None


class EmulatedChip:
    """Register-level model of one MFRC522 with an RF field holding zero or more cards."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self.cards: list[VirtualCard] = []
        self.faults: list[list[Any]] = []  # [fault, matching answers still to let through]
        self.in_reset = False
        self.transfers = 0
        self.frames = 0
        self.on_irq: Callable[[bool], None] | None = None
        self._irq_level: bool | None = None
        self._soft_reset()

    # -- test helpers, named after the physical act ----------------------------------------
    def place(self, *uids: bytes) -> None:
        """Put cards on the antenna (several at once collide); replaces what was there."""
        with self._lock:
            self.cards = [VirtualCard(bytes(u)) for u in uids]

    def add(self, uid: bytes) -> None:
        """Put one more card on the antenna next to those already there."""
        with self._lock:
            self.cards.append(VirtualCard(bytes(uid)))

    def take_away(self) -> None:
        """Remove every card from the field."""
        with self._lock:
            self.cards = []

    def lift(self, uid: bytes) -> None:
        """Take one card (by UID) off the antenna, leaving any others."""
        with self._lock:
            self.cards = [card for card in self.cards if card.uid != bytes(uid)]

    def inject(self, fault: Fault | str, times: int = 1, after: int = 0) -> None:
        """Corrupt ``times`` card answers the fault applies to, after letting ``after`` pass."""
        with self._lock:
            self.faults.extend([Fault(fault), after] for _ in range(times))

    # -- reset ------------------------------------------------------------------------------
    def _soft_reset(self) -> None:
        self.regs = [0] * 64
        for addr, value in _RESET_VALUES.items():
            self.regs[addr] = value
        self.fifo: deque[int] = deque()
        self._timer_deadline: float | None = None
        self._update_irq()

    def set_reset_pin(self, level: bool) -> None:
        """Drive NRSTPD: low holds the chip in hard power-down, a rising edge resets it."""
        with self._lock:
            if not level:
                self.in_reset = True
            elif self.in_reset:
                self.in_reset = False
                self._soft_reset()

    # -- SPI ---------------------------------------------------------------------------------
    def transfer(self, data: list[int]) -> list[int]:
        """One SPI transaction (chip select low for the whole list), datasheet 8.1.2."""
        with self._lock:
            self.transfers += 1
            if self.in_reset or not data:
                return [0] * len(data)
            out = [0]
            first = data[0]
            if first & 0x80:  # read: each following byte names the next address
                addr = (first >> 1) & 0x3F
                for nxt in data[1:]:
                    out.append(self._read(addr))
                    addr = (nxt >> 1) & 0x3F
            else:  # write: every following byte goes to the same address
                addr = (first >> 1) & 0x3F
                for value in data[1:]:
                    self._write(addr, value & 0xFF)
                    out.append(0)
            return out

    def _read(self, addr: int) -> int:
        if addr == COMM_IRQ:
            self._check_timer()
        if addr == FIFO_DATA:
            return self.fifo.popleft() if self.fifo else 0
        if addr == FIFO_LEVEL:
            return len(self.fifo) & 0x7F
        return self.regs[addr]

    def _write(self, addr: int, value: int) -> None:
        if addr == COMMAND:
            self._command(value)
        elif addr == COMM_IRQ:
            self._set_or_clear(COMM_IRQ, value)
        elif addr == DIV_IRQ:
            self._set_or_clear(DIV_IRQ, value)
        elif addr == FIFO_DATA:
            if len(self.fifo) >= _FIFO_SIZE:
                self.regs[ERROR] |= ERR_BUFFER_OVFL
            else:
                self.fifo.append(value)
        elif addr == FIFO_LEVEL:
            if value & 0x80:
                self.fifo.clear()
                self.regs[ERROR] &= ~ERR_BUFFER_OVFL
        elif addr == CONTROL:
            self.regs[CONTROL] = (self.regs[CONTROL] & 0x07) | (value & 0x38)
        elif addr == BIT_FRAMING:
            self.regs[BIT_FRAMING] = value & 0x7F
            if value & 0x80 and self.regs[COMMAND] & 0x0F == CMD_TRANSCEIVE:
                self._transceive()
        elif addr in (ERROR, STATUS1, VERSION, COLL):
            pass  # read-only
        else:
            self.regs[addr] = value
        self._update_irq()

    def _set_or_clear(self, reg: int, value: int) -> None:
        # Bit 7 (Set1/Set2) says whether the marked bits are set or cleared.
        if value & 0x80:
            self.regs[reg] |= value & 0x7F
        else:
            self.regs[reg] &= ~(value & 0x7F) & 0xFF

    def _command(self, value: int) -> None:
        cmd = value & 0x0F
        self.regs[COMMAND] = value & 0x3F
        if cmd == CMD_SOFT_RESET:
            self._soft_reset()
            return
        if cmd == CMD_IDLE:
            self._timer_deadline = None
        elif cmd == CMD_CALC_CRC:
            preset = {0: 0x0000, 1: 0x6363, 2: 0xA671, 3: 0xFFFF}[self.regs[MODE] & 0x03]
            data = bytes(self.fifo)
            self.fifo.clear()
            low, high = _crc(data, preset)
            self.regs[CRC_RESULT_L], self.regs[CRC_RESULT_M] = low, high
            self.regs[DIV_IRQ] |= DIV_CRC_IRQ
        elif cmd == CMD_MF_AUTHENT:
            self.fifo.clear()
            self._start_timer()

    def _timer_period_s(self) -> float:
        prescaler = ((self.regs[T_MODE] & 0x0F) << 8) | self.regs[T_PRESCALER]
        reload = (self.regs[T_RELOAD_H] << 8) | self.regs[T_RELOAD_L]
        return (reload + 1) * (2 * prescaler + 1) / _CARRIER_HZ

    def _start_timer(self) -> None:
        if self.regs[T_MODE] & 0x80:  # TAuto: timer starts at the end of transmission
            period = self._timer_period_s()
            self._timer_deadline = self._clock() + period
            if self.on_irq is not None:
                # Someone watches the IRQ pin: it must fall when the timer runs out, not
                # only when CommIrqReg is next read.
                deadline = self._timer_deadline
                timer = threading.Timer(period, self._timer_expired, args=(deadline,))
                timer.daemon = True
                timer.start()

    def _timer_expired(self, deadline: float) -> None:
        with self._lock:
            if self._timer_deadline == deadline:  # still the same transceive, no answer came
                self._timer_deadline = min(deadline, self._clock())
                self._check_timer()

    def _check_timer(self) -> None:
        if self._timer_deadline is not None and self._clock() >= self._timer_deadline:
            self._timer_deadline = None
            self.regs[COMM_IRQ] |= IRQ_TIMER
            self._update_irq()

    def _update_irq(self) -> None:
        active = bool(self.regs[COMM_IEN] & self.regs[COMM_IRQ] & 0x7F) or bool(
            self.regs[DIV_IEN] & self.regs[DIV_IRQ] & 0x14
        )
        level = (not active) if self.regs[COMM_IEN] & 0x80 else active  # IRqInv
        if level != self._irq_level:
            self._irq_level = level
            if self.on_irq is not None:
                self.on_irq(level)

    @property
    def irq_level(self) -> bool:
        """Electrical level of the IRQ pin (True = high)."""
        return bool(self._irq_level)

    def _transceive(self) -> None:
        self.frames += 1
        frame = bytes(self.fifo)
        self.fifo.clear()
        last_bits = self.regs[BIT_FRAMING] & 0x07
        self.regs[COMM_IRQ] |= IRQ_TX
        self.regs[ERROR] = 0
        self.regs[CONTROL] &= ~0x07
        self.regs[COLL] = 0xA0
        antenna_on = self.regs[TX_CONTROL] & 0x03
        answers = []
        if antenna_on:
            for card in list(self.cards):
                answer = card.receive(frame, last_bits)
                if answer is not None:
                    answers.append(answer)
        if not answers:
            self._start_timer()
            return
        kind = answers[0][0]
        payloads = [a[1] for a in answers]
        fault = self._take_fault(kind)
        if fault is Fault.DROP:
            self._start_timer()
            return
        data = bytearray(payloads[0])
        valid_bits = len(data) * 8
        error = 0
        if len(set(payloads)) > 1:
            valid_bits = _first_difference(payloads)
            error |= ERR_COLL
        if fault is Fault.COLLISION:
            valid_bits = min(valid_bits, 8 + 3)
            error |= ERR_COLL
        if fault is Fault.CRC:
            data[-1] ^= 0x5A
        if fault is Fault.BCC:
            data[1] ^= 0x10
        if fault is Fault.PARITY:
            error |= ERR_PARITY
        if fault is Fault.PARTIAL:
            data = data[:3]
            valid_bits = min(valid_bits, 24)
        if error & ERR_COLL:
            # Bits after the collision are undefined; keep whole bytes received so far.
            nbytes = (valid_bits + 7) // 8
            data = data[:max(nbytes, 1)]
            self.regs[COLL] = (valid_bits + 1) & 0x1F
            rx_last = valid_bits % 8
        else:
            rx_last = 0
        self.fifo.extend(data)
        self.regs[CONTROL] = (self.regs[CONTROL] & ~0x07) | rx_last
        self.regs[ERROR] = error
        self.regs[COMM_IRQ] |= IRQ_RX | (IRQ_ERR if error else 0)
        self._timer_deadline = None

    def _take_fault(self, kind: str) -> Fault | None:
        for index, entry in enumerate(self.faults):
            fault, skip = entry
            if kind in _FAULT_KINDS[fault]:
                if skip:
                    entry[1] -= 1
                    return None
                del self.faults[index]
                return fault
        return None


def _crc(data: bytes, preset: int) -> tuple[int, int]:
    if preset == 0x6363:
        out = crc_a(data)
        return out[0], out[1]
    crc = preset
    for byte in data:
        b = (byte ^ (crc & 0xFF)) & 0xFF
        b = (b ^ (b << 4)) & 0xFF
        crc = ((crc >> 8) ^ (b << 8) ^ (b << 3) ^ (b >> 4)) & 0xFFFF
    return crc & 0xFF, crc >> 8


def _first_difference(payloads: list[bytes]) -> int:
    first = payloads[0]
    for bit in range(len(first) * 8):
        byte, offset = divmod(bit, 8)
        values = {(p[byte] >> offset) & 1 if byte < len(p) else None for p in payloads}
        if len(values) > 1:
            return bit
    return len(first) * 8


class FakeGpio:
    """State behind the fake ``RPi.GPIO`` module: numbering mode and pin levels (BCM keys)."""

    BOARD, BCM, OUT, IN, HIGH, LOW = 10, 11, 0, 1, 1, 0
    PUD_OFF, PUD_DOWN, PUD_UP = 20, 21, 22

    def __init__(self) -> None:
        self.mode: int | None = None
        self.outputs: dict[int, int] = {}  # BCM pin -> level, for pins set up as outputs
        self.history: list[tuple[int, int]] = []  # (BCM pin, level) every output() call
        self.wiring: dict[int, Callable[[bool], None]] = {}  # BCM pin -> what it drives

    def to_bcm(self, channel: int) -> int:
        """Translate a channel number in the current mode to a BCM number."""
        if self.mode is None:
            raise RuntimeError("Please set pin numbering mode using GPIO.setmode(GPIO.BOARD) or GPIO.setmode(GPIO.BCM)")
        if self.mode == self.BOARD:
            if channel not in BOARD_TO_BCM:
                raise ValueError("The channel sent is invalid on a Raspberry Pi")
            return BOARD_TO_BCM[channel]
        return channel

    def module(self) -> tuple[types.ModuleType, types.ModuleType]:
        """Build ``RPi`` and ``RPi.GPIO`` module objects bound to this state."""
        gpio = types.ModuleType("RPi.GPIO")
        state = self
        for name in ("BOARD", "BCM", "OUT", "IN", "HIGH", "LOW", "PUD_OFF", "PUD_DOWN", "PUD_UP"):
            setattr(gpio, name, getattr(self, name))

        def getmode() -> int | None:
            return state.mode

        def setmode(mode: int) -> None:
            if state.mode is not None and state.mode != mode:
                raise ValueError("A different mode has already been set!")
            state.mode = mode

        def setwarnings(flag: bool) -> None:
            pass

        def setup(channel: int, direction: int, pull_up_down: int = 20, initial: int = -1) -> None:
            pin = state.to_bcm(channel)
            if direction == state.OUT:
                state.outputs[pin] = 0 if initial == -1 else int(initial)
                state._drive(pin)
            else:
                state.outputs.pop(pin, None)

        def output(channel: int, value: int) -> None:
            pin = state.to_bcm(channel)
            if pin not in state.outputs:
                raise RuntimeError("The GPIO channel has not been set up as an OUTPUT")
            state.outputs[pin] = int(bool(value))
            state.history.append((pin, int(bool(value))))
            state._drive(pin)

        def cleanup(channel: int | list[int] | None = None) -> None:
            if channel is None:
                pins = list(state.outputs)
                state.mode = None
            else:
                chans = channel if isinstance(channel, (list, tuple)) else [channel]
                pins = [state.to_bcm(c) for c in chans]
            for pin in pins:
                state.outputs.pop(pin, None)
                # NOTE: a released pin floats; the RC522 module's own pull-up keeps NRSTPD high.
                if pin in state.wiring:
                    state.wiring[pin](True)

        for fn in (getmode, setmode, setwarnings, setup, output, cleanup):
            setattr(gpio, fn.__name__, fn)
        rpi = types.ModuleType("RPi")
        rpi.GPIO = gpio  # type: ignore[attr-defined]
        return rpi, gpio

    def _drive(self, pin: int) -> None:
        if pin in self.wiring:
            self.wiring[pin](bool(self.outputs[pin]))


class SimBoard:
    """A simulated Pi: SPI buses with emulated MFRC522 chips and the RPi.GPIO pin state.

    Example::

        board = SimBoard()
        chip = board.attach(bus=0, device=0, rst_pin=25)
        MFRC522 = board.load_mfrc522().MFRC522   # the real library, on this board
    """

    def __init__(self) -> None:
        self.chips: dict[tuple[int, int], EmulatedChip] = {}
        self.gpio = FakeGpio()
        self._rpi, self._gpio_module = self.gpio.module()
        self._spidev = self._spidev_module()
        self._module: types.ModuleType | None = None
        self.spi_time_s = 0.0  # process CPU time spent inside the emulated chips

    def attach(self, bus: int = 0, device: int = 0, rst_pin: int | None = 25) -> EmulatedChip:
        """Wire an emulated chip to SPI (bus, device) with NRSTPD on BCM ``rst_pin``."""
        chip = EmulatedChip()
        self.chips[(bus, device)] = chip
        if rst_pin is not None:
            previous = self.gpio.wiring.get(rst_pin)

            def drive(level: bool, _prev: Callable[[bool], None] | None = previous) -> None:
                chip.set_reset_pin(level)
                if _prev is not None:
                    _prev(level)  # two readers may share one reset line

            self.gpio.wiring[rst_pin] = drive
        return chip

    def _spidev_module(self) -> types.ModuleType:
        board = self
        module = types.ModuleType("spidev")

        class SpiDev:
            """Fake ``spidev.SpiDev`` routed to the board's emulated chips."""

            def __init__(self) -> None:
                self.max_speed_hz = 500_000
                self.mode = 0
                self._chip: EmulatedChip | None = None

            def open(self, bus: int, device: int) -> None:
                chip = board.chips.get((bus, device))
                if chip is None:
                    raise FileNotFoundError(2, "No such file or directory", f"/dev/spidev{bus}.{device}")
                self._chip = chip

            def xfer2(self, data: list[int], *args: Any) -> list[int]:
                if self._chip is None:
                    raise OSError(9, "Bad file descriptor")
                start = time.process_time()
                try:
                    return self._chip.transfer(list(data))
                finally:
                    board.spi_time_s += time.process_time() - start

            xfer = xfer2

            def close(self) -> None:
                self._chip = None

        module.SpiDev = SpiDev  # type: ignore[attr-defined]
        return module

    def load_mfrc522(self) -> types.ModuleType:
        """Load a private copy of the real ``mfrc522.MFRC522`` module bound to this board."""
        if self._module is not None:
            return self._module
        spec = importlib.util.find_spec("mfrc522")
        if spec is None or not spec.submodule_search_locations:
            from hardware.errors import DeviceUnavailable

            raise DeviceUnavailable(
                "the mfrc522 package is not installed: pip install --no-deps mfrc522==0.0.7"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / "MFRC522.py"
        name = f"hardware._sim_mfrc522_{id(self):x}"
        private = importlib.util.spec_from_file_location(name, path)
        assert private is not None and private.loader is not None
        module = importlib.util.module_from_spec(private)
        fakes = {"spidev": self._spidev, "RPi": self._rpi, "RPi.GPIO": self._gpio_module}
        saved = {key: sys.modules.get(key) for key in fakes}
        sys.modules.update(fakes)
        try:
            private.loader.exec_module(module)
        finally:
            for key, old in saved.items():
                if old is None:
                    sys.modules.pop(key, None)
                else:
                    sys.modules[key] = old
        self._module = module
        return module
