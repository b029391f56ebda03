"""Closing time and photo shredding: the pure timing rules, the use-cases on SQLite with a test
clock, the bridge's periodic job and the ``gatehouse-hub visitors`` commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hub.models import Alert
from hub.visitors import schedule, services
from hub.visitors.handlers import VisitorJobs
from hub.visitors.models import VisitPhotoKey, VisitRecord
from tests.hub.visitors.test_visitors_services import _req, _token

NY = "America/New_York"


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("now", "tz", "closing", "expected"), [
    # 18:00 in New York is 23:00 UTC in winter ...
    ("2026-11-28T23:30", NY, "18:00", "2026-11-28T23:00"),
    ("2026-11-28T22:59", NY, "18:00", "2026-11-27T23:00"),
    ("2026-11-28T23:00", NY, "18:00", "2026-11-28T23:00"),  # at the minute itself
    # ... and 22:00 UTC in summer, across the DST changes
    ("2026-07-01T22:30", NY, "18:00", "2026-07-01T22:00"),
    ("2026-03-08T22:30", NY, "18:00", "2026-03-08T22:00"),  # the day clocks spring forward
    ("2026-03-08T12:00", NY, "18:00", "2026-03-07T23:00"),  # the day before was still winter
    ("2026-11-01T23:30", NY, "18:00", "2026-11-01T23:00"),  # the day clocks fall back
    ("2026-11-01T05:00", NY, "01:30", "2026-10-31T05:30"),  # 01:30 EDT the day before
    ("2026-11-01T06:00", NY, "01:30", "2026-11-01T05:30"),  # ambiguous 01:30: the first (EDT) one
    ("2026-03-08T08:00", NY, "02:30", "2026-03-08T07:30"),  # 02:30 does not exist that day: 03:30 EDT
    # just after midnight locally, the closing is the previous evening's
    ("2026-11-29T05:10", NY, "18:00", "2026-11-28T23:00"),
    # other zones, and an unknown zone read as UTC
    ("2026-11-28T20:00", "Europe/Lisbon", "18:00", "2026-11-28T18:00"),
    ("2026-11-28T20:00", "Mars/Olympus", "18:00", "2026-11-28T18:00"),
    ("2026-11-28T20:00", None, "21:00", "2026-11-27T21:00"),
])
def test_last_closing(now: str, tz: str | None, closing: str, expected: str) -> None:
    assert schedule.last_closing(_utc(now), tz, closing) == _utc(expected)


def test_last_closing_needs_an_aware_time_and_retention_a_sane_number() -> None:
    with pytest.raises(ValueError):
        schedule.last_closing(datetime(2026, 11, 28, 12, 0), NY, "18:00")
    with pytest.raises(ValueError):
        schedule.photo_cutoff(_utc("2026-11-28T12:00"), -1)
    assert schedule.photo_cutoff(_utc("2026-11-28T12:00"), 30) == _utc("2026-10-29T12:00")


# NOW (conftest) is 2026-11-28 14:00 UTC = 09:00 in New York; closing 18:00 = 23:00 UTC.
T0 = _utc("2026-11-28T14:00")


def _visit(session, settings, n: int, at: datetime, **over) -> str:
    services.sign_in(session, settings, "kiosk-front", _req(n, first=f"Visitor{n}", **over), at)
    services.confirm_printed(session, "kiosk-front", f"visit-{n:06d}", at)
    return f"visit-{n:06d}"


def _state(session, visit: str) -> tuple[str, datetime | None]:
    row = session.get(VisitRecord, visit)
    return row.status, row.signed_out_at


def test_close_due_closes_at_the_closing_time_once_and_spares_evening_visitors(session, settings) -> None:
    morning = _visit(session, settings, 1, T0)
    left = _visit(session, settings, 2, T0 + timedelta(hours=1))
    services.sign_out(session, "kiosk-front", how="badge", token=_token(2), now=T0 + timedelta(hours=2))
    assert services.close_due(session, settings, _utc("2026-11-28T22:59")) == []  # before 18:00 NY
    evening = _visit(session, settings, 3, _utc("2026-11-29T00:30"))  # 19:30 NY, after closing
    # The hub runs it late (an outage): visits are closed at the closing time, not when it ran.
    closed = services.close_due(session, settings, _utc("2026-11-29T01:00"))
    assert [v.id for v in closed] == [morning]
    assert _state(session, morning) == ("closed_unsigned", _utc("2026-11-28T23:00"))
    assert session.get(VisitRecord, morning).signed_out_how == "closing"
    assert _state(session, left)[0] == "signed_out"  # kept distinct from a closing-time close
    assert _state(session, evening) == ("on_site", None)
    assert services.close_due(session, settings, _utc("2026-11-29T01:01")) == []  # idempotent
    alerts = session.scalars(select(Alert).where(Alert.kind == "visits_not_signed_out")).all()
    assert len(alerts) == 1
    # The evening visitor is closed at the next day's closing time.
    assert [v.id for v in services.close_due(session, settings, _utc("2026-11-29T23:00"))] == [evening]


def test_close_due_leaves_holds_for_the_desk(session, settings) -> None:
    services.add_watch_entry(session, first="Ana", last="Souza", dob=None, kind="banned", now=T0)
    services.sign_in(session, settings, "kiosk-front", _req(7), T0)
    assert services.close_due(session, settings, _utc("2026-11-29T01:00")) == []
    assert _state(session, "visit-000007")[0] == "held"


def test_shred_due_keeps_photos_for_the_retention_period(session, settings) -> None:
    _visit(session, settings, 1, T0)
    _visit(session, settings, 2, T0)
    services.sign_out(session, "kiosk-front", how="badge", token=_token(1), now=T0)
    settings.photo_retention_days = 30
    assert services.shred_due(session, settings, T0 + timedelta(days=29)) == 0
    assert services.shred_due(session, settings, T0 + timedelta(days=30, seconds=1)) == 1
    assert services.shred_due(session, settings, T0 + timedelta(days=31)) == 0  # idempotent
    assert services.photo_bytes(session, session.get(VisitRecord, "visit-000001")) is None
    assert services.photo_bytes(session, session.get(VisitRecord, "visit-000002")) is not None  # still open
    assert len(session.scalars(select(VisitPhotoKey)).all()) == 1


def test_bridge_job_runs_housekeeping_once_a_minute(session, settings) -> None:
    mono = [0.0]
    jobs = VisitorJobs(settings, housekeeping_s=60, monotonic=lambda: mono[0])
    first = _visit(session, settings, 1, T0)
    jobs.run(session, _utc("2026-11-28T22:00"))  # runs, nothing due before closing
    second = _visit(session, settings, 2, T0)
    mono[0] = 30
    jobs.run(session, _utc("2026-11-28T23:30"))  # not a minute yet: nothing is closed
    assert _state(session, first)[0] == "on_site"
    mono[0] = 61
    jobs.run(session, _utc("2026-11-28T23:31"))
    assert _state(session, first)[0] == _state(session, second)[0] == "closed_unsigned"


def test_cli_close_day_and_shred(tmp_path, capsys) -> None:
    from hub import cli
    from hub.db import Database
    from hub.models import Building, Device
    from hub.visitors.services import VisitorSettings
    from tests.hub.test_pki_cli import _toml

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    database = Database(url)
    database.create_all()
    settings = VisitorSettings.from_site_key(b"k" * 32)
    yesterday = datetime.now(UTC) - timedelta(hours=26)  # before the last closing, whatever the hour
    with database.session() as s:
        s.add(Building(id="lincoln", name="Lincoln", tz=NY, created_at=yesterday))
        s.flush()
        s.add(Device(id="kiosk-front", kind="kiosk", building_id="lincoln", public_key_pem="-", created_at=yesterday))
        s.flush()
        services.sign_in(s, settings, "kiosk-front", _req(1, host=None, destination=None), yesterday)
    config = _toml(tmp_path, url)
    assert cli.main(["--config", str(config), "visitors", "close-day", "--closing", "18:00"]) == 0
    assert cli.main(["--config", str(config), "visitors", "close-day"]) == 0
    out = capsys.readouterr().out
    assert "1 visit(s) closed as not signed out" in out and "0 visit(s) closed" in out
    assert cli.main(["--config", str(config), "visitors", "shred", "--older-than-days", "0"]) == 0
    assert "1 photo(s) shredded" in capsys.readouterr().out
    with database.session() as s:
        visit = s.get(VisitRecord, "visit-000001")
        assert visit.status == "closed_unsigned" and services.photo_bytes(s, visit) is None
    database.dispose()
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--config", str(config), "visitors", "shred", "--older-than-days", "-3"])
    assert exit_.value.code == 2 and "between 0 and 3650" in capsys.readouterr().err
