"""Offline screening against the kiosk's cached watch list (used only when the hub is away).

The cache holds no names: the hub sends, per watch-list entry, hashed match keys (derived by
:mod:`link.watchkeys`, the one place both sides take the name rules from) and the nickname table. The kiosk computes the visitor's keys the same
way and looks them up. A cache older than its limit cannot clear anyone: the visitor is held
for the desk.

Pure: ``now`` is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from link import watchkeys

def visitor_keys(first: str, last: str, dob: date | None,
                 nicknames: Iterable[Sequence[str]]) -> tuple[frozenset[str], frozenset[str]]:
    """(name keys, dob keys) of a visitor, in the plain form the hub hashes (link.watchkeys)."""
    names = watchkeys.name_keys(first, last, watchkeys.nickname_roots(nicknames))
    if dob is None:
        return names, frozenset()
    return names, watchkeys.dob_keys(names, dob)


Outcome = Literal["clear", "possible_match", "stale"]


@dataclass(frozen=True)
class CachedVerdict:
    """What the kiosk decided alone: clear, a possible match (held), or a stale cache (held)."""

    outcome: Outcome
    hits: tuple[int, ...] = ()

    @property
    def is_clear(self) -> bool:
        """True only when the cache was fresh and nothing matched."""
        return self.outcome == "clear"


@dataclass
class WatchCache:
    """The hub's hashed watch list as the kiosk holds it."""

    version: int
    issued_at: datetime
    max_age: timedelta
    secret: bytes
    nicknames: tuple[tuple[str, ...], ...]
    by_name: dict[str, set[int]] = field(default_factory=dict)
    by_dob: dict[str, set[int]] = field(default_factory=dict)
    without_dob: set[int] = field(default_factory=set)

    @classmethod
    def from_entries(cls, *, version: int, issued_at: datetime, max_age: timedelta, secret: bytes,
                     nicknames: Iterable[Sequence[str]], entries: Iterable[Sequence]) -> "WatchCache":
        """Build from the hub's ``[id, [name keys], [dob keys]]`` rows."""
        cache = cls(version=version, issued_at=issued_at, max_age=max_age, secret=secret,
                    nicknames=tuple(tuple(g) for g in nicknames))
        cache.add(entries)
        return cache

    def add(self, entries: Iterable[Sequence]) -> None:
        """Add rows (a further page of the same version)."""
        for entry_id, names, dobs in entries:
            for key in names:
                self.by_name.setdefault(key, set()).add(int(entry_id))
            if dobs:
                for key in dobs:
                    self.by_dob.setdefault(key, set()).add(int(entry_id))
            else:
                self.without_dob.add(int(entry_id))

    def is_fresh(self, now: datetime) -> bool:
        """True while the cache is younger than its limit (and not from the future)."""
        age = now - self.issued_at
        return timedelta(0) - timedelta(minutes=5) <= age <= self.max_age

    def screen(self, first: str, last: str, dob: date | None, now: datetime) -> CachedVerdict:
        """Screen a visitor; a stale cache never clears anyone."""
        if not self.is_fresh(now):
            return CachedVerdict("stale")
        names, dobs = visitor_keys(first, last, dob, self.nicknames)
        hits: set[int] = set()
        for key in names:
            ids = self.by_name.get(watchkeys.hash_key(self.secret, key), ())
            hits.update(ids if dob is None else (i for i in ids if i in self.without_dob))
        for key in dobs:
            hits.update(self.by_dob.get(watchkeys.hash_key(self.secret, key), ()))
        if hits:
            return CachedVerdict("possible_match", tuple(sorted(hits)))
        return CachedVerdict("clear")
