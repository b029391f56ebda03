"""Hub read paths: the master-list page of a building with 2,000 people and 10,000 keycards.

Server time is measured around the Flask test client's request (no network), SQLite. The page
is paged and searchable (100 rows a table); the slowest of its views is the figure. The print
view and the CSV export (the whole list, rarely used) are printed for information. Event search
over 10 million events is ``bench/hub_search.py``.
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

from sqlalchemy import insert  # noqa: E402

def figure(name: str, value: float, unit: str, target: float | None) -> None:
    print(json.dumps({"name": name, "value": round(value, 1), "unit": unit, "target": target,
                      "better": "lower"}), flush=True)


CPU = {}  # url -> median CPU ms of this process per request (less sensitive to a busy machine)


def timed(client, url: str, runs: int = 15) -> tuple[float, float]:
    samples, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        r = client.get(url)
        samples.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        assert r.status_code == 200, (url, r.status_code)
    samples.sort()
    CPU[url] = statistics.median(cpu)
    return statistics.median(samples), samples[-1]


def main() -> int:
    from hub.auth import passwords, totp
    from hub.auth import services as auth_services
    from hub.db import get_database
    from hub.keyring import get_keyring
    from hub.models import Keycard, KeyHolding, Person, PhysicalKey, Secret, SecretHolding
    from hub.models.people import person_buildings
    from hub.services import buildings
    from tests.hub.auth.conftest import HttpsClient, mint_session
    from tests.hub.conftest import make_test_app

    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        app = make_test_app(f"sqlite:///{root}/hub.db", root)
        app.test_client_class = HttpsClient
        db = get_database(app)
        with db.session() as s:
            buildings.create_building(s, building_id="big", name="Big High", tz="UTC",
                                      actor="bench", now=now)
            s.execute(insert(Person), [
                {"staff_id": f"E{i:05d}", "name": f"Employee {i}", "kind": "staff", "title": "",
                 "status": "on_leave" if i % 20 == 7 else "active", "company": "",
                 "has_dpa": False, "can_escort": False,
                 "created_at": now, "updated_at": now} for i in range(2000)])
            ids = [r[0] for r in s.execute(Person.__table__.select().with_only_columns(
                Person.__table__.c.id))]
            s.execute(insert(person_buildings), [{"person_id": i, "building_id": "big"}
                                                 for i in ids])
            s.execute(insert(Keycard), [
                {"building_id": "big", "person_id": ids[n % len(ids)],
                 "cred_hash": f"{n:064x}", "status": "revoked" if n % 10 == 3 else "active",
                 "label": "", "issued_at": now, "approved_by": "principal", "issued_by": "bench",
                 "ended_at": now if n % 10 == 3 else None} for n in range(10_000)])
            # 150 key types with 1,500 copies out, 30 codes known by 600 people in all
            s.execute(insert(PhysicalKey), [
                {"building_id": "big", "mark": f"K-{k:03d}", "opens": f"room {k}, room {k + 1}",
                 "copies": 12, "records_room": k % 10 == 0, "created_at": now}
                for k in range(150)])
            key_ids = [r[0] for r in s.execute(PhysicalKey.__table__.select().with_only_columns(
                PhysicalKey.__table__.c.id))]
            s.execute(insert(KeyHolding), [
                {"key_id": key_ids[n % 150], "person_id": ids[(n * 7) % len(ids)],
                 "status": "issued", "issued_at": now, "approved_by": "principal",
                 "issued_by": "bench"} for n in range(1500)])
            s.execute(insert(Secret), [
                {"building_id": "big", "kind": "keypad_code", "label": f"Panel {k}",
                 "ciphertext": b"x", "created_at": now, "changed_at": now} for k in range(30)])
            secret_ids = [r[0] for r in s.execute(Secret.__table__.select().with_only_columns(
                Secret.__table__.c.id))]
            s.execute(insert(SecretHolding), [
                {"secret_id": secret_ids[n % 30], "person_id": ids[(n * 13) % len(ids)],
                 "issued_at": now, "approved_by": "principal"} for n in range(600)])
            _inv, tok = auth_services.create_invitation(
                s, auth_services.console_actor("bench"), username="benchpr",
                display_name="Bench", role="principal", buildings=["big"], now=now, ttl_s=3600)
            account = auth_services.activate_invitation(
                s, tok, password_hash=passwords.hash_password("violet cabinet mossy ladder"),
                totp_secret=totp.new_secret(), totp_step=0, now=now,
                vault=get_keyring(app).vault)
            account_id = account.id
        client = app.test_client()
        mint_session(app, client, account_id, datetime.now(UTC))
        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            import pstats

            cProfile.runctx('client.get("/buildings/big")', globals(), locals(), "/tmp/ml.out")
            pstats.Stats("/tmp/ml.out").sort_stats("tottime").print_stats(15)
        cases = {
            "first page": "/buildings/big",
            "search by name": "/buildings/big?q=employee+1234",
            "search by staff id": "/buildings/big?q=E01999",
            "page 50 of every status": "/buildings/big?status=all&page=50&ppage=10",
            "people on leave": "/buildings/big?pstatus=on_leave",
        }
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
        slowest = slowest_cpu = 0.0
        for label, url in cases.items():
            p50, worst = timed(client, url)
            slowest, slowest_cpu = max(slowest, p50), max(slowest_cpu, CPU[url])
            print(f"master list, 2,000 people and 10,000 keycards, {label}: median {p50:.0f} ms, "
                  f"worst {worst:.0f} ms, CPU {CPU[url]:.0f} ms", flush=True)
        figure("hub master-list page, 2,000 people / 10,000 keycards, slowest view (median)",
               slowest, "ms", 200)
        figure("hub master-list page, 2,000 people / 10,000 keycards, slowest view (median CPU)",
               slowest_cpu, "ms", None)
        for label, url in (("print view (whole list)", "/buildings/big/master-list/print"),
                           ("CSV export (whole list)", "/buildings/big/master-list.csv")):
            p50, worst = timed(client, url, runs=5)
            print(f"master list {label}: median {p50:.0f} ms, worst {worst:.0f} ms", flush=True)
            figure(f"hub master-list {label}, 10,000 keycards (median)", p50, "ms", None)
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
