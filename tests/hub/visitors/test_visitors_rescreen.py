"""An offline sign-in is screened again at the hub when it arrives (issue 7: the kiosk's verdict
is not trusted blindly): a match raises the desk's alert, saying the visitor is already on site."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from hub.models import Alert
from hub.visitors import handlers, services
from hub.visitors.models import VisitHold, VisitRecord
from hub.visitors.services import VisitorError
from link import visits as wire
from tests.hub.visitors.conftest import NOW


def _local(n: int = 1, screening: str = "clear", **over) -> wire.VisitLocalSignIn:
    values = dict(visit=f"visit-off-{n:04d}", token_sha256=services.token_hash(f"offline-token-{n:04d}"),
                  category="visitor", first="Ana", last="Souza", id_source="scanned",
                  signed_in_at="2026-11-28T13:30:00Z", screening=screening, cache_version=1,
                  expires_at="2026-11-28T21:30:00Z")
    values.update(over)
    return wire.VisitLocalSignIn(**values)


def _arrive(session, settings, body) -> VisitRecord:
    """The bridge's path: the event, in the ingest transaction."""
    handlers.handle_event(session, settings, "kiosk-front", "visit.local_sign_in", body, NOW)
    return session.get(VisitRecord, body.visit)


def test_clear_offline_visitor_matching_the_current_list_alerts_the_desk(session, settings) -> None:
    # added at the hub after the kiosk's copy was taken (or the kiosk's copy was wrong)
    entry = services.add_watch_entry(session, first="Anna", last="Souza", dob=date(1990, 1, 2), kind="custody",
                                     now=NOW - timedelta(minutes=10))
    visit = _arrive(session, settings, _local())
    assert (visit.status, visit.screened_by, visit.printed_at is not None) == ("on_site", "kiosk_cache", True)
    hold = session.scalars(select(VisitHold)).one()
    assert (hold.reason, hold.entry_ids, hold.decision) == ("onsite_match", [entry.id], None)
    alert = session.scalars(select(Alert)).one()
    assert (alert.kind, alert.severity) == ("watchlist_hit", "critical")
    assert "ALREADY ON SITE" in alert.message and "Ana S." in alert.message and "1990" not in alert.message
    assert [h.id for h in services.open_holds(session, "lincoln")] == [hold.id]
    # the same event again (the kiosk re-sends until acked): nothing new
    _arrive(session, settings, _local())
    assert len(session.scalars(select(VisitHold)).all()) == 1 and len(session.scalars(select(Alert)).all()) == 1


def test_clear_offline_visitor_with_no_match_is_left_alone(session, settings) -> None:
    services.add_watch_entry(session, first="Rui", last="Costa", dob=None, kind="banned", now=NOW)
    services.add_watch_entry(session, first="Ana", last="Souza", dob=None, kind="banned", now=NOW,
                             building_id="adams")  # another building's entry
    visit = _arrive(session, settings, _local())
    assert visit.status == "on_site"
    assert session.scalars(select(VisitHold)).all() == [] and session.scalars(select(Alert)).all() == []


def test_stale_hold_gets_the_entries_the_hub_finds(session, settings) -> None:
    entry = services.add_watch_entry(session, first="Ana", last="Souza", dob=None, kind="no_contact", now=NOW)
    visit = _arrive(session, settings, _local(2, screening="stale", cache_version=None))
    assert visit.status == "held"
    hold = session.scalars(select(VisitHold)).one()
    assert (hold.reason, hold.entry_ids) == ("stale_cache", [entry.id])
    assert session.scalars(select(Alert)).one().kind == "watchlist_hit"


def test_desk_refuses_a_visitor_already_on_site(session, settings) -> None:
    services.add_watch_entry(session, first="Ana", last="Souza", dob=None, kind="banned", now=NOW)
    _arrive(session, settings, _local())
    hold = session.scalars(select(VisitHold)).one()
    services.decide_hold(session, hold.id, "not_sure", by="desk", now=NOW)
    assert services.open_holds(session, "lincoln") == [hold]  # still waiting
    services.decide_hold(session, hold.id, "refuse", by="desk", now=NOW)
    visit = session.get(VisitRecord, "visit-off-0001")
    assert (visit.status, visit.signed_out_how) == ("refused", "desk")
    assert services.open_holds(session, "lincoln") == []
    (told,) = services.decisions_to_tell(session, NOW)
    assert (told.device_id, told.visit_id, told.decision) == ("kiosk-front", "visit-off-0001", "refuse")
    with pytest.raises(VisitorError):
        services.decide_hold(session, hold.id, "admit", by="desk", now=NOW)


def test_desk_lets_a_visitor_on_site_stay(session, settings) -> None:
    services.add_watch_entry(session, first="Ana", last="Souza", dob=None, kind="banned", now=NOW)
    _arrive(session, settings, _local())
    hold = session.scalars(select(VisitHold)).one()
    services.decide_hold(session, hold.id, "admit", by="desk", now=NOW, false_match=True)
    assert session.get(VisitRecord, "visit-off-0001").status == "on_site"
    assert services.open_holds(session, "lincoln") == []
    assert services.decisions_to_tell(session, NOW) == []  # the badge printed long ago: nothing to send
    with pytest.raises(VisitorError):
        services.decide_hold(session, hold.id, "refuse", by="desk", now=NOW)
