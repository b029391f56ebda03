"""Pure ISO/IEC 14443-3 type A helpers: CRC_A, BCC, cascade levels. No I/O."""

from __future__ import annotations

#: Anticollision / select command byte of each cascade level (SEL).
CASCADE_SEL: tuple[int, ...] = (0x93, 0x95, 0x97)
#: Cascade tag: first byte of a cascade level's UID part when the UID continues.
CASCADE_TAG = 0x88
#: SAK bit 3 (0x04): the UID is not complete, go to the next cascade level.
SAK_CASCADE_BIT = 0x04
REQA = 0x26
WUPA = 0x52
HLTA = (0x50, 0x00)
#: Valid UID lengths: single, double and triple size.
UID_LENGTHS = (4, 7, 10)


def crc_a(data: bytes | bytearray | list[int]) -> bytes:
    """CRC_A of ISO 14443-3 (polynomial 0x8408 reflected, preset 0x6363), low byte first."""
    crc = 0x6363
    for byte in data:
        b = (byte ^ (crc & 0xFF)) & 0xFF
        b = (b ^ (b << 4)) & 0xFF
        crc = ((crc >> 8) ^ (b << 8) ^ (b << 3) ^ (b >> 4)) & 0xFFFF
    return bytes((crc & 0xFF, crc >> 8))


def check_crc_a(frame: bytes | bytearray | list[int]) -> bool:
    """True when the last two bytes of ``frame`` are the CRC_A of the bytes before them."""
    frame = bytes(frame)
    return len(frame) >= 3 and crc_a(frame[:-2]) == frame[-2:]


def bcc(uid_part: bytes | bytearray | list[int]) -> int:
    """Block check character of one cascade level: XOR of its four bytes."""
    out = 0
    for byte in uid_part:
        out ^= byte
    return out


def cascade_parts(uid: bytes) -> list[bytes]:
    """Split a 4, 7 or 10 byte UID into the 4-byte parts sent at each cascade level."""
    if len(uid) not in UID_LENGTHS:
        raise ValueError(f"UID must be 4, 7 or 10 bytes, not {len(uid)}")
    parts: list[bytes] = []
    rest = uid
    while len(rest) > 4:
        parts.append(bytes((CASCADE_TAG,)) + rest[:3])
        rest = rest[3:]
    parts.append(rest)
    return parts


def atqa_for(uid: bytes) -> bytes:
    """ATQA a card with this UID answers to REQA/WUPA (UID size in bits 7-6), low byte first."""
    size_bits = {4: 0x00, 7: 0x40, 10: 0x80}[len(uid)]
    return bytes((size_bits | 0x04, 0x00))
