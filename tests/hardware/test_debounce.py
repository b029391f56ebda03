"""Pure debouncing: tables of (raw sample, time) -> accepted changes, no clock, no threads."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware.debounce import Presence, debounce_start, debounce_step, presence_step

DEBOUNCE_S = 0.03


def run(samples: list[tuple[float, bool]], start: bool = False) -> list[tuple[float, bool]]:
    state = debounce_start(start, 0.0)
    changes = []
    for now, raw in samples:
        state, changed = debounce_step(state, raw, now, DEBOUNCE_S)
        if changed:
            changes.append((now, state.stable))
    return changes


@pytest.mark.parametrize(
    ("name", "samples", "expected"),
    [
        ("steady", [(0.01, False), (0.05, False)], []),
        ("clean open", [(0.00, True), (0.02, True), (0.03, True), (0.05, True)], [(0.03, True)]),
        ("short glitch", [(0.00, True), (0.01, False), (0.05, False)], []),
        (
            "chatter then settle",
            [(0.000, True), (0.004, False), (0.008, True), (0.012, False), (0.016, True),
             (0.030, True), (0.046, True)],
            [(0.046, True)],
        ),
        ("open then close", [(0.0, True), (0.04, True), (0.05, False), (0.09, False)],
         [(0.04, True), (0.09, False)]),
        ("change not held long enough", [(0.0, True), (0.029, True), (0.03, False)], []),
    ],
)
def test_debounce_table(name: str, samples: list, expected: list) -> None:
    assert run(samples) == expected


def test_debounce_works_for_keypad_values() -> None:
    state = debounce_start(None, 0.0)
    events = []
    for now, key in [(0.0, "5"), (0.01, None), (0.02, "5"), (0.06, "5"), (0.1, None), (0.2, None)]:
        state, changed = debounce_step(state, key, now, DEBOUNCE_S)
        if changed:
            events.append(state.stable)
    assert events == ["5", None]


@given(st.lists(st.tuples(st.floats(0.0, 0.0299), st.booleans()), max_size=40))
def test_chatter_shorter_than_the_debounce_never_changes_the_output(steps: list) -> None:
    # Samples whose value flips faster than the debounce time: every flip restarts the timer.
    state = debounce_start(False, 0.0)
    now = 0.0
    value = False
    for gap, flip in steps:
        now += gap
        if flip:
            value = not value
            state, changed = debounce_step(state, value, now, DEBOUNCE_S)
            assert not changed or now - state.since >= DEBOUNCE_S


UID_A = bytes.fromhex("04a1b2c3d4e5f6")
UID_B = bytes.fromhex("deadbeef")
RELEASE_S = 0.3


def presentations(polls: list[tuple[float, bytes | None]]) -> list[tuple[float, bytes]]:
    state = Presence()
    out = []
    for now, seen in polls:
        state, new = presence_step(state, seen, now, RELEASE_S)
        if new is not None:
            out.append((now, new))
    return out


@pytest.mark.parametrize(
    ("name", "polls", "expected"),
    [
        ("held", [(0.0, UID_A), (0.05, UID_A), (0.1, UID_A), (0.35, UID_A)], [(0.0, UID_A)]),
        ("held with a missed poll", [(0.0, UID_A), (0.05, None), (0.1, UID_A)], [(0.0, UID_A)]),
        ("removed and presented again", [(0.0, UID_A), (0.05, None), (0.4, None), (0.45, UID_A)],
         [(0.0, UID_A), (0.45, UID_A)]),
        ("swapped for another card", [(0.0, UID_A), (0.05, UID_B)], [(0.0, UID_A), (0.05, UID_B)]),
        ("same card after a long gap in polling", [(0.0, UID_A), (1.0, UID_A)], [(0.0, UID_A), (1.0, UID_A)]),
        ("nothing", [(0.0, None), (1.0, None)], []),
    ],
)
def test_presence_table(name: str, polls: list, expected: list) -> None:
    assert presentations(polls) == expected


def test_presence_repr_hides_the_uid() -> None:
    state, _ = presence_step(Presence(), UID_A, 1.0, RELEASE_S)
    assert UID_A.hex() not in repr(state) and "yes" in repr(state)


def test_presence_hold_keeps_a_card_alive_through_garbled_answers() -> None:
    from hardware.debounce import presence_hold

    state, _ = presence_step(Presence(), UID_A, 0.0, RELEASE_S)
    state = presence_hold(state, 0.25)
    state, new = presence_step(state, UID_A, 0.5, RELEASE_S)
    assert new is None
    assert presence_hold(Presence(), 1.0) == Presence()
