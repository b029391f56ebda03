"""Visitor-typed text made safe for the screen, the wire and the printer.

Everything a visitor types or a barcode carries passes through :func:`clean` before it is
shown, sent or printed:

* Unicode NFC, so one name has one spelling;
* control characters (C0 with ESC, DEL, C1) removed: ESC/POS commands start with ESC, GS or
  DLE, so without them no printer command can ride in on a name;
* bidirectional embeddings, overrides and isolates removed (they can make a name display as
  another), private-use, unassigned and surrogate code points removed; zero-width joiner and
  variation selectors kept so emoji sequences stay whole;
* runs of whitespace (tabs, line and paragraph separators included) collapsed to one space;
* a length cap in code points that never leaves half an emoji sequence or a dangling
  combining mark.

Right-to-left letters and emoji are kept: the page shows them with ``dir="auto"``, and the
badge renderer draws what its font has (:func:`printable`).
"""

from __future__ import annotations

import unicodedata

#: Default caps, in code points.
NAME_MAX = 64
FIELD_MAX = 120

# Bidi embeddings/overrides/isolates and marks: U+202A-U+202E, U+2066-U+2069, LRM/RLM/ALM.
_BIDI_CONTROLS = {*(chr(c) for c in range(0x202A, 0x202F)), *(chr(c) for c in range(0x2066, 0x206A)),
                  "\u200e", "\u200f", "\u061c"}
_KEEP_FORMAT = {"\u200d"}  # zero-width joiner: emoji sequences
_DROP_CATEGORIES = {"Cc", "Cs", "Co", "Cn"}
_SPACE_CATEGORIES = {"Zs", "Zl", "Zp"}
_JOINERS = {"\u200d", "\ufe0f", "\ufe0e"}


def _keep(ch: str) -> str | None:
    """The character to keep for ``ch``: itself, a space, or None to drop it."""
    if ch in ("\t", "\n", "\r"):
        return " "
    cat = unicodedata.category(ch)
    if cat in _DROP_CATEGORIES or ch in _BIDI_CONTROLS:
        return None
    if cat == "Cf" and ch not in _KEEP_FORMAT:
        return None
    if cat in _SPACE_CATEGORIES:
        return " "
    return ch


def clean(value: object, *, max_len: int = FIELD_MAX) -> str:
    """``value`` as safe single-line text of at most ``max_len`` code points."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value))
    kept = (_keep(ch) for ch in text)
    text = " ".join("".join(c for c in kept if c is not None).split())
    if len(text) > max_len:
        text = text[:max_len]
        # Never end on a joiner, a variation selector or a combining mark of a cut cluster.
        while text and (text[-1] in _JOINERS or unicodedata.combining(text[-1])):
            text = text[:-1]
        text = text.rstrip()
    return text


def clean_name(value: object) -> str:
    """A person's name: :func:`clean` with the name cap."""
    return clean(value, max_len=NAME_MAX)


def printable(value: str) -> str:
    """Text for a one-bit badge: :func:`clean` minus emoji and symbols a label font cannot draw."""
    out = []
    for ch in clean(value, max_len=FIELD_MAX):
        if ch in _JOINERS:
            continue
        if unicodedata.category(ch) == "So" and ord(ch) > 0x2BFF:
            continue
        out.append(ch)
    return " ".join("".join(out).split())


def is_clean(value: str, *, max_len: int = FIELD_MAX) -> bool:
    """True when ``value`` is already what :func:`clean` would return."""
    return clean(value, max_len=max_len) == value


def initial_form(first: str, last: str) -> str:
    """``First L.``: how sign-out by name shows a visitor (never a full surname)."""
    first = clean_name(first)
    last = clean_name(last)
    return f"{first} {last[0]}." if last else first
