"""The hub's half of the visit conversation, for kiosk tests: real broker, real SQLite, real handlers.

It answers ``dev/<kiosk>/req`` with :func:`hub.visitors.handlers.handle_request` and applies
``dev/<kiosk>/events`` with :func:`hub.visitors.handlers.handle_event`, then acks them, exactly
as the hub's bridge does once it routes visit types there. Signing, sequence numbers and
topics are the real ``link`` ones.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hub.db import Database
from hub.models import Building, Device, Person
from hub.visitors import handlers, services
from hub.visitors.services import VisitorSettings
from link import topics
from link.client import BrokerConfig, Inbound, LinkClient
from link.envelope import Signer, open_envelope
from link.messages import EventsAck, MessageError

log = logging.getLogger("tests.kiosk.hubside")
NOW = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)


def seed(database: Database, kiosk_id: str, kiosk_pem: str = "-") -> None:
    """One building with a kiosk, a host and two destinations."""
    with database.session() as s:
        building = Building(id="lincoln", name="Lincoln Elementary", tz="America/New_York", created_at=NOW)
        s.add(building)
        s.flush()
        s.add(Device(id=kiosk_id, kind="kiosk", building_id="lincoln", public_key_pem=kiosk_pem, created_at=NOW))
        host = Person(staff_id="s100", name="Dana Rivera", title="Principal", kind="staff", created_at=NOW,
                      updated_at=NOW)
        host.buildings.append(building)
        s.add(host)
        services.add_destination(s, "lincoln", "main-office", "Main office")
        services.add_destination(s, "lincoln", "library", "Library")


class VisitHub:
    """Answers one kiosk's visit requests and acks its events."""

    def __init__(self, database: Database, broker: BrokerConfig, hub_key: Ed25519PrivateKey,
                 device_keys: dict[str, Ed25519PublicKey], *, clock=lambda: datetime.now(UTC),
                 settings: VisitorSettings | None = None, delay_s: float = 0.0) -> None:
        self.database = database
        self.signer = Signer(topics.HUB_ID, hub_key)
        self.keys = dict(device_keys)
        self.clock = clock
        self.settings = settings or VisitorSettings.from_site_key(b"s" * 32)
        self.delay_s = delay_s
        self._seq = itertools.count(int(time.time() * 1000))
        self._lock = threading.Lock()
        self.requests: list[str] = []
        self.events: list[str] = []
        self.client = LinkClient(broker)
        self.client.subscribe(topics.all_requests(), self._on_request)
        self.client.subscribe(topics.all_events(), self._on_event)

    def start(self, timeout: float = 10.0) -> "VisitHub":
        """Connect and wait until subscribed."""
        self.client.start()
        if not self.client.wait_connected(timeout):
            raise TimeoutError("hub side did not connect")
        time.sleep(0.3)  # let the SUBACKs land before the kiosk speaks
        return self

    def stop(self) -> None:
        """Disconnect."""
        self.client.stop()

    def _open(self, msg: Inbound):
        parsed = topics.parse(msg.topic)
        try:
            return parsed.device, open_envelope(msg.payload, self.keys, expect_sender=parsed.device)
        except MessageError as exc:
            log.warning("hub side dropped topic=%s reason=%s", msg.topic, exc.reason)
            return parsed.device, None

    def _on_request(self, msg: Inbound) -> None:
        device, env = self._open(msg)
        if env is None:
            return
        if self.delay_s:
            time.sleep(self.delay_s)
        with self._lock, self.database.session() as session:
            response = handlers.handle_request(session, self.settings, device, env.type, env.body, self.clock())
            self.requests.append(env.type)
        payload = self.signer.seal(response, seq=next(self._seq), now=self.clock())
        self.client.publish(topics.response(device), payload)

    def _on_event(self, msg: Inbound) -> None:
        device, env = self._open(msg)
        if env is None:
            return
        with self._lock, self.database.session() as session:
            if env.type in handlers.EVENT_TYPES:
                handlers.handle_event(session, self.settings, device, env.type, env.body, self.clock())
            self.events.append(env.type)
        ack = self.signer.seal(EventsAck(upto=env.seq), seq=next(self._seq), now=self.clock())
        self.client.publish(topics.hub_ack(device), ack)


def wait_for(predicate, timeout: float = 10.0, step: float = 0.05) -> bool:
    """Poll ``predicate`` until true or ``timeout``; the last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def make_kiosk_keys(root: Path) -> tuple[Ed25519PrivateKey, Ed25519PrivateKey]:
    """(kiosk key, hub key), written where a kiosk.toml would point."""
    from link import keys as link_keys

    kiosk_key = link_keys.generate(root / "kiosk.pem", root / "kiosk.pub.pem")
    hub_key = link_keys.generate(root / "hub.pem", root / "hub.pub.pem")
    return kiosk_key, hub_key
