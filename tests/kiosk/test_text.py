"""Visitor text sanitiser: controls out, emoji and right-to-left kept, caps respected."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk import text


@pytest.mark.parametrize(("raw", "expected"), [
    ("Ana Souza", "Ana Souza"),
    ("  Ana\t\nSouza  ", "Ana Souza"),
    ("Ana\x1b@\x1dV\x00Souza", "Ana@VSouza"),          # ESC @ (init) and GS V (cut) lose their command bytes
    ("Ana\x10\x14\x01Souza", "AnaSouza"),               # DLE DC4 (pulse the cash drawer)
    ("Bob\x7f\x85\x9b", "Bob"),                         # DEL and C1 controls
    ("Ze\u0301", "Zé"),                                 # NFC
    ("\u202eevil\u202c", "evil"),                       # bidi override
    ("\u2066x\u2069", "x"),                             # bidi isolate
    ("\ue000private", "private"),
    ("Family 👨\u200d👩\u200d👧", "Family 👨\u200d👩\u200d👧"),
    ("שרה כהן", "שרה כהן"),
    ("محمد", "محمد"),
    (None, ""),
])
def test_clean(raw, expected) -> None:
    assert text.clean(raw) == expected


def test_cap_never_splits_an_emoji_sequence() -> None:
    value = "a" * 6 + "👨\u200d👩\u200d👧"
    out = text.clean(value, max_len=8)
    assert out == "a" * 6 + "👨"


def test_cap_500_characters() -> None:
    assert len(text.clean_name("x" * 500)) == text.NAME_MAX


def test_printable_drops_emoji_keeps_letters() -> None:
    assert text.printable("Ana 😀 Souza") == "Ana Souza"
    assert text.printable("שרה") == "שרה"


def test_initial_form() -> None:
    assert text.initial_form("Ana", "Souza") == "Ana S."
    assert text.initial_form("Ana", "") == "Ana"


@given(st.text(max_size=300), st.integers(min_value=1, max_value=200))
def test_property_clean(value: str, cap: int) -> None:
    out = text.clean(value, max_len=cap)
    assert len(out) <= cap
    assert text.clean(out, max_len=cap) == out
    for ch in out:
        assert unicodedata.category(ch) not in {"Cc", "Cs", "Co", "Cn"}
        assert ch not in "\x1b\x1d\x10"
