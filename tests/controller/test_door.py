"""The door state machine: table-driven walks through inputs with a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.door import (
    AwaitPin, Buzzer, Configure, Contact, Deny, DoorState, Emit, Fault, Grant, Led, Relay, Rex,
    SetLockdown, Tick, next_deadline, step,
)

T0 = datetime(2026, 12, 2, 15, 0, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    """T0 plus ``s`` seconds."""
    return T0 + timedelta(seconds=s)


def short(effects: list) -> list[str]:
    """Effects as short words for compact tables."""
    out = []
    for e in effects:
        if isinstance(e, Relay):
            out.append("relay:on" if e.on else "relay:off")
        elif isinstance(e, Led):
            out.append(f"led:{e.pattern}")
        elif isinstance(e, Buzzer):
            out.append(f"buzz:{e.pattern}")
        elif isinstance(e, Emit):
            out.append(e.event.TYPE)
    return out


def run(steps: list[tuple[float, object]], state: DoorState | None = None):
    """Feed (time, input) pairs; return the final state and every step's effects."""
    state = state or DoorState("rr-1")
    trace = []
    for t, event in steps:
        state, effects = step(state, event, at(t))
        trace.append(short(effects))
    return state, trace


WALKS = [
    ("grant, open, close relocks at once",
     [(0, Grant()), (1, Contact(True)), (3, Contact(False)), (10, Tick())],
     [["relay:on", "led:grant", "buzz:grant"], ["door.opened"],
      ["door.closed", "relay:off", "led:idle"], []]),
    ("grant not used relocks after strike time",
     [(0, Grant()), (4.9, Tick()), (5, Tick())],
     [["relay:on", "led:grant", "buzz:grant"], [], ["relay:off", "led:idle"]]),
    ("grant with its own unlock time",
     [(0, Grant(unlock_s=2)), (2, Tick())],
     [["relay:on", "led:grant", "buzz:grant"], ["relay:off", "led:idle"]]),
    ("contact opens while locked: forced",
     [(0, Contact(True)), (1, Contact(False))],
     [["door.opened", "door.forced", "led:forced", "buzz:alarm"],
      ["door.closed", "buzz:off", "led:idle"]]),
    ("opened after strike time ran out: forced",
     [(0, Grant()), (5, Tick()), (6, Contact(True))],
     [["relay:on", "led:grant", "buzz:grant"], ["relay:off", "led:idle"],
      ["door.opened", "door.forced", "led:forced", "buzz:alarm"]]),
    ("held open past the limit: one alarm",
     [(0, Grant()), (1, Contact(True)), (6, Tick()), (30.9, Tick()), (31, Tick()), (40, Tick()),
      (45, Contact(False))],
     [["relay:on", "led:grant", "buzz:grant"], ["door.opened"], ["relay:off"], [],
      ["door.held", "led:held", "buzz:alarm"], [], ["door.closed", "buzz:off", "led:idle"]]),
    ("request to exit unlocks for egress, logged first",
     [(0, Rex()), (1, Contact(True)), (2, Contact(False))],
     [["door.rex", "relay:on"], ["door.opened"], ["door.closed", "relay:off", "led:idle"]]),
    ("deny only shows",
     [(0, Deny()), (1, Contact(True))],
     [["led:deny", "buzz:deny"], ["door.opened", "door.forced", "led:forced", "buzz:alarm"]]),
    ("waiting for a PIN shows",
     [(0, AwaitPin())], [["led:pin"]]),
    ("lockdown drops an open strike",
     [(0, Grant()), (1, SetLockdown(True)), (2, Contact(True)), (3, SetLockdown(False))],
     [["relay:on", "led:grant", "buzz:grant"], ["relay:off", "led:lockdown"],
      ["door.opened", "door.forced", "led:forced", "buzz:alarm"], ["led:idle"]]),
    ("lockdown: exit still unlocks",
     [(0, SetLockdown(True)), (1, Rex()), (2, Contact(True)), (3, Contact(False))],
     [["led:lockdown"], ["door.rex", "relay:on"], ["door.opened"],
      ["door.closed", "relay:off", "led:lockdown"]]),
    ("fault drops the strike and refuses grants",
     [(0, Grant()), (1, Fault()), (2, Grant()), (3, Rex())],
     [["relay:on", "led:grant", "buzz:grant"], ["relay:off", "led:fault", "buzz:alarm"],
      ["led:fault"], ["door.rex"]]),
    ("repeated contact report changes nothing",
     [(0, Grant()), (1, Contact(True)), (1.1, Contact(True))],
     [["relay:on", "led:grant", "buzz:grant"], ["door.opened"], []]),
    ("configured timings apply",
     [(0, Configure(strike_s=2, held_open_s=3)), (0, Grant()), (0.5, Contact(True)),
      (2, Tick()), (3.5, Tick())],
     [[], ["relay:on", "led:grant", "buzz:grant"], ["door.opened"], ["relay:off"],
      ["door.held", "led:held", "buzz:alarm"]]),
    ("grant while the door is held open makes it authorised",
     [(0, Contact(True)), (1, Grant()), (2, Contact(False))],
     [["door.opened", "door.forced", "led:forced", "buzz:alarm"],
      ["relay:on", "led:grant", "buzz:grant"], ["door.closed", "relay:off", "buzz:off",
                                               "led:idle"]]),
]


@pytest.mark.parametrize("steps, expected", [w[1:] for w in WALKS], ids=[w[0] for w in WALKS])
def test_walk(steps, expected) -> None:
    """Each walk produces exactly these effects, in this order."""
    _, trace = run(steps)
    assert trace == expected


def test_held_event_says_how_long() -> None:
    """door.held carries the seconds the door has been open."""
    state, _ = run([(0, Grant()), (1, Contact(True))])
    state, effects = step(state, Tick(), at(40))
    held = [e.event for e in effects if isinstance(e, Emit)]
    assert held[0].held_s == 39 and held[0].severity == "warning"


def test_forced_is_critical() -> None:
    """door.forced is a critical alert."""
    _, effects = step(DoorState("rr-1"), Contact(True), T0)
    forced = [e.event for e in effects if isinstance(e, Emit) and e.event.TYPE == "door.forced"]
    assert forced[0].severity == "critical" and forced[0].door == "rr-1"


@pytest.mark.parametrize("steps, deadline", [
    ([], None),
    ([(0, Grant())], 5),
    ([(0, Grant()), (1, Contact(True))], 5),
    ([(0, Grant()), (1, Contact(True)), (5, Tick())], 31),
    ([(0, Grant()), (1, Contact(True)), (5, Tick()), (31, Tick())], None),
    ([(0, Contact(True))], 30),
])
def test_next_deadline(steps, deadline) -> None:
    """The shell knows when to tick next."""
    state, _ = run(steps)
    assert next_deadline(state) == (None if deadline is None else at(deadline))


def test_emit_precedes_relay() -> None:
    """Every event is recorded before the strike moves (outbox before relay)."""
    for _, steps, _ in WALKS:
        state = DoorState("rr-1")
        for t, event in steps:
            state, effects = step(state, event, at(t))
            kinds = [type(e) for e in effects]
            if Emit in kinds and Relay in kinds:
                assert max(i for i, k in enumerate(kinds) if k is Emit) < kinds.index(Relay)


def test_not_an_input() -> None:
    """Anything else is a programming error."""
    with pytest.raises(TypeError):
        step(DoorState("rr-1"), "open sesame", T0)  # type: ignore[arg-type]
