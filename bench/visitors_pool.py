"""Pool visitor cards (ADR 0003): from staff lending a card to every door knowing it, and from the
visitor signing out to every door confirming the revocation.

A real Mosquitto (TLS), the hub's bridge as in production on SQLite, a kiosk on the real
DeviceLink asking through :class:`kiosk.hublink.LinkGateway`, and ``BENCH_DOORS`` simulated
controllers (:class:`tests.hub.simdevice.SimController`) whose doors are all in the visitor
group. For each of ``BENCH_LOANS`` visits: sign in, lend a card, sign out. Prints human lines
and JSON figures. The door-side times are when each controller applied the version; the
confirmation time is when the hub's database showed every door confirmed (polled every 5 ms).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from hub.bridge import Bridge  # noqa: E402
from hub.db import Database  # noqa: E402
from hub.keyring import Keyring, Vault  # noqa: E402
from hub.models import Device  # noqa: E402
from hub.services import buildings, devices  # noqa: E402
from hub.services.buildings import DoorSpec  # noqa: E402
from hub.visitors import pool, services  # noqa: E402
from hub.visitors.models import VisitRecord  # noqa: E402
from hub.visitors.pool_models import PoolAssignment  # noqa: E402
from kiosk.hublink import LinkGateway  # noqa: E402
from link import keys as link_keys  # noqa: E402
from link import visits as wire  # noqa: E402
from link.client import BrokerConfig  # noqa: E402
from link.device import DeviceLink  # noqa: E402

DOORS = int(os.environ.get("BENCH_DOORS", "20"))
LOANS = int(os.environ.get("BENCH_LOANS", "20"))


def figure(name: str, value: float, unit: str, target: float | None = None) -> None:
    print(json.dumps({"name": name, "value": round(value, 1), "unit": unit, "target": target,
                      "better": "lower"}), flush=True)


def _p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


def main() -> int:
    from tests.hub.simdevice import SimController
    from tests.support.mosquitto import Mosquitto
    from tests.support.pki import TestPki

    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db = Database(f"sqlite:///{root}/hub.db")
        db.create_all()
        ring = Keyring(site_key=b"s" * 32, vault=Vault(b"v" * 32), hub_key=Ed25519PrivateKey.generate())
        keys = {f"ctl-{i:03d}": Ed25519PrivateKey.generate() for i in range(DOORS)}
        kiosk_key = Ed25519PrivateKey.generate()
        with db.session() as s:
            buildings.create_building(s, building_id="bench", name="Bench", tz="UTC", actor="bench", now=now)
            for dev_id, key in keys.items():
                devices.register(s, device_id=dev_id, kind="controller", building_id="bench",
                                 public_key_pem=link_keys.public_pem(key.public_key()), cert_serial="",
                                 actor="bench", now=now)
                buildings.save_door(s, "bench", DoorSpec(f"door-{dev_id[4:]}", dev_id, "office", device_id=dev_id,
                                                         visitor_policy="allow"), actor="bench", now=now)
            devices.register(s, device_id="kiosk-1", kind="kiosk", building_id="bench",
                             public_key_pem=link_keys.public_pem(kiosk_key.public_key()), cert_serial="",
                             actor="bench", now=now)
            buildings.save_group(s, "bench", slug="visitors", name="Visitors",
                                 door_ids=[f"door-{d[4:]}" for d in keys], windows=[], always=True,
                                 actor="bench", now=now)
            pool.configure(s, "bench", enabled=True, group_slug="visitors", actor="bench", now=now)
            for n in range(1, LOANS + 1):
                pool.enrol_card(s, ring.site_key, building_id="bench", number=n, uid_text=f"04B0{n:04X}",
                                approver="bench", actor="bench", now=now)
        pki = TestPki(root / "pki")
        broker = Mosquitto(root / "broker", pki)
        broker.start()

        def cfg(identity: str) -> BrokerConfig:
            ident = pki.client(identity)
            return BrokerConfig(host=broker.host, port=broker.port, client_id=identity, ca_file=pki.ca_file,
                                cert_file=ident.cert, key_file=ident.key, backoff_min_s=0.2, backoff_max_s=2.0)

        bridge = Bridge(db, ring, cfg("hub"))
        bridge.start()
        sims = [SimController(d, k, ring.hub_key.public_key(), cfg(d), root / d, resend_s=30.0).start()
                for d, k in keys.items()]
        link = DeviceLink("kiosk-1", kind="kiosk", private_key=kiosk_key, hub_key=ring.hub_key.public_key(),
                          broker=cfg("kiosk-1"), state_dir=root / "kiosk-1", resend_s=5.0)
        gateway = LinkGateway(link)
        link.start()
        try:
            link.client.wait_connected(10)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with db.session() as s:
                    behind = s.scalar(select(func.count()).select_from(Device).where(
                        Device.kind == "controller",
                        (Device.acl_acked.is_(None)) | (Device.acl_acked < Device.acl_version)))
                if behind == 0:
                    break
                time.sleep(0.05)
            print(f"{DOORS} controllers in sync; {LOANS} loans follow", flush=True)
            lend_rt, activated, out_rt, confirmed = [], [], [], []
            for n in range(1, LOANS + 1):
                visit = f"v-bench-{n:06d}"
                answer = gateway.request(wire.VisitSignIn(
                    corr=f"c-in-{n:08d}", visit=visit, token_sha256=services.token_hash(f"tok{n:021d}"),
                    category="visitor", first="Bench", last=f"V{n}", id_source="typed"), 10.0)
                assert answer is not None and answer.ok, answer
                with db.session() as s:  # whatever the hour, the loan outlives the run
                    s.get(VisitRecord, visit).expires_at = datetime.now(UTC) + timedelta(hours=2)
                started = time.monotonic()
                answer = gateway.request(wire.PoolAssign(corr=f"c-lend-{n:06d}", visit=visit, card=n), 10.0)
                lend_rt.append((time.monotonic() - started) * 1000)
                assert answer is not None and answer.ok, answer
                with db.session() as s:
                    versions = s.scalars(select(PoolAssignment).where(PoolAssignment.visit_id == visit)).one().activated
                wait_until = time.monotonic() + 10
                while (any(int(versions[sim.device_id]) not in sim.applied_at for sim in sims)
                       and time.monotonic() < wait_until):
                    time.sleep(0.005)
                activated.append((max(sim.applied_at[int(versions[sim.device_id])] for sim in sims) - started) * 1000)
                started = time.monotonic()
                answer = gateway.request(wire.VisitSignOut(corr=f"c-out-{n:07d}", how="name", visit=visit), 10.0)
                out_rt.append((time.monotonic() - started) * 1000)
                assert answer is not None and answer.ok and answer.data.get("pool_card") == n, answer
                wait_until = time.monotonic() + 10
                while time.monotonic() < wait_until:
                    with db.session() as s:
                        loan = s.scalars(select(PoolAssignment).where(PoolAssignment.visit_id == visit)).one()
                        states = [d.state for d in pool.door_states(s, loan)]
                    if len(states) == DOORS and all(x == "confirmed" for x in states):
                        break
                    time.sleep(0.005)
                confirmed.append((time.monotonic() - started) * 1000)
        finally:
            link.stop()
            for sim in sims:
                sim.stop()
            bridge.stop()
            broker.stop()
    for label, values in (("lend request round trip (kiosk -> hub -> kiosk)", lend_rt),
                          (f"lend -> all {DOORS} doors applied the card", activated),
                          ("sign-out request round trip", out_rt),
                          (f"sign-out -> all {DOORS} doors confirmed the revocation at the hub", confirmed)):
        print(f"{label}: p50 {statistics.median(values):.0f} ms, p95 {_p(values, 0.95):.0f} ms, "
              f"max {max(values):.0f} ms", flush=True)
    figure(f"pool card: lend -> all {DOORS} doors active, p95", _p(activated, 0.95), "ms")
    figure(f"pool card: sign-out -> all {DOORS} doors confirmed, p95", _p(confirmed, 0.95), "ms")
    figure("pool card: lend request round trip, p95", _p(lend_rt, 0.95), "ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
