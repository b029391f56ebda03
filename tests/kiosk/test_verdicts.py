"""The desk's verdict on a held sign-in reaches the kiosk that holds it: admit prints the badge there.

End to end: the kiosk (built from its configuration, simulated camera and Dummy printer) signs a
watch-list namesake in and is told to send them to the desk; a front-desk user signed in to the
hub's pages (password + TOTP) admits or refuses; the real bridge's tick sends ``visit.decided``
over a real Mosquitto; the kiosk prints (or not), and its ``visit.signed_in`` reaches the hub.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from hub.auth import permissions
from hub.auth.clock import ManualClock
from hub.visitors import services
from hub.visitors.models import VisitHold, VisitRecord
from kiosk import badge, flow
from kiosk.verdicts import DeskVerdicts
from link import visits as wire
from tests.hub.auth.conftest import HttpsClient
from tests.hub.visitors.test_visitors_views import _client
from tests.kiosk.bridgeside import Site
from tests.kiosk.hubside import wait_for
from tests.kiosk.test_service import _job_image

pytestmark = pytest.mark.broker


@pytest.fixture
def held(tmp_path, mosquitto, pki):
    """(site, desk client, visit id): a sign-in held for the desk at kiosk-front."""
    saved = dict(permissions.ENDPOINTS), dict(permissions.RESOLVERS)
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    site = Site(tmp_path, mosquitto, pki, AUTH_CLOCK=clock)
    site.app.test_client_class = HttpsClient
    try:
        kiosk = site.start_kiosk()
        with site.db.session() as s:
            services.add_watch_entry(s, first="Ann", last="Souza", dob=date(1990, 1, 2), kind="custody",
                                     now=datetime.now(UTC))
        assert kiosk.refresh()
        now = datetime.now(UTC)
        photo = kiosk.take_photo()
        draft = flow.touch(flow.new_draft("en", now), now, category="visitor", first="Ana", last="Souza",
                           dob=date(1990, 1, 2), id_source="scanned", photo_jpeg=photo.data["jpeg"],
                           destination="main-office", where_chosen=True)
        outcome = kiosk.sign_in(draft)
        assert (outcome.kind, outcome.message) == ("held", "see_desk")
        assert kiosk.printers[0].jobs == []
        yield site, _client(site.app, clock, "front_desk", ["lincoln"]), outcome.visit
    finally:
        site.close()
        permissions.ENDPOINTS.clear()
        permissions.ENDPOINTS.update(saved[0])
        permissions.RESOLVERS.clear()
        permissions.RESOLVERS.update(saved[1])


def _decide(site, client, decision: str) -> None:
    with site.db.session() as s:
        hold_id = s.scalars(select(VisitHold.id)).one()
    token = client.csrf("/visitors/lincoln/desk")
    assert client.post(f"/visitors/holds/{hold_id}", data={"csrf_token": token, "decision": decision}).status_code == 302


def test_admit_at_the_desk_prints_the_badge_at_the_kiosk(held) -> None:
    site, client, visit_id = held
    printer = site.kiosk.printers[0]
    _decide(site, client, "admit")
    assert wait_for(lambda: len(printer.jobs) == 1, 15), "the kiosk did not print the admitted badge"
    # The badge's QR carries the token the hub knows for this visit (sign-out works with it).
    image = np.array(_job_image(printer.jobs[0]).convert("L"))
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    token = badge.token_from_qr(text)
    with site.db.session() as s:
        assert s.get(VisitRecord, visit_id).token_hash == services.token_hash(token)
    # The kiosk's visit.signed_in reaches the hub: printed, so the bridge stops repeating the admit.
    assert wait_for(lambda: _printed(site, visit_id), 15)
    local = site.kiosk.store.get(visit_id)
    assert local.state == "on_site" and site.kiosk.store.held_token(visit_id) is None
    assert local.host == "" and local.expires_at is not None
    jobs = len(printer.jobs)
    site.kiosk.gateway.link.publish_status()  # give the bridge a moment and a message
    assert not wait_for(lambda: len(printer.jobs) > jobs, 3)  # no second badge


def test_refuse_at_the_desk_prints_nothing(held) -> None:
    site, client, visit_id = held
    _decide(site, client, "refuse")
    assert wait_for(lambda: site.kiosk.store.get(visit_id).state == "refused", 15)
    assert site.kiosk.printers[0].jobs == []
    assert site.kiosk.store.held_token(visit_id) is None and site.kiosk.store.photos([visit_id]) == {}
    assert [v.visit for v in site.kiosk.store.on_site()] == []


def test_not_sure_tells_the_kiosk_nothing(held) -> None:
    site, client, visit_id = held
    _decide(site, client, "not_sure")
    assert not wait_for(lambda: site.kiosk.printers[0].jobs, 3)
    assert site.kiosk.store.get(visit_id).state == "held"


def test_verdicts_for_visits_not_held_here_are_ignored(held) -> None:
    site, _client_, visit_id = held
    verdicts = DeskVerdicts(site.kiosk)
    assert verdicts.apply(wire.VisitDecided(visit="v-not-ours-000", decision="admit")) == "unknown"
    assert verdicts.apply(wire.VisitDecided(visit=visit_id, decision="refuse")) == "refused"
    assert verdicts.apply(wire.VisitDecided(visit=visit_id, decision="admit")) == "done"  # too late: refused
    assert site.kiosk.printers[0].jobs == []


def _printed(site, visit_id: str) -> bool:
    with site.db.session() as s:
        return s.get(VisitRecord, visit_id).printed_at is not None


def test_refusal_of_a_visitor_admitted_offline_closes_it_on_the_kiosk(held) -> None:
    site, _client_, _visit_id = held
    now = datetime.now(UTC)
    site.kiosk.store.add_visit(visit="v-offline-001", token="o" * 24, first="Jo", last="Park", category="visitor",
                               host="", signed_in_at=now, expires_at=None, state="on_site", offline=True)
    verdicts = DeskVerdicts(site.kiosk)
    assert verdicts.apply(wire.VisitDecided(visit="v-offline-001", decision="admit")) == "done"
    assert verdicts.apply(wire.VisitDecided(visit="v-offline-001", decision="refuse")) == "refused"
    assert site.kiosk.store.get("v-offline-001").state == "refused"
    assert site.kiosk.printers[0].jobs == []
