"""The stock mfrc522 0.0.7 library, unmodified, against the emulated chip.

These pin down the library defects the driver fixes, so a new library version that changes
them shows up here.
"""

import pytest

from hardware.iso14443 import bcc
from hardware.mfrc522_sim import SimBoard

UID4 = bytes.fromhex("a1b2c3d4")
UID7 = bytes.fromhex("04a1b2c3d4e5f6")


@pytest.fixture
def board() -> SimBoard:
    return SimBoard()


def stock(board: SimBoard, **kwargs):
    return board.load_mfrc522().MFRC522(**kwargs)


def test_library_reads_a_four_byte_uid_and_selects_it(board: SimBoard) -> None:
    chip = board.attach()
    lib = stock(board)
    chip.place(UID4)
    status, bits = lib.MFRC522_Request(lib.PICC_REQIDL)
    assert (status, bits) == (lib.MI_OK, 16)
    status, uid = lib.MFRC522_Anticoll()
    assert status == lib.MI_OK
    # The 5th byte is the BCC: SimpleMFRC522's numeric id is built from all five.
    assert bytes(uid) == UID4 + bytes((bcc(UID4),))
    assert lib.MFRC522_SelectTag(uid) == 0x08


def test_library_only_knows_cascade_level_one(board: SimBoard) -> None:
    chip = board.attach()
    lib = stock(board)
    chip.place(UID7)
    assert lib.MFRC522_Request(lib.PICC_REQIDL)[0] == lib.MI_OK
    status, uid = lib.MFRC522_Anticoll()
    assert status == lib.MI_OK
    assert uid[0] == 0x88 and bytes(uid[1:4]) == UID7[:3]  # the cascade tag, not the UID
    assert lib.MFRC522_SelectTag(uid) == 0x04  # "UID not complete", which it ignores


def test_library_does_not_check_the_select_crc(board: SimBoard) -> None:
    chip = board.attach()
    lib = stock(board)
    chip.place(UID4)
    lib.MFRC522_Request(lib.PICC_REQIDL)
    _, uid = lib.MFRC522_Anticoll()
    chip.inject("crc")
    assert lib.MFRC522_SelectTag(uid) == 0x08  # corrupted CRC accepted


def test_library_spins_two_thousand_reads_when_no_card_answers(board: SimBoard) -> None:
    chip = board.attach()
    lib = stock(board)
    before = chip.transfers
    status, _ = lib.MFRC522_Request(lib.PICC_REQIDL)
    assert status == lib.MI_ERR
    assert chip.transfers - before > 2000  # TimerIRq is ignored: a busy loop to the count


def test_library_drives_bcm15_as_reset_when_bcm_mode_was_chosen_first(board: SimBoard) -> None:
    board.attach(rst_pin=25)
    board.gpio.mode = board.gpio.BCM
    stock(board)
    assert (15, 1) in board.gpio.history  # GPIO15 is the UART RX pin, not the reader's reset
    assert all(pin != 25 for pin, _ in board.gpio.history)


def test_library_close_releases_every_pin_of_the_process(board: SimBoard) -> None:
    board.attach(rst_pin=25)
    board.attach(device=1, rst_pin=24)
    first = stock(board, pin_rst=22)
    stock(board, device=1, pin_rst=18)
    first.Close_MFRC522()
    assert board.gpio.outputs == {}  # the other reader's reset line was released too


def test_fakes_do_not_leak_into_sys_modules(board: SimBoard) -> None:
    import sys

    board.load_mfrc522()
    assert "spidev" not in sys.modules or sys.modules["spidev"] is not board._spidev
    assert sys.modules.get("RPi.GPIO") is not board._gpio_module


def test_missing_spi_device_is_an_os_error(board: SimBoard) -> None:
    with pytest.raises(FileNotFoundError):
        stock(board, device=1)
