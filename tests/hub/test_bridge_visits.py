"""The real bridge answers a kiosk: visit requests get a resp, visit events reach the visitor
records, and a visitor's photo never lands in the plain event log."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from hub.models import Event
from hub.services import devices
from link import keys as link_keys
from link import visits
from link.device import DeviceLink
from tests.conftest import make_broker_config
from tests.hub.test_bridge import World, now, wait_for

pytestmark = pytest.mark.broker


@pytest.fixture
def kiosk(app, mosquitto, pki, tmp_path):
    world = World(app, mosquitto, pki, tmp_path)
    key = Ed25519PrivateKey.generate()
    with world.db.session() as s:
        devices.register(s, device_id="kiosk-1", kind="kiosk", building_id="lincoln",
                         public_key_pem=link_keys.public_pem(key.public_key()), cert_serial="",
                         actor="test", now=now())
    world.bridge._load_keys()
    link = DeviceLink("kiosk-1", kind="kiosk", private_key=key, hub_key=world.keyring.hub_key.public_key(),
                      broker=make_broker_config(mosquitto, pki, "kiosk-1"), state_dir=tmp_path / "kiosk-1",
                      resend_s=1.0)
    answers = []
    link.on_response(lambda env: answers.append(env.body))
    link.start()
    assert link.client.wait_connected(10)
    yield world, link, answers
    link.stop()
    world.close()


def test_directory_request_is_answered(kiosk) -> None:
    world, link, answers = kiosk
    assert wait_for(lambda: link.request(visits.DirectoryFetch(corr="c-dir-0001")).wait(5))
    assert wait_for(lambda: any(a.corr == "c-dir-0001" for a in answers))
    answer = next(a for a in answers if a.corr == "c-dir-0001")
    assert answer.ok, answer.error
    result = visits.DirectoryResult.model_validate(answer.data)
    assert any(h.name == "Ana Silva" for h in result.hosts)


def test_offline_sign_in_reaches_the_hub_without_its_photo_in_the_event_log(kiosk) -> None:
    world, link, _ = kiosk
    photo = base64.b64encode(b"\xff\xd8\xff" + b"jpeg" * 50).decode()
    seq = link.send_event(visits.VisitLocalSignIn(
        visit="v-offline-0001", token_sha256="e" * 64, category="visitor", first="Jo", last="Park",
        id_source="typed", photo_jpeg=photo, signed_in_at="2026-11-28T14:00:00.000000Z", screening="clear"))
    assert wait_for(lambda: link.outbox.depth() == 0)  # stored, committed, acked
    with world.db.session() as s:
        row = s.scalars(select(Event).where(Event.device_id == "kiosk-1", Event.seq == seq)).one()
        assert row.type == "visit.local_sign_in"
        assert "photo_jpeg" not in row.body and row.body["first"] == "Jo"
