"""Termination to every door's ack: 200 simulated controllers on a real Mosquitto (TLS).

Each controller is a :class:`tests.hub.simdevice.SimController` on the real DeviceLink (signed
messages, outbox with its persisted counter, persisted replay guard: every fsync of a Pi), run
in worker processes of 50 (paho's ``select()`` limit), acking an applied version before it
publishes its status, in the order controller/service.py uses. The hub bridge runs as in
production, in this process. For each of several terminations the clock starts before the
service call and stops, per door, at the ``confirmed_at`` the bridge records for that door.

Besides the figures (p50, p99, max) it prints where the time goes, since on one machine the hub,
the broker and 200 controllers share the same cores: each stage in ms after the call started
(call committed, the door's delta published, applied by the controller, its ack received) and
the CPU each side spent per termination (hub with its helper processes, broker, controllers),
with the load average, so a run on a busy machine can be read for what it is.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from link import keys as link_keys  # noqa: E402
from link.client import BrokerConfig  # noqa: E402
from hub.bridge import Bridge  # noqa: E402
from hub.db import Database  # noqa: E402
from hub.keyring import Keyring, Vault  # noqa: E402
from hub.models import Device, RevocationDoor  # noqa: E402
from hub.services import buildings, credentials, devices, people, revocations  # noqa: E402
from hub.services.buildings import DoorSpec, Window  # noqa: E402

CONTROLLERS = int(os.environ.get("BENCH_CONTROLLERS", "200"))
TERMINATIONS = int(os.environ.get("BENCH_TERMINATIONS", "5"))
#: paho waits with select(), which cannot watch a descriptor above 1023, and each simulated
#: controller holds about nine (socket, wake-up pipe, two SQLite files with WAL): so the
#: controllers run in several processes of this many each.
PER_PROCESS = int(os.environ.get("BENCH_PER_PROCESS", "50"))


def worker(argv: list[str]) -> int:
    """Child process: run the simulated controllers named on the command line until stdin closes."""

    from link import keys as lk
    from link import messages as lm
    from tests.hub.simdevice import SimController

    class BenchController(SimController):
        """Acks an applied version before publishing its status, as controller/service.py does.

        Same writes (each message's sequence number is still persisted before it is sent),
        only in the production controller's order.
        """

        def _applied(self, version: int) -> None:
            self.version = version
            self.applied.append(version)
            self.applied_at[version] = time.monotonic()
            assert self.link is not None
            self.link.ack_acl(lm.AclApplied(version=version))
            self.link.publish_status(acl_version=version)

    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    root, host, port, ca, hub_pub, ids = argv
    sims = []
    for dev_id in ids.split(","):
        d = Path(root) / "dev" / dev_id
        cfg = BrokerConfig(host=host, port=int(port), client_id=dev_id, ca_file=Path(ca),
                           cert_file=Path(root) / "pki" / f"{dev_id}.crt",
                           key_file=Path(root) / "pki" / f"{dev_id}.key",
                           backoff_min_s=0.2, backoff_max_s=2.0)
        sims.append(BenchController(dev_id, lk.load_private(d / "device.pem"),
                                  lk.load_public(Path(hub_pub)), cfg, d, resend_s=30.0))
    for sim in sims:
        sim.start(timeout=60)
    print(f"ready {len(sims)}", flush=True)
    sys.stdin.read()
    # when each version was applied (CLOCK_MONOTONIC is one clock for every process)
    print(json.dumps({sim.device_id: sim.applied_at for sim in sims}), flush=True)
    for sim in sims:
        if sim.link is not None and (sim.link.dropped or sim.resyncs):
            print(f"{sim.device_id}: version {sim.version} applied {sim.applied[-4:]} "
                  f"resyncs {sim.resyncs} dropped {sim.link.dropped[-3:]}", file=sys.stderr)
    for sim in sims:
        sim.stop()
    return 0


def figure(name: str, value: float, unit: str, target: float | None) -> None:
    print(json.dumps({"name": name, "value": round(value, 1), "unit": unit, "target": target,
                      "better": "lower"}), flush=True)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def cpu_split(broker_pid: int, worker_pids: list[int]) -> dict[str, float]:
    """CPU seconds so far of the hub (this process and its helper processes, such as the
    bridge's ingest workers), of the broker, and of the simulated controllers."""
    helpers = [c for c in _children(os.getpid()) if c != broker_pid and c not in worker_pids]
    return {"hub": _cpu_s(os.getpid()) + sum(_cpu_s(c) for c in helpers),
            "broker": _cpu_s(broker_pid),
            "controllers": sum(_cpu_s(w) for w in worker_pids)}


def _pct(values: list[float]) -> str:
    values = sorted(values)
    if not values:
        return "n/a"
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    return f"p50 {statistics.median(values):6.0f}  p99 {p99:6.0f}  max {values[-1]:6.0f}"


def stages(runs: list[tuple[float, float, list[tuple[str, int]]]],
           sent_at: dict[str, list[float]], applied_at: dict[str, dict[str, float]],
           ack_at: dict[str, list[float]]) -> None:
    """Print where the time goes: each stage in ms after the terminate call started."""
    call: list[float] = []
    sent: list[float] = []
    applied: list[float] = []
    acked: list[float] = []
    for started, call_s, doors in runs:
        call.append(call_s * 1000)
        for device_id, version in doors:
            t_sent = min((t for t in sent_at.get(device_id, []) if t >= started), default=None)
            t_applied = applied_at.get(device_id, {}).get(str(version))
            t_ack = min((t for t in ack_at.get(device_id, [])
                         if t_applied is not None and t >= t_applied), default=None)
            for into, t in ((sent, t_sent), (applied, t_applied), (acked, t_ack)):
                if t is not None:
                    into.append((t - started) * 1000)
    print("stages, ms after the terminate call started (every door of every termination):")
    print(f"  terminate call committed        {_pct(call)}")
    print(f"  hub published the door's delta  {_pct(sent)}")
    print(f"  controller applied it           {_pct(applied)}")
    print(f"  its acl.applied reached the hub {_pct(acked)}", flush=True)
    for name, values in (("terminate call committed", call),
                         ("hub published the door's delta", sent),
                         ("controller applied the delta", applied)):
        if values:
            values.sort()
            figure(f"hub revocation stage: {name}, {CONTROLLERS} controllers, p99",
                   values[min(len(values) - 1, int(len(values) * 0.99))], "ms", None)


def main() -> int:
    from tests.support.mosquitto import Mosquitto
    from tests.support.pki import TestPki

    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db = Database(f"sqlite:///{root}/hub.db")
        db.create_all()
        ring = Keyring(site_key=b"s" * 32, vault=Vault(b"v" * 32),
                       hub_key=Ed25519PrivateKey.generate())
        keys = {f"ctl-{i:03d}": Ed25519PrivateKey.generate() for i in range(CONTROLLERS)}
        with db.session() as s:
            buildings.create_building(s, building_id="bench", name="Bench", tz="UTC",
                                      actor="bench", now=now)
            for dev_id, key in keys.items():
                devices.register(s, device_id=dev_id, kind="controller", building_id="bench",
                                 public_key_pem=link_keys.public_pem(key.public_key()),
                                 cert_serial="", actor="bench", now=now)
                buildings.save_door(s, "bench", DoorSpec(f"door-{dev_id[4:]}", dev_id,
                                                         "records_room", device_id=dev_id),
                                    actor="bench", now=now)
            buildings.save_group(s, "bench", slug="all", name="All doors",
                                 door_ids=[f"door-{d[4:]}" for d in keys],
                                 windows=[Window((0, 1, 2, 3, 4, 5, 6), "00:00", "24:00")],
                                 actor="bench", now=now)
            for n in range(TERMINATIONS):
                p = people.create_person(s, people.PersonSpec(staff_id=f"S{n}", name=f"P{n}",
                                                              buildings=["bench"]),
                                         actor="bench", now=now)
                people.set_groups(s, p, "bench", ["all"], actor="bench", now=now)
                credentials.enrol_card(s, ring.site_key, person=p, building_id="bench",
                                       uid_text=f"04A1B2{n:02X}", approver="bench",
                                       actor="bench", now=now)
        pki = TestPki(root / "pki")
        broker = Mosquitto(root / "broker", pki)
        broker.start()

        def cfg(identity: str) -> BrokerConfig:
            ident = pki.client(identity)
            return BrokerConfig(host=broker.host, port=broker.port, client_id=identity,
                                ca_file=pki.ca_file, cert_file=ident.cert, key_file=ident.key,
                                backoff_min_s=0.2, backoff_max_s=2.0)

        bridge = Bridge(db, ring, cfg("hub"))
        # Stage timestamps (bench-only taps, no change to what the bridge does): when each
        # ACL message left the hub, and when each device's acl.applied reached the bridge.
        sent_at: dict[str, list[float]] = {}
        ack_at: dict[str, list[float]] = {}
        publish, put = bridge.client.publish, bridge._queue.put

        def tapped_publish(topic: str, payload: bytes, **kw):
            delivery = publish(topic, payload, **kw)
            sent_at.setdefault(topic.split("/")[-2], []).append(time.monotonic())
            return delivery

        def tapped_put(item, *a, **kw):
            if item.kind.name == "DEV_ACK":
                ack_at.setdefault(item.device, []).append(item.mono)
            return put(item, *a, **kw)

        bridge.client.publish, bridge._queue.put = tapped_publish, tapped_put
        bridge.start()
        assert bridge.client.wait_connected(10)
        import subprocess

        hub_pub = root / "hub.pub"
        link_keys.write_public(hub_pub, ring.hub_key.public_key())
        for d, k in keys.items():
            link_keys.write_private(root / "dev" / d / "device.pem", k)
            cfg(d)  # issue its certificate
        ids = list(keys)
        t = time.monotonic()
        workers = []
        for start in range(0, len(ids), PER_PROCESS):
            workers.append(subprocess.Popen(
                [sys.executable, __file__, "--worker", str(root), broker.host, str(broker.port),
                 str(pki.ca_file), str(hub_pub), ",".join(ids[start:start + PER_PROCESS])],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        for proc in workers:
            line = proc.stdout.readline()
            if not line.startswith("ready"):
                raise RuntimeError(f"a controller process failed: {line!r}")
        print(f"{CONTROLLERS} controllers in {len(workers)} processes connected in "
              f"{time.monotonic() - t:.1f} s", flush=True)

        def synced() -> bool:
            with db.session() as s:
                behind = s.scalar(select(func.count()).select_from(Device).where(
                    (Device.acl_acked.is_(None)) | (Device.acl_acked < Device.acl_version)))
            return behind == 0

        deadline = time.monotonic() + 120
        while not synced() and time.monotonic() < deadline:
            time.sleep(0.2)
        print(f"every controller on the current ACL after {time.monotonic() - t:.1f} s",
              flush=True)
        # Start only once the bridge has been idle for 2 s: the tail of the start-up
        # (repeated statuses, duplicate snapshots) must not land in the first termination.
        quiet_since, batches = time.monotonic(), bridge.stats.batches
        while time.monotonic() - quiet_since < 2.0 and time.monotonic() < deadline:
            time.sleep(0.1)
            if bridge.stats.batches != batches:
                quiet_since, batches = time.monotonic(), bridge.stats.batches
        print(f"bridge idle after {time.monotonic() - t:.1f} s", flush=True)
        latencies: list[float] = []
        runs: list[tuple[float, float, list[tuple[str, int]]]] = []
        worker_pids = [proc.pid for proc in workers]
        cpu: dict[str, float] = {"hub": 0.0, "broker": 0.0, "controllers": 0.0}
        for n in range(TERMINATIONS):
            cpu_before = cpu_split(broker.proc.pid, worker_pids)
            started_wall = datetime.now(UTC)
            started = time.perf_counter()
            started_mono = time.monotonic()
            with db.session() as s:
                rev_id = revocations.terminate(s, people.get_person(s, f"S{n}"), actor="bench",
                                               now=started_wall).id
            bridge.notify()
            call_s = time.perf_counter() - started
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with db.session() as s:
                    left = s.scalar(select(func.count()).select_from(RevocationDoor).where(
                        RevocationDoor.revocation_id == rev_id,
                        RevocationDoor.confirmed_at.is_(None)))
                if left == 0:
                    break
                # NOTE: the figures come from the bridge's confirmed_at, not from this loop;
                # polling slowly keeps the bench's own queries out of the bridge's way.
                time.sleep(0.05)
            with db.session() as s:
                rows = list(s.scalars(select(RevocationDoor).where(
                    RevocationDoor.revocation_id == rev_id)))
            done = [(r.confirmed_at - started_wall).total_seconds() * 1000 for r in rows
                    if r.confirmed_at is not None]
            runs.append((started_mono, call_s, [(r.device_id, r.version) for r in rows]))
            latencies += done
            if len(done) < len(rows):
                import faulthandler

                faulthandler.dump_traceback(all_threads=True)
                with db.session() as s:
                    for dev in s.scalars(select(Device).where(Device.acl_acked < Device.acl_version)):
                        print(f"  behind: {dev.id} hub {dev.acl_version} applied {dev.acl_acked} "
                              f"online {dev.online}", flush=True)
            cpu_after = cpu_split(broker.proc.pid, worker_pids)
            used = {k: cpu_after[k] - cpu_before[k] for k in cpu}
            for k in cpu:
                cpu[k] += used[k]
            print(f"termination {n}: service call {call_s * 1000:.0f} ms; {len(done)}/{len(rows)} "
                  f"doors confirmed; slowest {max(done, default=float('nan')):.0f} ms; CPU "
                  + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in used.items()), flush=True)
            time.sleep(0.5)
        print(f"bridge: {bridge.stats}", flush=True)
        print(f"CPU per termination (terminate call to last confirmation, {os.cpu_count()} cores): "
              + ", ".join(f"{k} {v * 1000 / TERMINATIONS:.0f} ms" for k, v in cpu.items()),
              flush=True)
        with open("/proc/loadavg") as f:
            print(f"load average during the run: {' '.join(f.read().split()[:3])}", flush=True)
        figure(f"hub revocation: hub CPU per termination, {CONTROLLERS} doors",
               cpu["hub"] * 1000 / TERMINATIONS, "ms", None)
        figure(f"hub revocation: simulated controllers' CPU per termination, {CONTROLLERS} doors",
               cpu["controllers"] * 1000 / TERMINATIONS, "ms", None)
        latencies.sort()
        p50 = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"{len(latencies)} door confirmations: p50 {p50:.0f} ms, p99 {p99:.0f} ms, "
              f"max {latencies[-1]:.0f} ms", flush=True)
        figure(f"hub revocation to every door's ack, {CONTROLLERS} controllers, p50", p50, "ms",
               None)
        figure(f"hub revocation to every door's ack, {CONTROLLERS} controllers, p99", p99, "ms",
               1000)
        figure(f"hub revocation to every door's ack, {CONTROLLERS} controllers, max",
               latencies[-1], "ms", None)
        applied_at: dict[str, dict[str, float]] = {}
        for proc in workers:
            proc.stdin.close()
        for proc in workers:
            applied_at.update(json.loads(proc.stdout.readline()))
            proc.wait(timeout=60)
        stages(runs, sent_at, applied_at, ack_at)
        bridge.stop()
        broker.stop()
        db.dispose()
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        sys.exit(worker(sys.argv[2:]))
    sys.exit(main())
