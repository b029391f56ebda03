"""ISO 14443-3 helpers: CRC_A against the standard's worked examples, BCC, cascade parts."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware.iso14443 import CASCADE_TAG, atqa_for, bcc, cascade_parts, check_crc_a, crc_a


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x00\x00", b"\xa0\x1e"),  # ISO/IEC 14443-3 annex B: CRC_A 0x1EA0, LSB first
        (b"\x12\x34", b"\x26\xcf"),  # annex B: CRC_A 0xCF26
        (b"\x50\x00", b"\x57\xcd"),  # HLTA as every reader sends it
    ],
)
def test_crc_a_matches_the_standard(data: bytes, expected: bytes) -> None:
    assert crc_a(data) == expected


@given(st.binary(min_size=1, max_size=32), st.data())
def test_crc_a_detects_every_single_bit_error(data: bytes, draw: st.DataObject) -> None:
    frame = bytearray(data + crc_a(data))
    assert check_crc_a(frame)
    bit = draw.draw(st.integers(0, len(frame) * 8 - 1))
    frame[bit // 8] ^= 1 << (bit % 8)
    assert not check_crc_a(frame)


def test_check_crc_a_rejects_frames_too_short_to_hold_one() -> None:
    assert not check_crc_a(b"\x57\xcd")
    assert not check_crc_a(b"")


@given(st.sampled_from([4, 7, 10]).flatmap(lambda n: st.binary(min_size=n, max_size=n)))
def test_cascade_parts_rebuild_the_uid(uid: bytes) -> None:
    parts = cascade_parts(uid)
    assert all(len(p) == 4 for p in parts)
    assert all(p[0] == CASCADE_TAG for p in parts[:-1])
    assert b"".join(p[1:] for p in parts[:-1]) + parts[-1] == uid


@pytest.mark.parametrize("length", [0, 3, 5, 8, 11])
def test_cascade_parts_rejects_impossible_lengths(length: int) -> None:
    with pytest.raises(ValueError, match="4, 7 or 10"):
        cascade_parts(bytes(length))


def test_bcc_and_atqa() -> None:
    assert bcc(b"\xde\xad\xbe\xef") == 0xDE ^ 0xAD ^ 0xBE ^ 0xEF
    assert atqa_for(bytes(4)) == b"\x04\x00"
    assert atqa_for(bytes(7)) == b"\x44\x00"
    assert atqa_for(bytes(10)) == b"\x84\x00"
