"""The whole controller against a real Mosquitto: emulated reader, MockFactory pins, signed ACLs.

A small hub peer (verify, store each (device, seq) once, ack) stands in for the hub.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controller import config as config_mod
from controller.cli import ControllerApp
from controller.service import EXIT_FAULT
from link import keys, topics
from link.client import Inbound, LinkClient
from link.envelope import Signer, open_envelope
from link.messages import AclResync, Body, EventsAck, MessageError
from tests.conftest import make_broker_config
from tests.controller.acl import SITE_KEY, card, credential, delta, snapshot

pytestmark = pytest.mark.broker

DEVICE = "rr-ctl-1"
ALICE_UID = "04A1B2C3D4E5F6"      # staff, can escort
VISITOR_UID = "DEADBEEF"          # escort required
STRANGER_UID = "0102030405060708090A"


def wait_for(predicate, timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until true or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


class Hub:
    """The hub's side for these tests: signs ACLs, stores events once, acks them."""

    def __init__(self, broker_config, device_key) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.signer = Signer("hub", self.key)
        self.device_keys = {DEVICE: device_key}
        self.events: dict[int, tuple[str, dict]] = {}
        self.deliveries = 0
        self.requests: list = []
        self.acks: list[int] = []
        self.statuses: list[dict] = []
        self.auto_ack = True
        self._seq = 0
        self._lock = threading.Lock()
        self.client = LinkClient(broker_config)
        self.client.subscribe(topics.events(DEVICE), self._on_event)
        self.client.subscribe(topics.request(DEVICE), self._on_request)
        self.client.subscribe(topics.device_ack(DEVICE), self._on_ack)
        self.client.subscribe(topics.status(DEVICE), self._on_status)

    def seal(self, body: Body) -> bytes:
        """Sign with the next hub sequence number."""
        with self._lock:
            self._seq += 1
            return self.signer.seal(body, seq=self._seq, now=datetime.now(UTC))

    def send_acl(self, body: Body) -> bytes:
        """Sign and publish on hub/<device>/acl; return the payload (for replays)."""
        payload = self.seal(body)
        assert self.client.publish(topics.acl(DEVICE), payload).wait(5)
        return payload

    def _open(self, msg: Inbound):
        try:
            return open_envelope(msg.payload, self.device_keys, expect_sender=DEVICE)
        except MessageError:
            return None

    def _on_event(self, msg: Inbound) -> None:
        env = self._open(msg)
        if env is None:
            return
        with self._lock:
            self.deliveries += 1
            self.events.setdefault(env.seq, (env.type, env.body.model_dump()))
            upto = max(self.events)
        if self.auto_ack:
            self.client.publish(topics.hub_ack(DEVICE), self.seal(EventsAck(upto=upto)))

    def _on_request(self, msg: Inbound) -> None:
        env = self._open(msg)
        if env is not None:
            self.requests.append(env.body)

    def _on_ack(self, msg: Inbound) -> None:
        env = self._open(msg)
        if env is not None:
            self.acks.append(env.body.version)

    def _on_status(self, msg: Inbound) -> None:
        env = self._open(msg)
        if env is not None:
            self.statuses.append(env.body.model_dump())

    def of_type(self, type_name: str) -> list[dict]:
        """Bodies of stored events of one type, in sequence order."""
        with self._lock:
            return [body for _, (t, body) in sorted(self.events.items()) if t == type_name]


def write_config(tmp_path: Path, broker, pki, *,
                 ntp: str = "synced") -> config_mod.ControllerConfig:
    """A simulated controller.toml with fresh key files; return it loaded."""
    ident = pki.client(DEVICE)
    keys.generate(tmp_path / "device.key", tmp_path / "device.pub")
    (tmp_path / "site.key").write_text(SITE_KEY.hex())
    text = f"""
[device]
id = "{DEVICE}"
state_dir = "{tmp_path / 'state'}"
status_interval_s = 5

[broker]
host = "{broker.host}"
port = {broker.port}
ca_file = "{pki.ca_file}"
cert_file = "{ident.cert}"
key_file = "{ident.key}"
backoff_max_s = 1

[keys]
device_key = "{tmp_path / 'device.key'}"
hub_public_key = "{tmp_path / 'hub.pub'}"
site_key_file = "{tmp_path / 'site.key'}"

[clock]
ntp = "{ntp}"

[[doors]]
id = "rr-1"

[[hardware.readers]]
type = "sim"
name = "reader0"
poll_interval_ms = 20

[[hardware.doors]]
type = "sim"
name = "door0"
"""
    path = tmp_path / "controller.toml"
    path.write_text(text)
    return config_mod.load(path)


def acl_v1():
    """Alice (staff, escorts), a visitor needing an escort, in 24/7 groups."""
    return snapshot(1, [
        credential(card(ALICE_UID), "S100", can_escort=True),
        credential(card(VISITOR_UID), "V200", groups=["visitors"], escort_required=True),
    ])


@pytest.fixture
def rig(tmp_path: Path, mosquitto, pki):
    """A hub peer and a running simulated controller on the session broker."""
    yield from _rig(tmp_path, mosquitto, pki)


@pytest.fixture
def offline_rig(tmp_path: Path, fresh_mosquitto, pki):
    """Like ``rig``, on a broker of the test's own that it may stop and restart."""
    yield from _rig(tmp_path, fresh_mosquitto, pki, broker=fresh_mosquitto)


def _rig(tmp_path, broker_proc, pki, broker=None):
    cfg = write_config(tmp_path, broker_proc, pki)
    device_pub = keys.load_public(tmp_path / "device.pub")
    hub = Hub(make_broker_config(broker_proc, pki, "hub"), device_pub)
    keys.write_public(tmp_path / "hub.pub", hub.key.public_key())
    hub.client.start()
    assert hub.client.wait_connected(5)
    observer = LinkClient(make_broker_config(broker_proc, pki, "observer"))
    observer.start()
    assert observer.wait_connected(5)
    app = ControllerApp(cfg, simulate=True)
    app.start()
    assert wait_for(lambda: any(s["state"] == "online" for s in hub.statuses))
    try:
        yield hub, app, observer, broker
    finally:
        app.close()
        observer.stop()
        hub.client.stop()


def tap(observer: LinkClient, uid: str) -> None:
    """Present a card through the simulation topic (emulated reader path)."""
    assert observer.publish(topics.sim(DEVICE, "tap"), json.dumps({"uid": uid}).encode(),
                            qos=1).wait(5)


def load_acl(hub: Hub) -> None:
    """Send snapshot v1 and wait for the controller's ack."""
    for part in acl_v1():
        hub.send_acl(part)
    assert wait_for(lambda: 1 in hub.acks)


def test_snapshot_then_tap_grants(rig) -> None:
    """Signed snapshot applied and acked; a tap on the emulated reader opens the strike."""
    hub, app, observer, _ = rig
    assert wait_for(lambda: any(isinstance(r, AclResync) for r in hub.requests))  # first boot
    assert wait_for(lambda: any(st["stale_acl"] and st.get("acl_version") is None
                                for st in hub.statuses))
    load_acl(hub)
    assert wait_for(lambda: hub.statuses[-1].get("acl_version") == 1)
    status = hub.statuses[-1]
    assert (status["state"], status["kind"], status["clock"], status["stale_acl"]) == (
        "online", "controller", "trusted", False)
    assert isinstance(status["outbox_depth"], int)
    tap(observer, ALICE_UID)
    assert wait_for(lambda: hub.of_type("access.granted"))
    granted = hub.of_type("access.granted")[0]
    assert granted["holder"] == "S100" and granted["cred"] == card(ALICE_UID)
    assert ALICE_UID.lower() not in json.dumps(hub.events).lower()  # never the raw UID
    assert wait_for(lambda: app.doors["rr-1"].io.strike_energised, 2)
    # door opened and closed through the sim topic: events, relock on close
    assert observer.publish(topics.sim(DEVICE, "contact"), b'{"open": true}').wait(5)
    assert wait_for(lambda: hub.of_type("door.opened"))
    assert observer.publish(topics.sim(DEVICE, "contact"), b'{"open": false}').wait(5)
    assert wait_for(lambda: hub.of_type("door.closed"))
    assert wait_for(lambda: not app.doors["rr-1"].io.strike_energised, 2)
    assert not hub.of_type("door.forced")


def test_escort_names_both(rig) -> None:
    """A visitor right after an escort's grant at the same door is let in, both named."""
    hub, app, observer, _ = rig
    load_acl(hub)
    tap(observer, VISITOR_UID)
    assert wait_for(lambda: hub.of_type("access.denied"))
    assert hub.of_type("access.denied")[0]["reason"] == "escort_required"
    tap(observer, ALICE_UID)
    assert wait_for(lambda: hub.of_type("access.granted"))
    time.sleep(0.6)  # the emulated card must leave the antenna before the next one
    tap(observer, VISITOR_UID)
    assert wait_for(lambda: len(hub.of_type("access.granted")) == 2)
    escorted = hub.of_type("access.granted")[1]
    assert (escorted["holder"], escorted["escort_by"]) == ("V200", "S100")


def test_revoke_delta_denies(rig) -> None:
    """A delta revoking Alice is applied and acked; her next tap is denied as revoked."""
    hub, app, observer, _ = rig
    load_acl(hub)
    hub.send_acl(delta(1, 2, revoke=[card(ALICE_UID)]))
    assert wait_for(lambda: 2 in hub.acks)
    tap(observer, ALICE_UID)
    assert wait_for(lambda: hub.of_type("access.denied"))
    denied = hub.of_type("access.denied")[0]
    assert (denied["reason"], denied["holder"], denied["severity"]) == ("revoked", "S100",
                                                                        "warning")
    assert not app.doors["rr-1"].io.strike_energised


def test_unknown_card_and_forced_door(rig) -> None:
    """An unknown card is denied; opening the door while locked raises door.forced."""
    hub, app, observer, _ = rig
    load_acl(hub)
    tap(observer, STRANGER_UID)
    assert wait_for(lambda: hub.of_type("access.denied"))
    assert hub.of_type("access.denied")[0]["reason"] == "unknown_card"
    assert observer.publish(topics.sim(DEVICE, "contact"), b'{"open": true}').wait(5)
    assert wait_for(lambda: hub.of_type("door.forced"))
    assert hub.of_type("door.forced")[0]["severity"] == "critical"


def test_rex_unlocks_for_egress(rig) -> None:
    """Request-to-exit unlocks and is logged before the strike moves."""
    hub, app, observer, _ = rig
    load_acl(hub)
    assert observer.publish(topics.sim(DEVICE, "rex"), b"{}").wait(5)
    assert wait_for(lambda: hub.of_type("door.rex"))
    assert app.service.state_of("rr-1").unlocked_by == "rex"


def test_gap_asks_for_snapshot(rig) -> None:
    """A delta that does not start at the version in force triggers a resync request."""
    hub, app, observer, _ = rig
    load_acl(hub)
    before = len(hub.requests)
    hub.send_acl(delta(5, 6, revoke=[card(ALICE_UID)]))
    assert wait_for(lambda: len(hub.requests) > before)
    req = hub.requests[-1]
    assert isinstance(req, AclResync) and req.have_version == 1
    app.service.drain()
    assert app.cache.version == 1 and app.cache.credential(card(ALICE_UID)).status == "active"


def test_unsigned_replayed_and_stale_acl_refused(rig) -> None:
    """Forged, replayed and out-of-order ACL messages change nothing."""
    hub, app, observer, _ = rig
    load_acl(hub)
    revoke = delta(1, 2, revoke=[card(ALICE_UID)])
    forged = Signer("hub", Ed25519PrivateKey.generate()).seal(revoke, seq=10_000,
                                                              now=datetime.now(UTC))
    unsigned = json.loads(forged)
    del unsigned["sig"]
    hub.client.publish(topics.acl(DEVICE), forged).wait(5)
    hub.client.publish(topics.acl(DEVICE), json.dumps(unsigned).encode()).wait(5)
    # a genuine v1->2 delta, then the same bytes again, then an old-seq message
    old = hub.seal(delta(1, 2, revoke=[card(VISITOR_UID)]))
    payload = hub.send_acl(delta(1, 2, remove=[card(VISITOR_UID)]))
    assert wait_for(lambda: 2 in hub.acks)
    hub.client.publish(topics.acl(DEVICE), payload).wait(5)
    hub.client.publish(topics.acl(DEVICE), old).wait(5)
    # a correctly signed but out-of-order version (1->2 again, after 2 is in force)
    hub.send_acl(delta(1, 2, revoke=[card(ALICE_UID)]))
    assert wait_for(lambda: len(app.link.dropped) >= 4)
    app.service.drain()
    time.sleep(0.3)
    app.service.drain()
    reasons = [r for _, r in app.link.dropped]
    assert "bad_signature" in reasons and "bad_envelope" in reasons
    assert reasons.count("replay") >= 2
    assert app.cache.version == 2
    assert app.cache.credential(card(ALICE_UID)).status == "active"
    assert app.cache.credential(card(VISITOR_UID)) is None


def test_offline_decisions_queue_and_deliver_once(offline_rig) -> None:
    """Broker down: decisions go on, events queue; broker back: each stored once, then acked."""
    hub, app, observer, broker = offline_rig
    load_acl(hub)
    assert wait_for(lambda: app.link.outbox.depth() == 0)
    broker.stop()
    assert wait_for(lambda: not app.link.client.connected.is_set())
    door = app.doors["rr-1"]
    first = len(app.service.decisions)
    for uid in (ALICE_UID, STRANGER_UID, ALICE_UID):
        door.sim_tap(bytes.fromhex(uid))
        time.sleep(0.8)
    assert wait_for(lambda: len(app.service.decisions) - first == 3)
    outcomes = [(d.granted, d.reason) for _, d in list(app.service.decisions)[first:]]
    assert outcomes == [(True, None), (False, "unknown_card"), (True, None)]
    assert app.link.outbox.depth() >= 3
    queued = {e.seq for e in app.link.outbox.pending()}
    broker.start()
    assert wait_for(lambda: queued <= set(hub.events), 20)
    assert wait_for(lambda: app.link.outbox.depth() == 0, 10)
    granted = [b for b in hub.of_type("access.granted")]
    assert len(granted) == 2 and len(hub.of_type("access.denied")) == 1
    # each event stored once even if delivered more than once
    assert len(hub.events) == len(set(hub.events))


def test_fail_secure_on_internal_error(rig) -> None:
    """An internal error drops the strike, reports device.fault and exits non-zero."""
    hub, app, observer, _ = rig
    load_acl(hub)
    tap(observer, ALICE_UID)
    assert wait_for(lambda: app.doors["rr-1"].io.strike_energised, 5)
    # the cache's database goes away under the running service (a real sqlite3 error)
    app.service.call(app.cache._conn.close)
    hub.send_acl(delta(1, 2, revoke=[card(ALICE_UID)]))
    assert app.service.done.wait(10)
    assert app.service.exit_code == EXIT_FAULT
    assert not app.doors["rr-1"].io.strike_energised
    assert wait_for(lambda: hub.of_type("device.fault"))
    assert hub.of_type("device.fault")[0]["severity"] == "critical"
