"""Hub event ingestion: events/s stored exactly once, durable commits, SQLite and PostgreSQL.

Two measurements per backend:
* ``pipeline``: the bridge's own batch path (verify Ed25519, insert once, advance acks, commit)
  fed pre-sealed payloads, duplicates included;
* ``mqtt``: end to end through a real Mosquitto (TLS), publishers sending as fast as QoS 1 lets
  them, until every event is in the database.
Prints human lines and one JSON line per figure.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from link import keys as link_keys  # noqa: E402
from link import messages as m  # noqa: E402
from link import topics  # noqa: E402
from link.client import BrokerConfig  # noqa: E402
from link.envelope import Signer  # noqa: E402
from hub.bridge import Bridge, _Item  # noqa: E402
from link.client import LinkClient  # noqa: E402
from hub.db import Database  # noqa: E402
from hub.keyring import Keyring, Vault  # noqa: E402
from hub.models import Event  # noqa: E402
from hub.services import buildings, devices  # noqa: E402

TARGET = 5000.0
DEVICES = 8
PIPELINE_EVENTS = 40_000
MQTT_EVENTS = 24_000


def figure(name: str, value: float, unit: str, target: float | None, better: str) -> None:
    print(json.dumps({"name": name, "value": round(value, 1), "unit": unit, "target": target,
                      "better": better}), flush=True)


def setup(url: str) -> tuple[Database, dict[str, Ed25519PrivateKey]]:
    db = Database(url)
    db.create_all()
    now = datetime.now(UTC)
    keys = {f"ctl-{i}": Ed25519PrivateKey.generate() for i in range(DEVICES)}
    with db.session() as s:
        buildings.create_building(s, building_id="bench", name="Bench", tz="UTC", actor="bench",
                                  now=now)
        for dev_id, key in keys.items():
            devices.register(s, device_id=dev_id, kind="controller", building_id="bench",
                             public_key_pem=link_keys.public_pem(key.public_key()),
                             cert_serial="", actor="bench", now=now)
    return db, keys


def sealed(keys: dict[str, Ed25519PrivateKey], total: int) -> list[tuple[str, int, bytes]]:
    now = datetime.now(UTC)
    per = total // len(keys)
    out = []
    for dev_id, key in keys.items():
        signer = Signer(dev_id, key)
        for seq in range(1, per + 1):
            body = m.AccessGranted(door=dev_id, cred=f"{seq:064x}", holder="S1")
            out.append((dev_id, seq, signer.seal(body, seq=seq, now=now)))
    return out


def keyring() -> Keyring:
    return Keyring(site_key=b"k" * 32, vault=Vault(b"v" * 32), hub_key=Ed25519PrivateKey.generate())


def stored(db: Database) -> tuple[int, int]:
    with db.session() as s:
        total = s.scalar(select(func.count()).select_from(Event))
        distinct = s.scalar(select(func.count()).select_from(
            select(Event.device_id, Event.seq).distinct().subquery()))
    return total, distinct


def pipeline(label: str, url: str) -> None:
    db, keys = setup(url)
    payloads = sealed(keys, PIPELINE_EVENTS)
    dupes = random.Random(1).sample(payloads, len(payloads) // 10)
    stream = payloads + dupes
    random.Random(2).shuffle(stream)
    bridge = Bridge(db, keyring(), BrokerConfig(host="127.0.0.1", port=1, client_id="bench"),
                    gap_settle_s=3600)
    items = [_Item(topics.Kind.EVENTS, d, p, False, time.monotonic()) for d, _s, p in stream]
    started = time.perf_counter()
    for i in range(0, len(items), 1000):
        bridge.process(items[i:i + 1000])
    elapsed = time.perf_counter() - started
    total, distinct = stored(db)
    assert total == distinct == len(payloads), (total, distinct, len(payloads))
    rate = len(items) / elapsed
    print(f"{label} pipeline: {len(items)} messages ({len(dupes)} duplicates) in {elapsed:.2f} s"
          f" = {rate:.0f}/s; stored {total}, each once", flush=True)
    figure(f"hub ingest {label} pipeline (verify+store+ack, durable)", rate, "events/s", TARGET,
           "higher")
    bridge.stop()
    db.dispose()


def mqtt(label: str, url: str, root: Path) -> None:
    from tests.support.mosquitto import Mosquitto
    from tests.support.pki import TestPki

    db, keys = setup(url)
    pki = TestPki(root / "pki")
    broker = Mosquitto(root / "broker", pki)
    # A hub slower than its publishers for a moment must not lose QoS 1 messages at the broker
    # (Mosquitto's default keeps 1000 per client, then drops): production sets this too.
    conf = root / "broker" / "mosquitto.conf"
    conf.write_text(conf.read_text() + "max_queued_messages 1000000\n")
    broker.start()

    def cfg(identity: str) -> BrokerConfig:
        ident = pki.client(identity)
        return BrokerConfig(host=broker.host, port=broker.port, client_id=identity,
                            ca_file=pki.ca_file, cert_file=ident.cert, key_file=ident.key)

    bridge = Bridge(db, keyring(), cfg("hub"), gap_settle_s=3600)
    bridge.start()
    assert bridge.client.wait_connected(10)
    pubs = {}
    for dev_id in keys:
        client = LinkClient(cfg(dev_id))
        client.start()
        assert client.wait_connected(10)
        pubs[dev_id] = client
    payloads = sealed(keys, MQTT_EVENTS)
    time.sleep(0.5)
    started = time.perf_counter()
    pending = []
    for dev_id, _seq, payload in payloads:
        while True:
            delivery = pubs[dev_id].publish(topics.events(dev_id), payload)
            if delivery.sent:
                pending.append(delivery)
                break
            time.sleep(0.001)  # paho's queue is full: let the network thread drain it
        if len(pending) > 2000:
            pending = [d for d in pending if not d.done]
    deadline = time.monotonic() + 120
    last_resend = time.monotonic()
    while stored(db)[0] < len(payloads) and time.monotonic() < deadline:
        time.sleep(0.05)
        if time.monotonic() - last_resend > 5:
            # what a device's outbox does: send again whatever the hub has not stored
            last_resend = time.monotonic()
            with db.session() as s:
                have = set(s.execute(select(Event.device_id, Event.seq)).all())
            for dev_id, seq, payload in payloads:
                if (dev_id, seq) not in have:
                    pubs[dev_id].publish(topics.events(dev_id), payload)
    elapsed = time.perf_counter() - started
    total, distinct = stored(db)
    rate = total / elapsed
    print(f"{label} mqtt: {total}/{len(payloads)} events in {elapsed:.2f} s = {rate:.0f}/s, "
          f"each once: {total == distinct}", flush=True)
    figure(f"hub ingest {label} end-to-end over Mosquitto TLS", rate, "events/s", TARGET, "higher")
    for client in pubs.values():
        client.stop()
    bridge.stop()
    broker.stop()
    db.dispose()


def main() -> int:
    from tests.hub.postgres import PostgresServer, PostgresUnavailable

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pipeline("sqlite", f"sqlite:///{root}/ingest-a.db")
        mqtt("sqlite", f"sqlite:///{root}/ingest-b.db", root / "m1")
        try:
            server = PostgresServer(durable=True).start()
        except PostgresUnavailable as exc:
            print(f"postgresql skipped: {exc}")
            return 0
        try:
            pipeline("postgresql", server.create_database("ingest_a"))
            mqtt("postgresql", server.create_database("ingest_b"), root / "m2")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
