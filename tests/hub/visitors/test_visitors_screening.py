"""Watch-list matcher: names that should and should not match, and the hashed kiosk cache."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.visitors import screening as sc
from hub.visitors.screening import WatchEntry, WatchIndex

DOB = date(1979, 11, 5)
ENTRIES = [
    WatchEntry(1, "William", "O'Brien", DOB),
    WatchEntry(2, "María José", "García-López", date(1990, 3, 4)),
    WatchEntry(3, "Renée", "Dubois", None),
    WatchEntry(4, "Al", "Stone", date(1960, 1, 31)),
]
INDEX = WatchIndex.build(ENTRIES)


@pytest.mark.parametrize(("first", "last", "dob", "hits"), [
    ("William", "O'Brien", DOB, (1,)),
    ("BILL", "obrien", DOB, (1,)),                 # nickname, case, apostrophe
    ("Billy", "O Brien", DOB, (1,)),               # a space instead of the apostrophe
    ("Liam", "O’Brien", DOB, (1,)),                # typographic apostrophe
    ("William", "O'Brien", date(1979, 5, 11), (1,)),   # day and month swapped
    ("William", "O'Brien", date(1979, 11, 6), ()),     # another birthday: another person
    ("William", "O'Brien", None, (1,)),            # no DOB (typed name): name alone, desk checks
    ("Maria", "Garcia", date(1990, 3, 4), (2,)),   # accents, half of a double surname
    ("maria jose", "LOPEZ", date(1990, 3, 4), (2,)),
    ("Mary", "Garcia Lopez", date(1990, 3, 4), (2,)),  # nickname group maria/mary
    ("Maria", "Garcia", date(1991, 3, 4), ()),
    ("Renee", "DUBOIS", date(2001, 1, 1), (3,)),   # entry without DOB: name alone
    ("René", "Dubois", None, ()),                  # a different given name
    ("Alfred", "Stone", date(1960, 1, 31), (4,)),  # "Al" belongs to several groups
    ("Alan", "Stone", date(1960, 1, 31), (4,)),
    ("Alice", "Stone", date(1960, 1, 31), ()),
    ("", "", None, ()),
])
def test_screen(first, last, dob, hits) -> None:
    assert INDEX.screen(first, last, dob).hits == hits


def test_apostrophe_vs_space_is_documented() -> None:
    # An apostrophe joins (O'Brien = OBrien); a space splits, and "o" is too short to stand alone.
    assert sc.surname_forms("O'Brien") == {"obrien"}
    assert sc.surname_forms("O Brien") == {"obrien", "brien"}
    assert INDEX.screen("Bill", "O Brien", DOB).hits == (1,)


def test_dismissed_entry_is_not_a_hit_again() -> None:
    result = INDEX.screen("Bill", "OBrien", DOB, dismissed=[1])
    assert result.is_clear and result.dismissed == (1,)


def test_fingerprint_is_stable_across_spellings_and_keyed() -> None:
    key = b"k" * 32
    a = sc.person_fingerprint(key, "Bill", "O'Brien", DOB)
    assert a == sc.person_fingerprint(key, "William", "OBRIEN", DOB)
    assert a != sc.person_fingerprint(key, "William", "OBRIEN", None)
    assert a != sc.person_fingerprint(b"x" * 32, "Bill", "O'Brien", DOB)
    assert "1979" not in a


def test_cache_entries_carry_no_names() -> None:
    rows = sc.cache_entries(ENTRIES, b"s" * 32)
    flat = repr(rows).lower()
    assert "brien" not in flat and "garcia" not in flat and "1979" not in flat
    assert rows[2][2] == []  # no DOB: no dob keys


_names = st.text(alphabet="abcdefgh ÁÉñ-'", min_size=0, max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_names, _names, st.one_of(st.none(), st.dates())), max_size=8),
       _names, _names, st.one_of(st.none(), st.dates()))
def test_property_index_agrees_with_pairwise_rule(rows, first, last, dob) -> None:
    entries = [WatchEntry(i, f, l, d) for i, (f, l, d) in enumerate(rows)]
    index = WatchIndex.build(entries)
    expected = []
    for e in entries:
        shared = sc.name_keys(first, last) & sc.name_keys(e.first, e.last)
        if not shared:
            continue
        if dob is None or e.dob is None or (sc.dob_forms(dob) & {e.dob.isoformat()}):
            expected.append(e.id)
    assert index.screen(first, last, dob).hits == tuple(expected)
