"""Hub event ingestion: events/s stored exactly once, durable commits, SQLite and PostgreSQL.

Two measurements per backend:
* ``pipeline``: the bridge's own ingest loop (its queue, worker processes opening one batch while
  the last is stored, insert once, advance acks, commit) fed pre-sealed payloads, shuffled,
  10 % duplicates;
* ``mqtt``: end to end through a real Mosquitto (TLS), the devices' publishers in a process of
  their own sending as fast as QoS 1 lets them and re-sending what is not stored, like an outbox,
  until every event is in the database.
Each prints events/s and the CPU the hub spent per event (its process and its worker processes,
so a figure that does not depend on what else the machine is running), and the load average.
A micro-benchmark first prints one Ed25519 check by OpenSSL (cryptography) and by libsodium.
Prints human lines and one JSON line per figure.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import threading
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
from hub.ingest_pool import SodiumKey  # noqa: E402
from link.client import LinkClient  # noqa: E402
from hub.db import Database  # noqa: E402
from hub.keyring import Keyring, Vault  # noqa: E402
from hub.models import Event  # noqa: E402
from hub.services import buildings, devices  # noqa: E402

TARGET = 5000.0
DEVICES = 8
PIPELINE_EVENTS = 40_000
MQTT_EVENTS = 24_000
#: a device re-sends what the hub has not acked this often (link.device.DeviceLink.resend_s)
RESEND_S = 15.0


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


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def _proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds of this process and of the bridge's worker processes, from now on."""

    def __init__(self, bridge: Bridge) -> None:
        # NOTE: worker processes are read in /proc while they run: RUSAGE_CHILDREN would add
        # their start-up (imports) too, which a running hub does not pay per event.
        self.pids = list(bridge._pool._executor._processes)
        self.start = self._now()

    def _now(self) -> tuple[float, float]:
        me = resource.getrusage(resource.RUSAGE_SELF)
        return me.ru_utime + me.ru_stime, sum(_proc_cpu_s(pid) for pid in self.pids)

    def used(self) -> tuple[float, float]:
        """(this process, its worker processes) since the meter started."""
        now = self._now()
        return now[0] - self.start[0], now[1] - self.start[1]


def verify_micro() -> None:
    key = Ed25519PrivateKey.generate()
    data = b"x" * 300
    sig = key.sign(data)
    for name, verifier in (("OpenSSL (cryptography)", key.public_key()),
                           ("libsodium (PyNaCl)", SodiumKey(key.public_key().public_bytes_raw()))):
        n = 3000
        started = time.process_time()
        for _ in range(n):
            verifier.verify(sig, data)
        us = (time.process_time() - started) / n * 1e6
        print(f"Ed25519 verify, {name}: {us:.0f} us CPU", flush=True)
        figure(f"hub ingest Ed25519 verify, {name}", us, "us CPU", None, "lower")


def pipeline(label: str, url: str) -> None:
    db, keys = setup(url)
    payloads = sealed(keys, PIPELINE_EVENTS)
    dupes = random.Random(1).sample(payloads, len(payloads) // 10)
    stream = payloads + dupes
    random.Random(2).shuffle(stream)
    bridge = Bridge(db, keyring(), BrokerConfig(host="127.0.0.1", port=1, client_id="bench"),
                    gap_settle_s=3600)
    bridge._pool.start()  # worker processes up before the clock starts, as in a running hub
    items = [_Item(topics.Kind.EVENTS, d, p, False, time.monotonic()) for d, _s, p in stream]
    cpu = CpuMeter(bridge)
    started = time.perf_counter()
    for item in items:  # what paho's thread does, all at once: the loop drains it in batches
        bridge._queue.put(item)
    loop = threading.Thread(target=bridge._ingest_loop, name="bench-ingest")
    loop.start()
    while bridge.stats.events_stored + bridge.stats.events_duplicate < len(items):
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    cpu_main, cpu_workers = cpu.used()
    bridge._stop.set()
    loop.join()
    bridge.stop()
    cpu_s = cpu_main + cpu_workers
    total, distinct = stored(db)
    assert total == distinct == len(payloads), (total, distinct, len(payloads))
    assert bridge.stats.events_stored == len(payloads)
    assert bridge.stats.events_duplicate == len(dupes)
    rate = len(items) / elapsed
    print(f"{label} pipeline: {len(items)} messages ({len(dupes)} duplicates) in {elapsed:.2f} s"
          f" = {rate:.0f}/s in {bridge.stats.batches} batches; stored {total}, each once; "
          f"hub CPU {cpu_s / len(items) * 1e6:.0f} us/event (bridge process "
          f"{cpu_main / len(items) * 1e6:.0f}, worker processes "
          f"{cpu_workers / len(items) * 1e6:.0f}); {load()}", flush=True)
    figure(f"hub ingest {label} pipeline (verify+store+ack, durable)", rate, "events/s", TARGET,
           "higher")
    figure(f"hub ingest {label} pipeline, hub CPU per event", cpu_s / len(items) * 1e6,
           "us CPU", None, "lower")
    db.dispose()


def publish_all(cfgs: dict[str, BrokerConfig], payloads: list[tuple[str, int, bytes]],
                url: str, go: multiprocessing.Event, started_at) -> None:
    """The devices, in a process of their own: send everything, then re-send what is not stored."""
    db = Database(url)
    pubs = {}
    for dev_id, cfg in cfgs.items():
        client = LinkClient(cfg)
        client.start()
        assert client.wait_connected(10)
        pubs[dev_id] = client
    go.wait()
    started_at.value = time.time()
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
        if time.monotonic() - last_resend > RESEND_S:
            # what a device's outbox does: send again whatever the hub has not stored
            last_resend = time.monotonic()
            with db.session() as s:
                have = set(s.execute(select(Event.device_id, Event.seq)).all())
            for dev_id, seq, payload in payloads:
                if (dev_id, seq) not in have:
                    pubs[dev_id].publish(topics.events(dev_id), payload)
    for client in pubs.values():
        client.stop()
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
    bridge._pool.start()
    bridge.start()
    assert bridge.client.wait_connected(10)
    payloads = sealed(keys, MQTT_EVENTS)
    ctx = multiprocessing.get_context("spawn")
    go, started_at = ctx.Event(), ctx.Value("d", 0.0)
    devices_proc = ctx.Process(target=publish_all, name="bench-devices",
                               args=({d: cfg(d) for d in keys}, payloads, url, go, started_at))
    devices_proc.start()
    time.sleep(3)  # the devices connect
    cpu_self = time.process_time()
    go.set()
    deadline = time.monotonic() + 180
    while stored(db)[0] < len(payloads) and time.monotonic() < deadline:
        time.sleep(0.02)
    done = time.time()
    devices_proc.join(30)
    bridge.stop()
    cpu_s = time.process_time() - cpu_self  # the hub process only (workers counted below)
    elapsed = done - started_at.value
    total, distinct = stored(db)
    rate = total / elapsed
    print(f"{label} mqtt: {total}/{len(payloads)} events in {elapsed:.2f} s = {rate:.0f}/s, "
          f"each once: {total == distinct}; the hub received {bridge.stats.events_received} "
          f"(re-sends included) in {bridge.stats.batches} batches; bridge process CPU (without its workers) "
          f"{cpu_s / max(total, 1) * 1e6:.0f} us/event; {load()}", flush=True)
    figure(f"hub ingest {label} end-to-end over Mosquitto TLS", rate, "events/s", TARGET, "higher")
    broker.stop()
    db.dispose()


def main() -> int:
    from tests.hub.postgres import PostgresServer, PostgresUnavailable

    print(f"{os.cpu_count()} cores; {load()}", flush=True)
    verify_micro()
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
