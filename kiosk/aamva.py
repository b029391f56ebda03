"""AAMVA DL/ID card data (the PDF417 on the back of a US or Canadian licence): name and birth date.

The record is ``@ LF RS CR``, a file type (``ANSI `` since 2000, ``AAMVA`` before), the
issuer's six-digit IIN, the AAMVA version (``00``..``10``), a jurisdiction version (from version
02 on), the number of subfiles, one ten-character designator per subfile (type, offset, length),
then the subfiles (``DL``/``ID`` plus elements of a three-letter id and a value, each ended by LF,
the subfile by CR).

Only what the kiosk needs leaves this module: the holder's names and date of birth. The
licence number (DAQ), the address (DAG...DAK), physical description and everything else are
read past and never kept (data minimisation, policy VII.B and issue 7).

Tolerated deviations seen in issued cards (each one in the tests):

* a wrong or damaged header: a missing ``@``, ``0x1C`` instead of RS, CR/LF swapped, ``ANSI``
  without its space, the pre-2000 ``AAMVA`` file type;
* designators whose offsets or lengths are wrong, or none at all (the ``DL`` subfile directly
  after the header); elements are then found by scanning, which is safe because every DL/ID
  element id starts with ``D`` and jurisdiction subfiles use ``Z``;
* the date of birth in ``CCYYMMDD`` where the version says ``MMDDCCYY`` or the other way round
  (the two never overlap: a month is at most 12, a century 19 or 20);
* given names in DCT (versions 02-03) on a later card, or a version 01 full name in DAA.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

#: Published AAMVA DL/ID card design standard versions this parser knows.
VERSIONS = tuple(range(0, 11))

_HEADER = re.compile(
    rb"@?[\r\n]{0,2}[\x1c\x1e]?[\r\n]{0,2}(ANSI ?|AAMVA)(\d{6})(\d{2})",
)
_DESIGNATOR = re.compile(rb"([A-Z]{2})(\d{4})(\d{4})")
_ELEMENT = re.compile(r"^([A-Z]{3})(.*)$", re.S)
_SEPARATORS = re.compile(r"[\n\r\x1e\x1c]")
_TRUNCATED_PLACEHOLDERS = {"NONE", "UNAVL", "UNAVAILABLE", "N/A", "NA", "NMN", "NFN", "NLN"}

#: Largest payload accepted; real cards carry well under 1 KiB.
MAX_BYTES = 4096


class AamvaError(ValueError):
    """A barcode that is not a usable AAMVA record; ``reason`` is a short machine word."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class IdHolder:
    """What the kiosk keeps from a licence: names and date of birth, nothing else."""

    first: str
    last: str
    dob: date
    middle: str = ""
    version: int | None = None

    @property
    def display_name(self) -> str:
        """``First Last`` for the screen and the badge."""
        return f"{self.first} {self.last}".strip()


def _text(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    # NOTE: AAMVA is ASCII; some issuers put Latin-1 accents in names. latin-1 never fails.
    return data.decode("latin-1")


def _split_version(raw: bytes) -> tuple[int | None, int]:
    """(version, index just past the fixed header) or (None, 0) when no header is found."""
    match = _HEADER.search(raw[:64])
    if match is None:
        return None, 0
    return int(match.group(3)), match.end()


def _elements(text: str) -> dict[str, str]:
    """Every ``D..`` element of the DL/ID subfile, first occurrence wins."""
    found: dict[str, str] = {}
    for token in _SEPARATORS.split(text):
        token = token.strip("\x00 ")
        # The first element of a subfile follows its two-letter type (``DLDAQ...``); no
        # element id starts with ``DL``, so the type is recognised without ambiguity.
        if token[:2] in ("DL", "ID") and token[2:3] == "D":
            token = token[2:]
        match = _ELEMENT.match(token)
        if match and match.group(1)[0] == "D":
            found.setdefault(match.group(1), match.group(2).strip())
    return found


def _subfile_text(raw: bytes, header_end: int, version: int | None) -> str:
    """The DL or ID subfile by its designator when that is right, else everything after the header."""
    if version is None:
        return _text(raw)
    pos = header_end + (2 if version >= 2 else 0)  # jurisdiction version
    count_txt = raw[pos:pos + 2]
    pos += 2
    if count_txt.isdigit():
        for _ in range(min(int(count_txt), 16)):
            match = _DESIGNATOR.match(raw, pos)
            if match is None:
                break
            pos = match.end()
            kind, offset, length = match.group(1), int(match.group(2)), int(match.group(3))
            if kind in (b"DL", b"ID") and raw[offset:offset + 2] == kind and length > 2:
                return _text(raw[offset:offset + length])
    # Designators missing or wrong: scan from the end of the header.
    return _text(raw[header_end:])


def _clean_name(value: str, *, may_be_placeholder: bool = True) -> str:
    value = " ".join(value.replace(",", " ").split())
    if may_be_placeholder and value.upper() in _TRUNCATED_PLACEHOLDERS:
        return ""
    return value


def _names(el: dict[str, str]) -> tuple[str, str, str]:
    """(first, middle, last) from whichever name elements this card carries."""
    last = el.get("DCS") or el.get("DAB") or ""
    first = el.get("DAC") or ""
    middle = el.get("DAD") or ""
    if not first and el.get("DCT"):
        given = [p for p in re.split(r"[,\s]+", el["DCT"]) if p]
        if given:
            first, middle = given[0], middle or " ".join(given[1:])
    if (not first or not last) and el.get("DAA"):
        full = el["DAA"]
        parts = [p.strip() for p in re.split(r"[,$@]", full)]
        parts = [p for p in parts if p]
        if len(parts) >= 2:
            last = last or parts[0]
            first = first or parts[1]
            middle = middle or " ".join(parts[2:3])
        elif parts:
            words = parts[0].split()
            if len(words) >= 2:
                first = first or words[0]
                last = last or words[-1]
    return _clean_name(first), _clean_name(middle), _clean_name(last, may_be_placeholder=False)


def parse_date(value: str) -> date:
    """An AAMVA date in either ``MMDDCCYY`` or ``CCYYMMDD``, recognised by its digits."""
    digits = re.sub(r"[^0-9]", "", value)
    if len(digits) != 8:
        raise AamvaError("bad_dob", "date of birth is not eight digits")
    head = int(digits[:2])
    try:
        if head in (19, 20):  # CCYYMMDD: a century, never a month
            return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        return date(int(digits[4:]), int(digits[:2]), int(digits[2:4]))
    except ValueError:
        raise AamvaError("bad_dob", "date of birth is not a real date") from None


def parse(data: bytes | str) -> IdHolder:
    """Names and date of birth from an AAMVA barcode payload, or AamvaError."""
    raw = data.encode("latin-1", "replace") if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_BYTES:
        raise AamvaError("oversized", f"{len(raw)} bytes")
    version, header_end = _split_version(raw)
    elements = _elements(_subfile_text(raw, header_end, version))
    if version is None and not ({"DCS", "DAB", "DAA"} & elements.keys() and "DBB" in elements):
        raise AamvaError("not_aamva", "no AAMVA header and no licence fields")
    first, middle, last = _names(elements)
    if not first or not last:
        raise AamvaError("no_name", "the barcode carries no first and last name")
    if "DBB" not in elements:
        raise AamvaError("no_dob", "the barcode carries no date of birth")
    dob = parse_date(elements["DBB"])
    return IdHolder(first=first[:64], last=last[:64], middle=middle[:64], dob=dob, version=version)


def build(
    *,
    first: str,
    last: str,
    dob: date,
    version: int = 10,
    middle: str = "",
    number: str = "D1234567",
    street: str = "1 MAIN ST",
    city: str = "SPRINGFIELD",
    iin: str = "636014",
    canadian: bool = False,
) -> bytes:
    """A well-formed AAMVA record of ``version`` (for the simulator, fixtures and tests)."""
    if version not in VERSIONS:
        raise ValueError(f"unknown AAMVA version {version}")
    dob_txt = dob.strftime("%Y%m%d") if (version <= 1 or canadian) else dob.strftime("%m%d%Y")
    fields: list[tuple[str, str]] = [("DAQ", number)]
    if version <= 1:
        fields.append(("DAA", f"{last},{first}" + (f",{middle}" if middle else "")))
    elif version <= 3:
        fields += [("DCS", last), ("DCT", f"{first},{middle}" if middle else first)]
    else:
        fields += [("DCS", last), ("DAC", first), ("DAD", middle or "NONE")]
    fields += [("DBB", dob_txt), ("DAG", street), ("DAI", city), ("DAJ", "MA")]
    if version >= 2:
        fields.append(("DCG", "CAN" if canadian else "USA"))
    body = "DL" + "".join(f"{code}{value}\n" for code, value in fields)
    body = body[:-1] + "\r"
    juris = b"ZC" + b"ZCAX\r"
    file_type = b"AAMVA" if version == 0 else b"ANSI "
    head = b"@\n\x1e\r" + file_type + iin.encode() + f"{version:02d}".encode()
    if version >= 2:
        head += b"00"
    head += b"02"
    dl = body.encode("latin-1")
    offset = len(head) + 20
    designators = b"DL" + f"{offset:04d}{len(dl):04d}".encode()
    designators += b"ZC" + f"{offset + len(dl):04d}{len(juris):04d}".encode()
    return head + designators + dl + juris
