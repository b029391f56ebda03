"""The emergency roster image."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kiosk import roster
from kiosk.store import RosterVisit

T0 = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)


def _visit(i: int, state: str = "on_site") -> RosterVisit:
    return RosterVisit(visit=f"v-{i:08d}", first=f"Name{i}\x1b@", last="Souza 😀", category="visitor", host="Dana",
                       signed_in_at=T0 - timedelta(minutes=i), expires_at=None, state=state, offline=False)


@pytest.mark.parametrize("dots", [384, 576])
def test_grows_with_visitors(dots: int) -> None:
    empty = roster.render([], printed_at=T0, paper_dots=dots)
    three = roster.render([_visit(1), _visit(2), _visit(3, "held")], printed_at=T0, paper_dots=dots)
    assert empty.width == three.width == dots and three.height > empty.height and three.mode == "1"


def test_bad_width() -> None:
    with pytest.raises(ValueError):
        roster.render([], printed_at=T0, paper_dots=100)
