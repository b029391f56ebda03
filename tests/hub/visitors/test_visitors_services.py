"""Visitor use-cases on a real SQLite database."""

from __future__ import annotations

import base64
from datetime import date, timedelta

import cv2
import pytest
from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select

from hub.models import Alert
from hub.visitors import handlers, services
from hub.visitors.models import VisitHold, VisitPhotoKey, VisitRecord, WatchDismissal
from hub.visitors.services import VisitorError
from link import visits as wire
from tests.hub.visitors.conftest import NOW

PHOTO = base64.b64encode(cv2.imencode(".jpg", cv2.imread("tests/fixtures/kiosk/face.jpg")[100:300, 200:380])[1].tobytes()).decode()


def _token(n: int = 1) -> str:
    """The badge token of request ``n`` (the kiosk keeps it; the hub gets only its hash)."""
    return f"token-{n:020d}"


def _req(n: int = 1, **over) -> wire.VisitSignIn:
    values = dict(corr=f"corr-{n:06d}", visit=f"visit-{n:06d}", token_sha256=services.token_hash(_token(n)),
                  category="visitor",
                  first="Ana", last="Souza", dob="1990-01-02", id_source="scanned", host="s100",
                  destination="main-office", photo_jpeg=PHOTO)
    values.update(over)
    return wire.VisitSignIn(**values)


def test_clear_visitor_is_admitted(session, settings) -> None:
    data = services.sign_in(session, settings, "kiosk-front", _req(), NOW)
    result = wire.SignInResult.model_validate(data)
    assert result.outcome == "admitted" and not result.escort_required
    assert (result.host_name, result.destination_name, result.building_name) == ("Dana Rivera", "Main office", "Lincoln Elementary")
    # 09:00 + 8 h = 17:00 local, before 18:00 closing: 22:00Z
    assert result.expires_at == "2026-11-28T22:00:00Z"
    visit = session.get(VisitRecord, "visit-000001")
    assert visit.status == "pending" and visit.token_hash != "token-" + "0" * 19 + "1"
    assert services.photo_bytes(session, visit).startswith(b"\xff\xd8")


def test_no_dob_is_stored_anywhere(session, settings, db) -> None:
    services.sign_in(session, settings, "kiosk-front", _req(dob="1990-01-02"), NOW)
    session.commit()
    raw = db.engine.raw_connection()
    try:
        dump = "\n".join(raw.driver_connection.iterdump())
    finally:
        raw.close()
    assert "1990-01-02" not in dump and "19900102" not in dump


def test_watch_list_hit_is_held_and_alerts(session, settings) -> None:
    services.add_watch_entry(session, first="Anna", last="SOUZA", dob=date(1990, 1, 2), kind="custody", now=NOW)
    data = services.sign_in(session, settings, "kiosk-front", _req(), NOW)
    assert data["outcome"] == "held"
    hold = session.scalars(select(VisitHold)).one()
    assert hold.reason == "possible_match" and len(hold.entry_ids) == 1
    alert = session.scalars(select(Alert)).one()
    assert alert.kind == "watchlist_hit" and alert.building_id == "lincoln"
    assert "1990" not in alert.message


def test_other_buildings_entry_does_not_hold(session, settings) -> None:
    services.add_watch_entry(session, first="Ana", last="Souza", dob=None, kind="no_contact", now=NOW,
                             building_id="adams")
    assert services.sign_in(session, settings, "kiosk-front", _req(), NOW)["outcome"] == "admitted"


def test_dismissed_false_match_is_remembered(session, settings) -> None:
    services.add_watch_entry(session, first="Ana", last="Souza", dob=None, kind="banned", now=NOW)
    services.sign_in(session, settings, "kiosk-front", _req(1), NOW)
    hold = session.scalars(select(VisitHold)).one()
    services.decide_hold(session, hold.id, "admit", by="desk1", now=NOW, false_match=True)
    assert session.get(VisitRecord, "visit-000001").status == "on_site"
    assert session.scalars(select(WatchDismissal)).one().entry_id == hold.entry_ids[0]
    # Next visit, same person (nickname spelling): not stopped again. Another DOB: stopped.
    assert services.sign_in(session, settings, "kiosk-front", _req(2, first="ANA"), NOW)["outcome"] == "admitted"
    assert services.sign_in(session, settings, "kiosk-front", _req(3, dob="1991-05-06"), NOW)["outcome"] == "held"


def test_refuse_and_not_sure(session, settings) -> None:
    services.add_watch_entry(session, first="Ana", last="Souza", dob=None, kind="banned", now=NOW)
    services.sign_in(session, settings, "kiosk-front", _req(1), NOW)
    hold = session.scalars(select(VisitHold)).one()
    services.decide_hold(session, hold.id, "not_sure", by="desk1", now=NOW)
    assert services.open_holds(session, "lincoln") == [hold]
    services.decide_hold(session, hold.id, "refuse", by="desk1", now=NOW)
    assert session.get(VisitRecord, "visit-000001").status == "refused"
    with pytest.raises(VisitorError, match="visit_closed"):
        services.decide_hold(session, hold.id, "admit", by="desk1", now=NOW)


def test_vendor_without_dpa_is_escorted(session, settings) -> None:
    assert services.sign_in(session, settings, "kiosk-front", _req(1, category="contractor", company="Acme HVAC Inc"),
                            NOW)["escort_required"] is False
    assert services.sign_in(session, settings, "kiosk-front", _req(2, category="contractor", company="Other Co"),
                            NOW)["escort_required"] is True
    assert services.sign_in(session, settings, "kiosk-front", _req(3, category="contractor", company=""),
                            NOW)["escort_required"] is True


@pytest.mark.parametrize(("device", "over", "reason"), [
    ("kiosk-nope", {}, "unknown_kiosk"),
    ("door-records", {}, "unknown_kiosk"),
    ("kiosk-front", {"host": "s101"}, "unknown_host"),
    ("kiosk-front", {"host": "s200"}, "unknown_host"),
    ("kiosk-front", {"destination": "gym"}, "unknown_destination"),
    ("kiosk-front", {"photo_jpeg": base64.b64encode(b"not a jpeg").decode()}, "bad_request"),
])
def test_bad_sign_in_has_reason_and_creates_nothing(session, settings, device, over, reason) -> None:
    response = handlers.handle_request(session, settings, device, "visit.sign_in", _req(**over), NOW)
    assert (response.ok, response.error) == (False, reason)
    assert session.scalars(select(VisitRecord)).all() == []
    assert session.scalars(select(VisitPhotoKey)).all() == []


def test_repeated_request_is_idempotent(session, settings) -> None:
    first = services.sign_in(session, settings, "kiosk-front", _req(), NOW)
    assert services.sign_in(session, settings, "kiosk-front", _req(), NOW) == first
    assert len(session.scalars(select(VisitRecord)).all()) == 1


def test_sign_out_by_badge(session, settings) -> None:
    services.sign_in(session, settings, "kiosk-front", _req(), NOW)
    handlers.handle_event(session, settings, "kiosk-front", "visit.signed_in",
                          _signed_in("visit-000001"), NOW)
    assert session.get(VisitRecord, "visit-000001").status == "on_site"
    body = wire.VisitSignOut(corr="corr-out-01", how="badge", token=_token())
    response = handlers.handle_request(session, settings, "kiosk-front", "visit.sign_out", body, NOW)
    assert response.ok and response.data == {"visit": "visit-000001", "label": "Ana S."}
    again = handlers.handle_request(session, settings, "kiosk-front", "visit.sign_out", body, NOW)
    assert (again.ok, again.error) == (False, "visit_closed")
    other = wire.VisitSignOut(corr="corr-out-02", how="badge", token="z" * 24)
    assert handlers.handle_request(session, settings, "kiosk-front", "visit.sign_out", other, NOW).error == "unknown_badge"
    elsewhere = handlers.handle_request(session, settings, "kiosk-adams", "visit.sign_out",
                                        wire.VisitSignOut(corr="corr-out-03", how="badge", token=_token(5)), NOW)
    assert elsewhere.error == "unknown_badge"


def _signed_in(visit: str):
    from link.messages import VisitSignedIn

    return VisitSignedIn(visit=visit, name="Ana Souza", category="visitor")


def test_find_shows_only_first_name_and_initial(session, settings) -> None:
    services.sign_in(session, settings, "kiosk-front", _req(1), NOW)
    services.sign_in(session, settings, "kiosk-front", _req(2, first="Bruno", last="Souza"), NOW)
    found = services.find_own_visit(session, "kiosk-front", "ANA", "souza")
    assert [m["label"] for m in found["matches"]] == ["Ana S."]
    assert "Bruno" not in repr(found) and "Souza" not in repr(found)
    assert services.find_own_visit(session, "kiosk-front", "Ana", "")["matches"] == []
    assert services.find_own_visit(session, "kiosk-front", "An", "Souza")["matches"] == []


def test_local_sign_in_event(session, settings) -> None:
    body = wire.VisitLocalSignIn(visit="visit-local1", token_sha256=services.token_hash("l" * 24), category="visitor", first="Rui", last="Costa",
                                 id_source="typed", host="s100", destination="library",
                                 signed_in_at="2026-11-28T13:50:00Z", screening="clear", cache_version=4,
                                 expires_at="2026-11-28T21:50:00Z")
    handlers.handle_event(session, settings, "kiosk-front", "visit.local_sign_in", body, NOW)
    handlers.handle_event(session, settings, "kiosk-front", "visit.local_sign_in", body, NOW)  # re-sent: once
    visit = session.get(VisitRecord, "visit-local1")
    assert (visit.status, visit.offline, visit.screened_by, visit.host_name) == ("on_site", True, "kiosk_cache", "Dana Rivera")
    stale = body.model_copy(update={"visit": "visit-local2", "token_sha256": services.token_hash("m" * 24), "screening": "stale"})
    handlers.handle_event(session, settings, "kiosk-front", "visit.local_sign_in", stale, NOW)
    assert session.get(VisitRecord, "visit-local2").status == "held"
    assert session.get(VisitRecord, "visit-local2").holds[0].reason == "stale_cache"


def test_closing_time_closes_as_not_signed_out(session, settings) -> None:
    services.sign_in(session, settings, "kiosk-front", _req(1), NOW)
    services.confirm_printed(session, "kiosk-front", "visit-000001", NOW)
    services.sign_in(session, settings, "kiosk-front", _req(2, first="Rui"), NOW)
    services.sign_out(session, "kiosk-front", how="badge", token=_token(2), now=NOW)
    closed = services.close_at_closing(session, "lincoln", NOW + timedelta(hours=10))
    assert [v.id for v in closed] == ["visit-000001"]
    assert session.get(VisitRecord, "visit-000001").signed_out_how == "closing"
    assert session.get(VisitRecord, "visit-000001").status == "closed_unsigned"
    assert session.get(VisitRecord, "visit-000002").status == "signed_out"


def test_photo_shredding(session, settings) -> None:
    services.sign_in(session, settings, "kiosk-front", _req(), NOW)
    services.sign_out(session, "kiosk-front", how="badge", token=_token(), now=NOW)
    assert services.shred_photos(session, older_than=NOW + timedelta(days=31)) == 1
    visit = session.get(VisitRecord, "visit-000001")
    assert services.photo_bytes(session, visit) is None and session.scalars(select(VisitPhotoKey)).all() == []


def test_directory(session, settings) -> None:
    data = wire.DirectoryResult.model_validate(services.directory(session, settings, "kiosk-front", NOW))
    assert [h.id for h in data.hosts] == ["s100"]
    assert [d.id for d in data.destinations] == ["library", "main-office"]
    assert data.tz == "America/New_York"


def test_watchlist_pages_are_hashed(session, settings) -> None:
    settings.watch_page_size = 2
    for i in range(5):
        services.add_watch_entry(session, first=f"Name{i}", last="Person", dob=None, kind="banned", now=NOW)
    pages = [wire.WatchlistResult.model_validate(services.watchlist_page(session, settings, "kiosk-front", p, NOW))
             for p in range(3)]
    assert [p.pages for p in pages] == [3, 3, 3] and sum(len(p.entries) for p in pages) == 5
    assert "person" not in repr(pages).lower()
    with pytest.raises(VisitorError, match="not_found"):
        services.watchlist_page(session, settings, "kiosk-front", 3, NOW)


def test_csv_import_reports_bad_rows(session) -> None:
    text = ("first,last,dob,kind,note\nAna,Souza,1990-01-02,banned,trespass\nBob,,,,\n"
            "Cy,Lee,02/03/1990,custody,\nDi,Ng,,custody,\nEd,Ko,,unknown,\n")
    report = services.import_watch_csv(session, text, now=NOW)
    assert report.added == 2
    assert [e.split(":")[0] for e in report.errors] == ["line 3", "line 4", "line 6"]
    with pytest.raises(VisitorError):
        services.import_watch_csv(session, "name,dob\nx,y\n", now=NOW)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=400))
def test_property_csv_import_never_crashes(session, text: str) -> None:
    try:
        report = services.import_watch_csv(session, "first,last,dob,kind\n" + text, now=NOW)
    except VisitorError:
        return
    assert report.added >= 0


def test_watchlist_unchanged_answer(session, settings) -> None:
    services.add_watch_entry(session, first="Ana", last="Souza", dob=None, kind="banned", now=NOW)
    full = services.watchlist_page(session, settings, "kiosk-front", 0, NOW)
    later = NOW + timedelta(hours=3)
    same = wire.WatchlistResult.model_validate(
        services.watchlist_page(session, settings, "kiosk-front", 0, later, have_version=full["version"]))
    assert same.unchanged and same.entries == [] and same.issued_at == "2026-11-28T17:00:00Z"
    services.add_watch_entry(session, first="Bo", last="Lee", dob=None, kind="banned", now=NOW)
    changed = services.watchlist_page(session, settings, "kiosk-front", 0, later, have_version=full["version"])
    assert "unchanged" not in changed and len(changed["entries"]) == 2
