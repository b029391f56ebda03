"""On a Raspberry Pi wired as docs/hardware.md: the real drivers. Set GATEHOUSE_ON_PI=1 to run.

``GATEHOUSE_TEST_UID`` (hex) names the card the installer holds on the first reader.
"""

import os

import pytest

pytestmark = [
    pytest.mark.hardware,
    pytest.mark.skipif(os.environ.get("GATEHOUSE_ON_PI") != "1", reason="needs a wired Raspberry Pi"),
]


def test_reader_chip_answers_and_reads_the_test_card() -> None:
    from hardware.reader import KNOWN_VERSIONS, Mfrc522Reader

    with Mfrc522Reader(name="front", device=0, rst_pin=25) as reader:
        assert reader.chip_version in KNOWN_VERSIONS
        uid = os.environ.get("GATEHOUSE_TEST_UID")
        if uid:
            read = reader.wait_for_card(timeout_s=30)
            assert read is not None and read.uid == bytes.fromhex(uid)


def test_strike_relay_and_contact() -> None:
    from hardware.door import DoorIO

    with DoorIO() as door:
        assert not door.is_open, "close the door before running this test"
        door.unlock()
        assert door.is_unlocked
        door.lock()
        assert not door.is_unlocked
