"""The sign-in draft: step order, idle expiry, forgetting the date of birth."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from kiosk import flow

T0 = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)


def _at(step: str) -> flow.Draft:
    draft = flow.new_draft("es", T0)
    fill = {"category": {"category": "visitor"},
            "id": {"first": "Ana", "last": "Souza", "id_source": "typed"},
            "photo": {"photo_jpeg": b"\xff\xd8"},
            "host": {"where_chosen": True, "host": "s100"}}
    for name in flow.STEPS:
        if name == step:
            return draft
        draft = flow.touch(draft, T0, **fill[name])
    return draft


@pytest.mark.parametrize("step", flow.STEPS)
def test_next_step(step: str) -> None:
    assert flow.next_step(_at(step)) == step


@pytest.mark.parametrize(("at", "target", "allowed"), [
    ("category", "category", True), ("category", "id", False), ("id", "photo", False),
    ("photo", "id", True), ("host", "confirm", False), ("confirm", "confirm", True), ("confirm", "photo", True),
])
def test_may_enter(at: str, target: str, allowed: bool) -> None:
    assert flow.may_enter(_at(at), target) is allowed


def test_idle_expiry() -> None:
    draft = flow.new_draft("en", T0)
    assert not flow.is_expired(draft, T0 + timedelta(seconds=59), 60)
    assert flow.is_expired(draft, T0 + timedelta(seconds=60), 60)
    touched = flow.touch(draft, T0 + timedelta(seconds=50))
    assert not flow.is_expired(touched, T0 + timedelta(seconds=100), 60)


def test_unknown_language_falls_back_to_english() -> None:
    assert flow.new_draft("fr", T0).lang == "en"


def test_dob_is_not_in_repr_and_can_be_dropped() -> None:
    draft = flow.touch(flow.new_draft("en", T0), T0, dob=date(1990, 1, 2))
    assert "1990" not in repr(draft)
    assert flow.forget_dob(draft).dob is None
