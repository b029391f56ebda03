"""The kiosk service against the hub side over a real Mosquitto, with simulated camera and printer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select

from hub.models import Alert
from hub.visitors import services
from hub.visitors.models import VisitHold, VisitRecord
from kiosk import badge, flow, vision
from tests.kiosk.hubside import wait_for

pytestmark = pytest.mark.broker


def _draft(kiosk, **over) -> flow.Draft:
    now = datetime.now(UTC)
    photo = kiosk.take_photo()
    assert photo.kind == "photo", photo
    values = dict(category="visitor", first="Ana", last="Souza", dob=date(1990, 1, 2), id_source="scanned",
                  photo_jpeg=photo.data["jpeg"], host="s100", destination="main-office", where_chosen=True)
    values.update(over)
    return flow.touch(flow.new_draft("en", now), now, **values)


def _visit(env, visit_id):
    with env.database.session() as s:
        visit = s.get(VisitRecord, visit_id)
        return None if visit is None else (visit.status, visit.offline, visit.screened_by, visit.printed_at is not None)


def test_online_sign_in_prints_and_hub_records(kiosk_env) -> None:
    env = kiosk_env
    outcome = env.kiosk.sign_in(_draft(env.kiosk))
    assert (outcome.kind, outcome.label) == ("printed", "Ana S.")
    assert len(env.printer.jobs) == 1
    assert wait_for(lambda: _visit(env, outcome.visit) == ("on_site", False, "hub", True))
    assert wait_for(lambda: env.kiosk.gateway.outbox_depth() == 0)


def test_watch_list_hit_holds_without_badge_and_alerts_desk(kiosk_env) -> None:
    env = kiosk_env
    with env.database.session() as s:
        services.add_watch_entry(s, first="Ann", last="Souza", dob=date(1990, 1, 2), kind="custody",
                                 now=datetime.now(UTC))
    outcome = env.kiosk.sign_in(_draft(env.kiosk))
    assert (outcome.kind, outcome.message) == ("held", "see_desk")
    assert env.printer.jobs == []
    with env.database.session() as s:
        assert s.get(VisitRecord, outcome.visit).status == "held"
        assert s.scalars(select(VisitHold)).one().reason == "possible_match"
        assert s.scalars(select(Alert)).one().kind == "watchlist_hit"


def test_sign_out_by_badge_qr_from_the_printed_job(kiosk_env, tmp_path) -> None:
    env = kiosk_env
    outcome = env.kiosk.sign_in(_draft(env.kiosk))
    assert outcome.kind == "printed"
    assert wait_for(lambda: _visit(env, outcome.visit) is not None and _visit(env, outcome.visit)[0] == "on_site")
    # Re-render the same badge (the job's image) and show it to the camera.
    token_row = env.kiosk.store.get(outcome.visit)
    assert token_row is not None
    preview = tmp_path / "badge.png"
    job_image = _job_image(env.printer.jobs[-1])
    job_image.save(preview)
    env.show(str(preview))
    out = env.kiosk.scan_badge()
    assert (out.kind, out.label) == ("signed_out", "Ana S."), out
    assert wait_for(lambda: _visit(env, outcome.visit)[0] == "signed_out")
    again = env.kiosk.scan_badge()
    assert (again.kind, again.message) == ("error", "visit_closed")


def _job_image(job: bytes):
    """Decode the raster (GS v 0) part of an ESC/POS job back into an image."""
    from PIL import Image

    start = job.index(b"\x1dv0")
    width_bytes = job[start + 4] + 256 * job[start + 5]
    height = job[start + 6] + 256 * job[start + 7]
    data = np.frombuffer(job[start + 8:start + 8 + width_bytes * height], dtype=np.uint8)
    bits = np.unpackbits(data).reshape(height, width_bytes * 8)
    image = Image.fromarray(np.where(bits == 1, 0, 255).astype(np.uint8))
    return image.resize((image.width * 2, image.height * 2), Image.Resampling.NEAREST)


def test_foreign_qr_is_refused(kiosk_env, tmp_path) -> None:
    import segno

    path = tmp_path / "other.png"
    segno.make_qr("https://example.com/not-a-badge").save(str(path), scale=8)
    kiosk_env.show(str(path))
    assert kiosk_env.kiosk.scan_badge().message == "not_our_badge"


def test_printer_out_of_paper_creates_no_visit(kiosk_env) -> None:
    env = kiosk_env
    env.printer.run_out_of_paper()
    outcome = env.kiosk.sign_in(_draft(env.kiosk))
    assert (outcome.kind, outcome.message) == ("error", "printer")
    assert env.kiosk.faults["printer"] == "printer_out_of_paper"
    with env.database.session() as s:
        assert s.scalars(select(VisitRecord)).all() == []


def test_find_by_name_and_sign_out(kiosk_env) -> None:
    env = kiosk_env
    first = env.kiosk.sign_in(_draft(env.kiosk))
    env.kiosk.sign_in(_draft(env.kiosk, first="Bruno"))
    found = env.kiosk.find("ana", "SOUZA")
    assert [m["label"] for m in found.data["matches"]] == ["Ana S."]
    assert env.kiosk.sign_out_visit(found.data["matches"][0]["visit"]).kind == "signed_out"
    assert wait_for(lambda: _visit(env, first.visit)[0] == "signed_out")


def test_offline_sign_in_queues_and_syncs_when_the_broker_returns(tmp_path, fresh_mosquitto, pki) -> None:
    from tests.conftest import make_broker_config
    from tests.kiosk.conftest import make_kiosk_env

    env = make_kiosk_env(tmp_path, lambda ident, **kw: make_broker_config(fresh_mosquitto, pki, ident, **kw))
    try:
        assert env.kiosk.refresh()
        fresh_mosquitto.stop()
        assert wait_for(lambda: not env.kiosk.gateway.is_connected(), 10)
        outcome = env.kiosk.sign_in(_draft(env.kiosk))
        assert (outcome.kind, outcome.message) == ("printed", "badge_printing")  # nothing alarming on screen
        assert env.kiosk.gateway.outbox_depth() == 2  # local sign-in + signed in
        assert _visit(env, outcome.visit) is None
        # Offline sign-out by badge, from the kiosk's own roster.
        fresh_mosquitto.start()
        assert wait_for(lambda: _visit(env, outcome.visit) == ("on_site", True, "kiosk_cache", True), 20)
        assert wait_for(lambda: env.kiosk.gateway.outbox_depth() == 0, 20)
    finally:
        env.kiosk.stop()
        env.hub.stop()


def test_offline_with_stale_cache_holds_for_desk(tmp_path, broker_config) -> None:
    from tests.kiosk.conftest import make_kiosk_env

    env = make_kiosk_env(tmp_path, broker_config)
    try:
        assert env.kiosk.refresh()
        env.kiosk.clock = lambda: datetime.now(UTC) + timedelta(days=2)  # the cache is now 2 days old
        env.hub.stop()  # the broker is up but the hub does not answer
        outcome = env.kiosk.sign_in(_draft(env.kiosk))
        assert (outcome.kind, outcome.message) == ("held", "see_desk")
        assert env.printer.jobs == []
    finally:
        env.kiosk.stop()


def test_offline_watch_list_hit_holds(tmp_path, broker_config) -> None:
    from tests.kiosk.conftest import make_kiosk_env

    env = make_kiosk_env(tmp_path, broker_config)
    try:
        with env.database.session() as s:
            services.add_watch_entry(s, first="Ana", last="Souza", dob=None, kind="banned", now=datetime.now(UTC))
        assert env.kiosk.refresh()
        env.hub.stop()
        outcome = env.kiosk.sign_in(_draft(env.kiosk))
        assert outcome.kind == "held" and env.printer.jobs == []
    finally:
        env.kiosk.stop()


def test_scan_licence_from_camera(kiosk_env, sample_person) -> None:
    kiosk_env.show("licence.png")
    outcome = kiosk_env.kiosk.scan_licence()
    assert outcome.kind == "found"
    assert (outcome.data["first"], outcome.data["last"], outcome.data["dob"]) == (
        sample_person["first"].title(), sample_person["last"].title(), sample_person["dob"])


@pytest.mark.parametrize(("image", "kind", "message"), [
    ("blank.png", "error", "camera_dark"),
    ("licence.png", "retry", "no_face"),
])
def test_photo_refusals(kiosk_env, image, kind, message) -> None:
    kiosk_env.show(image)
    outcome = kiosk_env.kiosk.take_photo()
    assert (outcome.kind, outcome.message) == (kind, message)


def test_two_faces_refused(kiosk_env, tmp_path, face_frame) -> None:
    import cv2

    path = tmp_path / "two.png"
    cv2.imwrite(str(path), np.hstack([face_frame, face_frame]))
    kiosk_env.show(str(path))
    assert kiosk_env.kiosk.take_photo().message == "many_faces"


def test_camera_gone(kiosk_env) -> None:
    kiosk_env.kiosk.camera.unplug()
    assert kiosk_env.kiosk.scan_licence().message == "camera"
    assert kiosk_env.kiosk.faults["camera"] == "camera_missing"


def test_badge_qr_round_trip_token_format() -> None:
    assert badge.token_from_qr(badge.qr_payload(badge.new_token()))
    assert vision.decode_qr(np.zeros((100, 100, 3), np.uint8)) is None


def test_refresh_confirms_an_unchanged_list(kiosk_env) -> None:
    env = kiosk_env
    before = env.kiosk.watch_cache()
    assert env.kiosk.refresh()
    after = env.kiosk.watch_cache()
    assert after.version == before.version and after.issued_at >= before.issued_at
    assert env.hub.requests.count("visit.watchlist") == 2  # one full page, then one "unchanged"


def test_roster_printed_while_the_hub_is_away_shows_the_visitors_photo(kiosk_env) -> None:
    from kiosk import roster
    from tests.kiosk.test_roster import find_thumbnail, raster_rows

    env = kiosk_env
    draft = _draft(env.kiosk)
    assert env.kiosk.sign_in(draft).kind == "printed"
    env.hub.stop()  # the hub is away: the roster comes from the kiosk's own store
    outcome = env.kiosk.print_roster()
    assert (outcome.kind, outcome.data["count"]) == ("printed", 1)
    raster = raster_rows(env.printer.jobs[-1])
    assert len(find_thumbnail(raster, roster.thumbnail(draft.photo_jpeg, 384), 384 // 24)) == 1


def test_offline_visitor_matched_by_the_hubs_recheck_alerts_the_desk(tmp_path, fresh_mosquitto, pki) -> None:
    from tests.conftest import make_broker_config
    from tests.kiosk.conftest import make_kiosk_env

    env = make_kiosk_env(tmp_path, lambda ident, **kw: make_broker_config(fresh_mosquitto, pki, ident, **kw))
    try:
        assert env.kiosk.refresh()  # the kiosk's copy of the list is empty
        fresh_mosquitto.stop()
        assert wait_for(lambda: not env.kiosk.gateway.is_connected(), 10)
        outcome = env.kiosk.sign_in(_draft(env.kiosk))
        assert (outcome.kind, outcome.message) == ("printed", "badge_printing")  # cleared on the old copy
        with env.database.session() as s:  # meanwhile the desk adds her to the list
            services.add_watch_entry(s, first="Ana", last="Souza", dob=date(1990, 1, 2), kind="custody",
                                     now=datetime.now(UTC))
        fresh_mosquitto.start()
        assert wait_for(lambda: _visit(env, outcome.visit) == ("on_site", True, "kiosk_cache", True), 20)
        with env.database.session() as s:
            hold = s.scalars(select(VisitHold)).one()
            assert (hold.visit_id, hold.reason) == (outcome.visit, "onsite_match")
            alert = s.scalars(select(Alert)).one()
            assert alert.kind == "watchlist_hit" and "ALREADY ON SITE" in alert.message
    finally:
        env.kiosk.stop()
        env.hub.stop()
