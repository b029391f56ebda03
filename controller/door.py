"""Door state machine: ``step(state, event, now) -> (state, effects)``, pure.

One door: a strike relay, a door contact, a request-to-exit button, an LED and a buzzer.

- locked → a grant or a request-to-exit energises the strike for ``strike_s``; the strike
  drops when the time runs out or when the door closes again (relock on close);
- open past ``held_open_s`` → ``door.held`` alarm (once per opening);
- the contact opens while the strike is off and no grant or exit request let it →
  ``door.forced`` alarm;
- lockdown drops the strike at once; request-to-exit still works (egress is a life-safety
  rule) and a responder's grant still opens.

Timers are explicit: the shell sends :class:`Tick` at (or after) :func:`next_deadline`.
Effects are carried out by the shell in order; every :class:`Emit` comes before the
:class:`Relay` it explains, so the event is in the outbox before the strike moves.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal, Union

from link.messages import DoorClosed, DoorForced, DoorHeld, DoorOpened, DoorRex, Event

LedPattern = Literal["idle", "grant", "deny", "held", "forced", "lockdown", "pin", "fault"]
BuzzerPattern = Literal["off", "grant", "deny", "alarm"]


# --------------------------------------------------------------------------- state
@dataclass(frozen=True, slots=True)
class DoorState:
    """Everything the machine remembers about one door."""

    door: str
    strike_s: int = 5
    held_open_s: int = 30
    is_relay_on: bool = False
    unlock_until: datetime | None = None
    unlocked_by: Literal["grant", "rex"] | None = None
    is_open: bool = False
    opened_at: datetime | None = None
    #: the current opening was let by a grant or an exit request
    is_authorised_open: bool = False
    is_held: bool = False
    is_forced: bool = False
    is_lockdown: bool = False
    is_faulted: bool = False


# --------------------------------------------------------------------------- inputs
@dataclass(frozen=True, slots=True)
class Grant:
    """The policy granted a card: energise for ``unlock_s`` (the door's strike time if 0)."""

    unlock_s: int = 0


@dataclass(frozen=True, slots=True)
class Deny:
    """The policy refused a card: show it."""


@dataclass(frozen=True, slots=True)
class AwaitPin:
    """A card passed; the keypad waits for its PIN."""


@dataclass(frozen=True, slots=True)
class Rex:
    """Request-to-exit pressed."""


@dataclass(frozen=True, slots=True)
class Contact:
    """The door contact changed."""

    is_open: bool


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed; run the timers."""


@dataclass(frozen=True, slots=True)
class SetLockdown:
    """Lockdown turned on or off."""

    active: bool


@dataclass(frozen=True, slots=True)
class Configure:
    """New door timings from the ACL."""

    strike_s: int
    held_open_s: int


@dataclass(frozen=True, slots=True)
class Fault:
    """Something broke: drop the strike and show it."""


DoorInput = Union[Grant, Deny, AwaitPin, Rex, Contact, Tick, SetLockdown, Configure, Fault]


# --------------------------------------------------------------------------- effects
@dataclass(frozen=True, slots=True)
class Relay:
    """Energise (``on``) or release the strike."""

    on: bool


@dataclass(frozen=True, slots=True)
class Led:
    """Show a pattern on the door's LED."""

    pattern: LedPattern


@dataclass(frozen=True, slots=True)
class Buzzer:
    """Sound a pattern on the door's buzzer."""

    pattern: BuzzerPattern


@dataclass(frozen=True, slots=True)
class Emit:
    """Record an event (outbox first, then the hub)."""

    event: Event


Effect = Union[Relay, Led, Buzzer, Emit]


def _idle_led(state: DoorState) -> Led:
    return Led("lockdown" if state.is_lockdown else "idle")


def _relock(state: DoorState) -> DoorState:
    return replace(state, is_relay_on=False, unlock_until=None, unlocked_by=None)


# --------------------------------------------------------------------------- the machine
def step(state: DoorState, event: DoorInput, now: datetime) -> tuple[DoorState, list[Effect]]:
    """Apply one input at UTC time ``now``; return the new state and the effects, in order."""
    door = state.door
    if isinstance(event, Tick):
        return _tick(state, now)
    if isinstance(event, Grant):
        if state.is_faulted:
            return state, [Led("fault")]
        unlock_s = event.unlock_s or state.strike_s
        new = replace(state, is_relay_on=True, unlocked_by="grant",
                      unlock_until=now + timedelta(seconds=unlock_s))
        if new.is_open:
            new = replace(new, is_authorised_open=True)
        return new, [Relay(True), Led("grant"), Buzzer("grant")]
    if isinstance(event, Deny):
        return state, [Led("deny"), Buzzer("deny")]
    if isinstance(event, AwaitPin):
        return state, [Led("pin")]
    if isinstance(event, Rex):
        if state.is_faulted:
            # NOTE: egress never depends on the strike (the mechanical lever still opens a
            # failed-secure strike from inside); we only log the press.
            return state, [Emit(DoorRex(door=door))]
        new = replace(state, is_relay_on=True, unlocked_by="rex",
                      unlock_until=now + timedelta(seconds=state.strike_s))
        if new.is_open:
            new = replace(new, is_authorised_open=True)
        return new, [Emit(DoorRex(door=door)), Relay(True)]
    if isinstance(event, Contact):
        return _contact(state, event.is_open, now)
    if isinstance(event, SetLockdown):
        if event.active:
            new = _relock(replace(state, is_lockdown=True))
            effects: list[Effect] = [Relay(False)] if state.is_relay_on else []
            return new, effects + [Led("lockdown")]
        new = replace(state, is_lockdown=False)
        return new, [_idle_led(new)]
    if isinstance(event, Configure):
        return replace(state, strike_s=event.strike_s, held_open_s=event.held_open_s), []
    if isinstance(event, Fault):
        new = _relock(replace(state, is_faulted=True))
        return new, [Relay(False), Led("fault"), Buzzer("alarm")]
    raise TypeError(f"not a door input: {event!r}")


def _contact(state: DoorState, is_open: bool, now: datetime) -> tuple[DoorState, list[Effect]]:
    door = state.door
    if is_open == state.is_open:
        return state, []
    if is_open:
        effects: list[Effect] = [Emit(DoorOpened(door=door))]
        if state.is_relay_on:
            return replace(state, is_open=True, opened_at=now, is_authorised_open=True,
                           is_held=False, is_forced=False), effects
        effects += [Emit(DoorForced(door=door)), Led("forced"), Buzzer("alarm")]
        return replace(state, is_open=True, opened_at=now, is_authorised_open=False,
                       is_held=False, is_forced=True), effects
    # Closed: relock at once rather than wait out the strike time.
    effects = [Emit(DoorClosed(door=door))]
    new = replace(state, is_open=False, opened_at=None, is_authorised_open=False,
                  is_held=False, is_forced=False)
    if state.is_relay_on:
        new = _relock(new)
        effects.append(Relay(False))
    if state.is_held or state.is_forced:
        effects.append(Buzzer("off"))
    effects.append(_idle_led(new))
    return new, effects


def _tick(state: DoorState, now: datetime) -> tuple[DoorState, list[Effect]]:
    effects: list[Effect] = []
    new = state
    if new.is_relay_on and new.unlock_until is not None and now >= new.unlock_until:
        new = _relock(new)
        effects.append(Relay(False))
        if not new.is_open:
            effects.append(_idle_led(new))
    if (new.is_open and not new.is_held and new.opened_at is not None
            and now - new.opened_at >= timedelta(seconds=new.held_open_s)):
        held_s = int((now - new.opened_at).total_seconds())
        new = replace(new, is_held=True)
        effects += [Emit(DoorHeld(door=new.door, held_s=held_s)), Led("held"), Buzzer("alarm")]
    return new, effects


def next_deadline(state: DoorState) -> datetime | None:
    """The earliest time a :class:`Tick` would change something, or None."""
    deadlines: list[datetime] = []
    if state.is_relay_on and state.unlock_until is not None:
        deadlines.append(state.unlock_until)
    if state.is_open and not state.is_held and state.opened_at is not None:
        deadlines.append(state.opened_at + timedelta(seconds=state.held_open_s))
    return min(deadlines) if deadlines else None
