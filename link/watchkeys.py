"""Watch-list match keys: how a name and a birth date become the keys both sides compare.

The hub screens visitors against the watch list and sends kiosks a cache of hashed keys (no
names, no dates) for screening while it is away; the kiosk derives a visitor's keys the same
way. Both sides must agree to the letter, so the rules live here, in the contract, once.

Rules (documented for the front office in docs/visitors.md): case, accents and punctuation are
ignored; a hyphenated or compound surname matches as a whole and by each word of at least
:data:`MIN_SURNAME_PART` letters; a given name matches through its nickname group (the group's
first name is its root); a birth date also matches with day and month swapped.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date

#: Surname words shorter than this do not match on their own (``de``, ``la``, ``da``).
MIN_SURNAME_PART = 3


def normalise(value: str) -> str:
    """Case-, accent- and punctuation-insensitive form of a name, words separated by one space."""
    decomposed = unicodedata.normalize("NFKD", value or "")
    letters = []
    for ch in decomposed:
        if unicodedata.combining(ch):
            continue
        if ch in "'’`´.":
            continue
        letters.append(ch if ch.isalnum() else " ")
    return " ".join("".join(letters).casefold().split())


def surname_forms(last: str) -> frozenset[str]:
    """The surname run together, and each of its words long enough to stand alone."""
    words = normalise(last).split()
    if not words:
        return frozenset()
    forms = {"".join(words)}
    if len(words) > 1:
        forms.update(w for w in words if len(w) >= MIN_SURNAME_PART)
    return frozenset(forms)


def nickname_roots(nicknames: Iterable[Sequence[str]]) -> dict[str, frozenset[str]]:
    """Name -> the roots (group heads) it belongs to, from a table of nickname groups."""
    roots: dict[str, set[str]] = {}
    for group in nicknames:
        if not group:
            continue
        head = normalise(group[0]).replace(" ", "")
        for name in group:
            roots.setdefault(normalise(name).replace(" ", ""), set()).add(head)
    return {name: frozenset(heads) for name, heads in roots.items()}


def given_roots(first: str, roots: dict[str, frozenset[str]]) -> frozenset[str]:
    """The roots of the first given name (whole and, if compound, its first word)."""
    words = normalise(first).split()
    if not words:
        return frozenset()
    out: set[str] = set()
    for form in {"".join(words), words[0]}:
        out |= roots.get(form, frozenset({form}))
    return frozenset(out)


def name_keys(first: str, last: str, roots: dict[str, frozenset[str]]) -> frozenset[str]:
    """Every ``surname|root`` pair of a person: two people share one when their names match."""
    return frozenset(f"{s}|{g}" for s in surname_forms(last) for g in given_roots(first, roots))


def dob_forms(dob: date) -> frozenset[str]:
    """The birth date and, where it is a real date, its day/month swap."""
    forms = {dob.isoformat()}
    if dob.day <= 12 and dob.day != dob.month:
        forms.add(date(dob.year, dob.day, dob.month).isoformat())
    return frozenset(forms)


def dob_keys(names: Iterable[str], dob: date) -> frozenset[str]:
    """``surname|root|YYYY-MM-DD`` for each name key and each birth-date form."""
    return frozenset(f"{n}|{d}" for n in names for d in dob_forms(dob))


def hash_key(secret: bytes, key: str) -> str:
    """A match key as the kiosk cache carries it: 8 bytes of HMAC-SHA256, hex."""
    return hmac.new(secret, key.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
