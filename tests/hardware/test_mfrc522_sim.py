"""The emulated MFRC522 at register level, against the datasheet's rules."""

import threading

import pytest

from hardware.iso14443 import crc_a
from hardware.mfrc522_sim import (BIT_FRAMING, COLL, COMM_IEN, COMM_IRQ, COMMAND, CONTROL, ERROR, FIFO_DATA,
                                  FIFO_LEVEL, MODE, T_MODE, T_PRESCALER, T_RELOAD_L, TX_CONTROL, VERSION,
                                  CardState, EmulatedChip, VirtualCard)


def write(chip: EmulatedChip, reg: int, *values: int) -> None:
    chip.transfer([(reg << 1) & 0x7E, *values])


def read(chip: EmulatedChip, reg: int) -> int:
    return chip.transfer([0x80 | (reg << 1), 0])[1]


def transceive(chip: EmulatedChip, frame: bytes, last_bits: int = 0) -> tuple[list[int], int, int]:
    write(chip, COMMAND, 0x00)
    write(chip, COMM_IRQ, 0x7F)  # clear every IRQ bit
    write(chip, FIFO_LEVEL, 0x80)
    write(chip, FIFO_DATA, *frame)
    write(chip, COMMAND, 0x0C)
    write(chip, BIT_FRAMING, 0x80 | last_bits)
    n = read(chip, FIFO_LEVEL)
    data = [read(chip, FIFO_DATA) for _ in range(n)]
    return data, read(chip, ERROR), read(chip, COMM_IRQ)


@pytest.fixture
def chip() -> EmulatedChip:
    c = EmulatedChip()
    write(c, T_MODE, 0x8D)
    write(c, T_PRESCALER, 0x3E)
    write(c, T_RELOAD_L, 9)
    write(c, TX_CONTROL, 0x83)
    return c


def test_reset_values_and_version() -> None:
    chip = EmulatedChip()
    assert read(chip, VERSION) == 0x92 and read(chip, COMMAND) == 0x20 and read(chip, MODE) == 0x3F


def test_multi_byte_read_follows_the_address_list(chip: EmulatedChip) -> None:
    out = chip.transfer([0x80 | (VERSION << 1), 0x80 | (MODE << 1), 0])
    assert out[1:] == [0x92, 0x3F]


def test_fifo_level_flush_and_overflow(chip: EmulatedChip) -> None:
    write(chip, FIFO_DATA, *range(10))
    assert read(chip, FIFO_LEVEL) == 10
    write(chip, FIFO_LEVEL, 0x80)
    assert read(chip, FIFO_LEVEL) == 0
    write(chip, FIFO_DATA, *([0] * 65))
    assert read(chip, ERROR) & 0x10 and read(chip, FIFO_LEVEL) == 64


def test_irq_register_set_and_clear_by_bit7(chip: EmulatedChip) -> None:
    write(chip, COMM_IRQ, 0x7F)
    write(chip, COMM_IRQ, 0x80 | 0x21)
    assert read(chip, COMM_IRQ) == 0x21
    write(chip, COMM_IRQ, 0x01)
    assert read(chip, COMM_IRQ) == 0x20


def test_calc_crc_uses_the_crc_a_preset(chip: EmulatedChip) -> None:
    write(chip, MODE, 0x3D)
    write(chip, FIFO_DATA, 0x50, 0x00)
    write(chip, COMMAND, 0x03)
    assert (read(chip, 0x22), read(chip, 0x21)) == tuple(crc_a(b"\x50\x00"))


def test_no_card_ends_by_the_timer(chip: EmulatedChip) -> None:
    data, _, irq = transceive(chip, b"\x52", last_bits=7)
    assert data == [] and not irq & 0x20
    for _ in range(10_000):
        if read(chip, COMM_IRQ) & 0x01:
            break
    assert read(chip, COMM_IRQ) & 0x01


def test_irq_pin_falls_when_the_timer_runs_out_without_register_reads(chip: EmulatedChip) -> None:
    fell = threading.Event()
    chip.on_irq = lambda level: None if level else fell.set()
    write(chip, COMM_IEN, 0x80 | 0x01)  # TimerIEn, IRqInv: active low
    assert chip.irq_level is True and not fell.is_set()
    transceive(chip, b"\x52", last_bits=7)
    assert fell.wait(5.0)


def test_card_states_reqa_wupa_halt(chip: EmulatedChip) -> None:
    chip.place(bytes.fromhex("a1b2c3d4"))
    card = chip.cards[0]
    assert transceive(chip, b"\x26", 7)[0] == [0x04, 0x00]
    assert card.state is CardState.READY
    card.state = CardState.HALT
    assert transceive(chip, b"\x26", 7)[0] == []  # REQA does not wake a halted card
    assert transceive(chip, b"\x52", 7)[0] == [0x04, 0x00]  # WUPA does


def test_two_cards_collide_at_the_first_differing_bit(chip: EmulatedChip) -> None:
    chip.place(bytes.fromhex("a1b2c3d4"), bytes.fromhex("a1b2c3d5"))
    assert transceive(chip, b"\x52", 7)[0] == [0x04, 0x00]  # same ATQA: no collision
    data, error, irq = transceive(chip, b"\x93\x20")
    assert error & 0x08 and irq & 0x02
    # LSB first: a1 b2 c3 agree, d4/d5 differ in bit 0 of byte 3 -> bit 24
    assert read(chip, COLL) & 0x1F == 25 and read(chip, CONTROL) & 0x07 == 0
    assert data == [0xA1, 0xB2, 0xC3]


def test_select_with_a_bad_crc_gets_no_answer() -> None:
    card = VirtualCard(bytes.fromhex("a1b2c3d4"))
    card.receive(b"\x26", 7)
    frame = b"\x93\x70\xa1\xb2\xc3\xd4" + bytes((0xA1 ^ 0xB2 ^ 0xC3 ^ 0xD4,))
    assert card.receive(frame + b"\x00\x00", 0) is None
    card.receive(b"\x26", 7)
    assert card.receive(frame + crc_a(frame), 0) == ("sak", b"\x08" + crc_a(b"\x08"))
    assert card.state is CardState.ACTIVE


def test_reset_pin_holds_the_chip(chip: EmulatedChip) -> None:
    chip.set_reset_pin(False)
    assert read(chip, VERSION) == 0
    chip.set_reset_pin(True)
    assert read(chip, VERSION) == 0x92 and read(chip, T_MODE) == 0  # registers back to defaults
