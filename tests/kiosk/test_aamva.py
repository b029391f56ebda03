"""AAMVA DL/ID parsing: every version, known deviations, hostile input."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk import aamva
from kiosk.aamva import AamvaError

DOB = date(1984, 7, 21)


@pytest.mark.parametrize("version", aamva.VERSIONS)
def test_every_version_round_trips(version: int) -> None:
    raw = aamva.build(first="Ana", middle="Luisa", last="Souza", dob=DOB, version=version)
    holder = aamva.parse(raw)
    assert (holder.first, holder.middle, holder.last, holder.dob) == ("Ana", "Luisa", "Souza", DOB)
    assert holder.version == version


def test_only_name_and_dob_are_kept() -> None:
    raw = aamva.build(first="Ana", last="Souza", dob=DOB, number="S99887766", street="12 ELM ST")
    holder = aamva.parse(raw)
    text = repr(holder) + str(vars(holder))
    assert "S99887766" not in text and "ELM" not in text and "SPRINGFIELD" not in text


def test_canadian_card_uses_ccyymmdd() -> None:
    raw = aamva.build(first="Luc", last="Tremblay", dob=DOB, canadian=True, iin="636012")
    assert aamva.parse(raw).dob == DOB


# A real-world shaped v08 record (values invented), with a jurisdiction subfile.
SAMPLE_V08 = (
    b"@\n\x1e\rANSI 636026080102DL00410266ZA03070019DLDCAD\nDCBNONE\nDCDNONE\nDBA08152030\n"
    b"DCSMORGAN\nDACJAMIE\nDADLEE\nDBD08152022\nDBB02291996\nDBC2\nDAYBRO\nDAU069 IN\n"
    b"DAG400 OAK AVE\nDAIPHOENIX\nDAJAZ\nDAK850010000  \nDAQD08799221\nDCF0000000000\n"
    b"DCGUSA\nDDEN\nDDFN\nDDGN\r"
    b"ZAZAAN\r"
)


def test_sample_v08_leap_day() -> None:
    holder = aamva.parse(SAMPLE_V08)
    assert (holder.first, holder.middle, holder.last, holder.dob) == ("JAMIE", "LEE", "MORGAN", date(1996, 2, 29))


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda b: b.replace(b"\x1e", b"\x1c", 1), id="fs-instead-of-rs"),
        pytest.param(lambda b: b[1:], id="no-compliance-at"),
        pytest.param(lambda b: b.replace(b"@\n\x1e\r", b"@\n\x1e\n", 1), id="lf-for-cr"),
        pytest.param(lambda b: b.replace(b"ANSI ", b"ANSI", 1), id="ansi-without-space"),
        pytest.param(lambda b: b.replace(b"ANSI ", b"AAMVA", 1), id="aamva-file-type"),
        pytest.param(lambda b: b.replace(b"DL0041", b"DL0099", 1), id="wrong-offset"),
        pytest.param(lambda b: b[:b.index(b"DL0041")] + b[b.index(b"DLDCA"):], id="no-designators"),
        pytest.param(lambda b: b.replace(b"DBB02291996", b"DBB19960229"), id="ccyymmdd-in-us-card"),
        pytest.param(lambda b: b.replace(b"DACJAMIE\nDADLEE", b"DCTJAMIE,LEE"), id="dct-on-v08"),
        pytest.param(lambda b: b.replace(b"\n", b"\r\n"), id="crlf-separators"),
    ],
)
def test_known_deviations(mangle) -> None:
    holder = aamva.parse(mangle(SAMPLE_V08))
    assert (holder.first, holder.last, holder.dob) == ("JAMIE", "MORGAN", date(1996, 2, 29))


def test_v01_date_in_mmddccyy_deviation() -> None:
    raw = aamva.build(first="Ana", last="Souza", dob=DOB, version=1)
    raw = raw.replace(b"DBB19840721", b"DBB07211984")
    assert aamva.parse(raw).dob == DOB


def test_v01_full_name_without_commas() -> None:
    raw = aamva.build(first="Ana", last="Souza", dob=DOB, version=1).replace(b"DAASouza,Ana", b"DAAANA SOUZA")
    holder = aamva.parse(raw)
    assert (holder.first, holder.last) == ("ANA", "SOUZA")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "not_aamva"),
        (b"https://example.com/not-a-licence", "not_aamva"),
        (b"\x00\xff" * 40, "not_aamva"),
        (SAMPLE_V08.replace(b"DCSMORGAN\n", b""), "no_name"),
        (SAMPLE_V08.replace(b"DBB02291996\n", b""), "no_dob"),
        (SAMPLE_V08.replace(b"DBB02291996", b"DBB02301996"), "bad_dob"),
        (SAMPLE_V08.replace(b"DBB02291996", b"DBB1996"), "bad_dob"),
        (SAMPLE_V08 + b"X" * aamva.MAX_BYTES, "oversized"),
    ],
)
def test_bad_input_has_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(AamvaError) as err:
        aamva.parse(payload)
    assert err.value.reason == reason


@pytest.mark.parametrize(("value", "expected"), [
    ("07211984", DOB), ("19840721", DOB), ("2001-01-02", date(2001, 1, 2)), ("12312000", date(2000, 12, 31)),
])
def test_parse_date_either_order(value: str, expected: date) -> None:
    assert aamva.parse_date(value) == expected


_name = st.text(alphabet=st.characters(min_codepoint=65, max_codepoint=90), min_size=1, max_size=20).filter(
    lambda n: n not in {"NONE", "UNAVL", "UNAVAILABLE", "NA", "NMN", "NFN", "NLN"})


@settings(max_examples=200, deadline=None)
@given(first=_name, last=_name, middle=st.one_of(st.just(""), _name),
       dob=st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
       version=st.sampled_from(aamva.VERSIONS), canadian=st.booleans())
def test_property_round_trip(first: str, last: str, middle: str, dob: date, version: int, canadian: bool) -> None:
    holder = aamva.parse(aamva.build(first=first, last=last, middle=middle, dob=dob, version=version, canadian=canadian))
    assert (holder.first, holder.last, holder.dob) == (first, last, dob)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_property_arbitrary_bytes_never_crash(data: bytes) -> None:
    try:
        holder = aamva.parse(data)
    except AamvaError as exc:
        assert exc.reason in {"not_aamva", "no_name", "no_dob", "bad_dob", "oversized"}
    else:
        assert holder.first and holder.last


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=400), st.binary(max_size=8))
def test_property_corrupted_record_never_crashes(cut: int, junk: bytes) -> None:
    raw = SAMPLE_V08[:cut] + junk + SAMPLE_V08[cut:]
    try:
        aamva.parse(raw)
    except AamvaError:
        pass
