"""The contract over a real Mosquitto: TLS client certificates, the ACL, signing, the outbox."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from link import canonical, keys, topics
from link.client import Inbound, LinkClient
from link.device import DeviceLink
from link.envelope import Signer, open_envelope
from link.messages import AccessGranted, AclDelta, EventsAck, MessageError
from tests.conftest import make_broker_config

pytestmark = pytest.mark.broker
ROOT = Path(__file__).parents[2]


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


class HubPeer:
    """The hub's side, reduced to what these tests need: verify, store once, then ack."""

    def __init__(self, config, device_keys, *, auto_ack: bool = True) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.signer = Signer("hub", self.key)
        self.device_keys = device_keys
        self.stored: dict[tuple[str, int], bytes] = {}
        self.received = 0
        self.dropped: list[str] = []
        self.auto_ack = auto_ack
        self._seq = 0
        self._lock = threading.Lock()
        self.client = LinkClient(config)
        self.client.subscribe(topics.all_events(), self._on_event)

    def seal(self, body) -> bytes:
        with self._lock:
            self._seq += 1
            return self.signer.seal(body, seq=self._seq, now=_now())

    def _on_event(self, msg: Inbound) -> None:
        device = topics.parse(msg.topic).device
        try:
            env = open_envelope(msg.payload, self.device_keys, expect_sender=device)
        except MessageError as exc:
            self.dropped.append(exc.reason)
            return
        self.received += 1
        self.stored.setdefault((device, env.seq), msg.payload)
        if self.auto_ack:
            self.ack(device)

    def ack(self, device: str) -> None:
        seqs = sorted(s for d, s in self.stored if d == device)
        if seqs:
            self.client.publish(topics.hub_ack(device), self.seal(EventsAck(upto=seqs[-1])))


def _now():
    from datetime import UTC, datetime
    return datetime.now(UTC)


@pytest.fixture
def device_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def make_device(broker, pki, tmp_path, key, hub, device_id="door-1", **kw) -> DeviceLink:
    kw.setdefault("resend_s", 1.0)
    return DeviceLink(device_id, kind="controller", private_key=key, hub_key=hub.key.public_key(),
                      broker=make_broker_config(broker, pki, device_id), state_dir=tmp_path / device_id, **kw)


def granted(n: int) -> AccessGranted:
    return AccessGranted(door="door-1", cred=f"{n:064x}", holder="S1")


def test_signed_event_round_trips_and_is_acked(mosquitto, pki, tmp_path, device_key) -> None:
    hub = HubPeer(make_broker_config(mosquitto, pki, "hub"), {"door-1": device_key.public_key()})
    hub.client.start()
    assert hub.client.wait_connected(5)
    dev = make_device(mosquitto, pki, tmp_path, device_key, hub)
    dev.start()
    assert dev.client.wait_connected(5)
    seq = dev.send_event(granted(1))
    assert wait_for(lambda: ("door-1", seq) in hub.stored)
    env = open_envelope(hub.stored[("door-1", seq)], {"door-1": device_key.public_key()})
    assert env.body == granted(1)
    assert wait_for(lambda: dev.outbox.depth() == 0)
    dev.stop()
    hub.client.stop()


def test_device_drops_bad_messages_from_the_hub(mosquitto, pki, tmp_path, device_key) -> None:
    hub = HubPeer(make_broker_config(mosquitto, pki, "hub"), {})
    hub.client.start()
    assert hub.client.wait_connected(5)
    dev = make_device(mosquitto, pki, tmp_path, device_key, hub)
    got: list = []
    dev.on_acl(got.append)
    dev.start()
    assert dev.client.wait_connected(5)
    time.sleep(0.2)  # let the subscription settle
    topic = topics.acl("door-1")
    good = hub.seal(AclDelta(from_version=1, to_version=2))
    impostor = Signer("hub", Ed25519PrivateKey.generate()).seal(AclDelta(from_version=1, to_version=2),
                                                                seq=999, now=_now())
    import json
    tampered = json.loads(hub.seal(AclDelta(from_version=2, to_version=3)))
    tampered["body"]["to_version"] = 30
    unsigned = json.loads(hub.seal(AclDelta(from_version=2, to_version=3)))
    del unsigned["sig"]
    wrong_sender = Signer("door-2", Ed25519PrivateKey.generate()).seal(AclDelta(from_version=1, to_version=2),
                                                                       seq=1000, now=_now())
    for payload in (good, good, impostor, canonical.dumps(tampered), canonical.dumps(unsigned),
                    wrong_sender, b"{not json", b"x" * 100):
        hub.client.publish(topic, payload).wait(5)
    assert wait_for(lambda: len(dev.dropped) >= 7)
    assert len(got) == 1 and got[0].body == AclDelta(from_version=1, to_version=2)
    reasons = [r for _, r in dev.dropped]
    assert reasons.count("replay") == 1
    assert reasons.count("bad_signature") == 2
    assert "bad_envelope" in reasons and "wrong_sender" in reasons and "bad_json" in reasons
    assert dev.client.connected.is_set()  # nothing raised into the loop
    dev.stop()
    hub.client.stop()


def test_broker_acl_confines_each_device_to_its_topics(mosquitto, pki, tmp_path) -> None:
    spy_got: list[Inbound] = []
    door2 = LinkClient(make_broker_config(mosquitto, pki, "door-2"))
    door2.subscribe(topics.acl("door-1"), spy_got.append)  # another device's ACL: refused
    door2.start()
    assert door2.wait_connected(5)
    refused = door2.publish(topics.events("door-1"), b"{}")
    assert not refused.wait(5) and "authori" in refused.reason.lower()
    assert not door2.publish(topics.acl("door-2"), b"{}").wait(5)  # cannot speak as the hub
    assert door2.publish(topics.events("door-2"), b"{}").wait(5)
    # Spoofing the client id does not help: the identity is the certificate's CN.
    spoof = LinkClient(make_broker_config(mosquitto, pki, "door-2", client_id="door-1"))
    spoof.start()
    assert spoof.wait_connected(5)
    assert not spoof.publish(topics.events("door-1"), b"{}").wait(5)
    hub = LinkClient(make_broker_config(mosquitto, pki, "hub"))
    hub.start()
    assert hub.wait_connected(5)
    hub.publish(topics.acl("door-1"), b"secret").wait(5)
    time.sleep(0.3)
    assert spy_got == []
    for client in (door2, spoof, hub):
        client.stop()


def test_unknown_certificate_is_refused(mosquitto, pki, tmp_path) -> None:
    from tests.support.pki import TestPki
    other_ca = TestPki(tmp_path / "rogue")
    ident = other_ca.client("door-1")
    from link.client import BrokerConfig
    config = BrokerConfig(host=mosquitto.host, port=mosquitto.port, client_id="door-1", ca_file=pki.ca_file,
                          cert_file=ident.cert, key_file=ident.key)
    client = LinkClient(config)
    with pytest.raises((ConnectionError, OSError, TimeoutError)):
        client.connect(timeout=3)


DEVICE_SCRIPT = """
import sys, time
from pathlib import Path
from link import keys
from link.client import BrokerConfig
from link.device import DeviceLink
from link.messages import AccessGranted
state, host, port, ca, cert, key, hubpub, n = sys.argv[1:9]
cfg = BrokerConfig(host=host, port=int(port), client_id="door-1", ca_file=Path(ca), cert_file=Path(cert),
                   key_file=Path(key), backoff_min_s=0.2, backoff_max_s=1)
dev = DeviceLink("door-1", kind="controller", private_key=keys.load_private(Path(state) / "device.key"),
                 hub_key=keys.load_public(Path(hubpub)), broker=cfg, state_dir=Path(state))
for i in range(int(n)):
    dev.send_event(AccessGranted(door="door-1", cred=f"{i:064x}", holder="S1"))
print("sent", flush=True)
import os; os._exit(0)   # die without a clean disconnect, like a pulled plug
"""


def test_outbox_survives_process_and_broker_restart(fresh_mosquitto, pki, tmp_path) -> None:
    broker = fresh_mosquitto
    state = tmp_path / "door-1"
    device_key = keys.generate(state / "device.key", state / "device.pub")
    hub = HubPeer(make_broker_config(broker, pki, "hub"), {"door-1": device_key.public_key()}, auto_ack=False)
    keys.write_public(tmp_path / "hub.pub", hub.key.public_key())
    hub.client.start()
    assert hub.client.wait_connected(5)
    ident = pki.client("door-1")

    # 1. The broker is down: a device process records 20 events and dies.
    broker.stop()
    out = subprocess.run([sys.executable, "-c", DEVICE_SCRIPT, str(state), broker.host, str(broker.port),
                          str(pki.ca_file), str(ident.cert), str(ident.key), str(tmp_path / "hub.pub"), "20"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    broker.start()
    assert hub.client.wait_connected(10) or wait_for(hub.client.connected.is_set, 10)

    # 2. A new device process starts from the same state and replays everything.
    dev = make_device(broker, pki, tmp_path, device_key, hub)
    assert dev.outbox.depth() == 20
    dev.start()
    assert wait_for(lambda: len(hub.stored) == 20, 15)
    assert dev.outbox.depth() == 20  # no application ack yet: nothing removed

    # 3. The broker restarts before the ack: the device replays again, the hub stores once.
    broker.stop()
    broker.start()
    assert wait_for(lambda: hub.received >= 40, 30), (hub.received, hub.client.connected.is_set(),
                                                       dev.client.connected.is_set(), hub.dropped)
    assert len(hub.stored) == 20
    assert dev.outbox.depth() == 20

    # 4. Only the hub's application ack empties the outbox.
    assert wait_for(lambda: hub.client.connected.is_set() and dev.client.connected.is_set(), 10)
    hub.ack("door-1")
    assert wait_for(lambda: dev.outbox.depth() == 0, 10)
    assert sorted(s for _, s in hub.stored) == sorted(set(s for _, s in hub.stored))
    dev.stop()
    hub.client.stop()


def test_last_will_reports_offline(mosquitto, pki, tmp_path, device_key) -> None:
    from link.messages import DeviceStatus
    from link.sequence import ReplayGuard
    statuses: list = []
    guard = ReplayGuard()
    watcher = LinkClient(make_broker_config(mosquitto, pki, "hub"))

    def on_status(msg: Inbound) -> None:
        if not msg.payload:
            return
        env = open_envelope(msg.payload, {"door-1": device_key.public_key()}, expect_sender="door-1")
        body = env.body
        assert isinstance(body, DeviceStatus)
        if guard.accept_status(env.sender, env.seq, online=body.state == "online", will_seq=body.will_seq):
            statuses.append(body.state)

    watcher.subscribe(topics.status("door-1"), on_status)
    watcher.start()
    assert watcher.wait_connected(5)
    hub = HubPeer(make_broker_config(mosquitto, pki, "hub", client_id="hub-2"), {})
    dev = make_device(mosquitto, pki, tmp_path, device_key, hub)
    dev.start()
    assert wait_for(lambda: statuses[-1:] == ["online"])
    dev.client.stop(clean=False)  # power cut: no DISCONNECT, the broker publishes the will
    assert wait_for(lambda: statuses[-1:] == ["offline"], 15)
    watcher.publish(topics.status("door-1"), b"", retain=True).wait(5)  # clear the retained will
    watcher.stop()


def test_thread_less_mode_runs_callbacks_on_the_test_stack(mosquitto, pki) -> None:
    got: list[Inbound] = []
    hub = LinkClient(make_broker_config(mosquitto, pki, "hub", client_id="hub-threadless"))
    hub.subscribe(topics.events("door-5"), got.append)
    hub.connect()
    door = LinkClient(make_broker_config(mosquitto, pki, "door-5"))
    door.connect()
    for _ in range(5):
        hub.loop(0.05)  # SUBACK
    delivery = door.publish(topics.events("door-5"), b"{}")
    for _ in range(40):
        door.loop(0.05)
        hub.loop(0.05)
        if got and delivery.done:
            break
    assert delivery.accepted
    assert [m.topic for m in got] == [topics.events("door-5")]
    assert threading.current_thread() is threading.main_thread()
    door.stop()
    hub.stop()


def test_revoked_certificate_cannot_connect(tmp_path, pki) -> None:
    from tests.support.mosquitto import Mosquitto
    pki.client("stolen-pi")
    pki.revoke("stolen-pi")
    broker = Mosquitto(tmp_path / "m", pki)
    broker.start()
    try:
        with pytest.raises((ConnectionError, OSError, TimeoutError)):
            LinkClient(make_broker_config(broker, pki, "stolen-pi")).connect(timeout=3)
        LinkClient(make_broker_config(broker, pki, "door-7")).connect(timeout=5)
    finally:
        broker.stop()
