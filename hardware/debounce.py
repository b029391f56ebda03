"""Pure debouncing: switch inputs, keypad keys and cards held on a reader. No I/O, no clock.

gpiozero's ``MockFactory`` pins ignore ``bounce_time`` and real contacts chatter for a few
milliseconds, so the decision "did this input really change?" lives here, as functions of
(state, raw sample, now) that the drivers call and the tests drive with a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Hashable, TypeVar

T = TypeVar("T", bound=Hashable)


@dataclass(frozen=True)
class Debounced(Generic[T]):
    """State of one debounced input: the accepted value and the candidate being timed."""

    stable: T
    candidate: T
    since: float


def debounce_start(value: T, now: float) -> Debounced[T]:
    """Initial state: ``value`` is taken as stable (the level read at start-up)."""
    return Debounced(stable=value, candidate=value, since=now)


def debounce_step(
    state: Debounced[T], raw: T, now: float, debounce_s: float
) -> tuple[Debounced[T], bool]:
    """Feed one raw sample; return the new state and whether ``stable`` just changed.

    A new value is accepted once it has been sampled unchanged for ``debounce_s``; any
    other value seen in between restarts the timer, so chatter never gets through.
    """
    if raw != state.candidate:
        state = Debounced(stable=state.stable, candidate=raw, since=now)
    if state.candidate != state.stable and now - state.since >= debounce_s:
        return Debounced(stable=state.candidate, candidate=state.candidate, since=state.since), True
    return state, False


@dataclass(frozen=True)
class Presence:
    """Which card the reader is considering present, and when it last answered."""

    uid: bytes | None = None
    last_seen: float = 0.0

    def __repr__(self) -> str:
        # NOTE: never put a raw card UID in a log line.
        return f"Presence(card={'yes' if self.uid else 'no'}, last_seen={self.last_seen:.3f})"


def presence_step(
    state: Presence, seen: bytes | None, now: float, release_s: float
) -> tuple[Presence, bytes | None]:
    """Feed one poll result; return the new state and the UID of a NEW presentation, if any.

    A card held on the reader answers every poll and is reported once. A poll that misses
    it (RF noise, a CRC error) does not end the presentation; only ``release_s`` without
    an answer does, after which the same card counts as presented again. A different card
    is a new presentation at once.
    """
    if seen is None:
        if state.uid is not None and now - state.last_seen > release_s:
            return Presence(None, state.last_seen), None
        return state, None
    if state.uid == seen and now - state.last_seen <= release_s:
        return Presence(seen, now), None
    return Presence(seen, now), seen


def presence_hold(state: Presence, now: float) -> Presence:
    """A garbled answer (CRC error, collision) still means a card is in the field: keep it."""
    if state.uid is None:
        return state
    return Presence(state.uid, now)
