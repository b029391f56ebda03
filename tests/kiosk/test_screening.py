"""Offline screening on the hashed cache, pinned to the hub's matcher."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.visitors import screening as hub_sc
from kiosk.screening import WatchCache, visitor_keys

NOW = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
SECRET = b"0" * 32
ENTRIES = [hub_sc.WatchEntry(7, "Robert", "Smith-Jones", date(1970, 2, 3)),
           hub_sc.WatchEntry(8, "Zoë", "Ng", None)]


def _cache(issued: datetime = NOW - timedelta(hours=1), entries=ENTRIES) -> WatchCache:
    return WatchCache.from_entries(
        version=3, issued_at=issued, max_age=timedelta(hours=24), secret=SECRET,
        nicknames=hub_sc.NICKNAMES, entries=hub_sc.cache_entries(entries, SECRET))


@pytest.mark.parametrize(("first", "last", "dob", "outcome", "hits"), [
    ("Bob", "Jones", date(1970, 2, 3), "possible_match", (7,)),
    ("Bob", "Jones", date(1970, 3, 2), "possible_match", (7,)),
    ("Bob", "Jones", date(1971, 2, 3), "clear", ()),
    ("Bob", "Jones", None, "possible_match", (7,)),
    ("zoe", "NG", date(2000, 1, 1), "possible_match", (8,)),
    ("Ana", "Souza", date(1990, 1, 1), "clear", ()),
])
def test_screen(first, last, dob, outcome, hits) -> None:
    verdict = _cache().screen(first, last, dob, NOW)
    assert (verdict.outcome, verdict.hits) == (outcome, hits)


@pytest.mark.parametrize("issued", [NOW - timedelta(hours=25), NOW + timedelta(hours=1)])
def test_stale_or_future_cache_never_clears(issued: datetime) -> None:
    verdict = _cache(issued).screen("Ana", "Souza", date(1990, 1, 1), NOW)
    assert verdict.outcome == "stale" and not verdict.is_clear


_names = st.text(alphabet="abcxyz ÀÇ-'’.", max_size=10)


@settings(max_examples=200, deadline=None)
@given(_names, _names, st.one_of(st.none(), st.dates()))
def test_property_kiosk_keys_equal_hub_keys(first: str, last: str, dob) -> None:
    names, dobs = visitor_keys(first, last, dob, hub_sc.NICKNAMES)
    assert names == hub_sc.name_keys(first, last)
    assert dobs == (hub_sc.dob_keys(names, dob) if dob else frozenset())


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_names, _names, st.one_of(st.none(), st.dates())), max_size=6),
       _names, _names, st.one_of(st.none(), st.dates()))
def test_property_kiosk_verdict_equals_hub_verdict(rows, first, last, dob) -> None:
    entries = [hub_sc.WatchEntry(i, f, l, d) for i, (f, l, d) in enumerate(rows)]
    hub_hits = hub_sc.WatchIndex.build(entries).screen(first, last, dob).hits
    verdict = _cache(entries=entries).screen(first, last, dob, NOW)
    assert verdict.hits == hub_hits
    assert verdict.outcome == ("possible_match" if hub_hits else "clear")
