"""Hub read paths: the master-list page (2,000 people, 10,000 keycards) and event search pages.

Server time is measured around the Flask test client's request (no network). Event search runs
over ``BENCH_EVENTS`` events (default 1,000,000; the issue's 10 million takes too long to load
on a development machine, so the figure names the size it was measured at). SQLite.
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

from sqlalchemy import insert  # noqa: E402

EVENTS = int(os.environ.get("BENCH_EVENTS", "1000000"))


def figure(name: str, value: float, unit: str, target: float | None) -> None:
    print(json.dumps({"name": name, "value": round(value, 1), "unit": unit, "target": target,
                      "better": "lower"}), flush=True)


def timed(client, url: str, runs: int = 15) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get(url)
        samples.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (url, r.status_code)
    samples.sort()
    return statistics.median(samples), samples[-1]


def main() -> int:
    from hub.auth import passwords, totp
    from hub.auth import services as auth_services
    from hub.db import get_database
    from hub.keyring import get_keyring
    from hub.models import Event, Keycard, Person
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
                 "status": "active", "company": "", "has_dpa": False, "can_escort": False,
                 "created_at": now, "updated_at": now} for i in range(2000)])
            ids = [r[0] for r in s.execute(Person.__table__.select().with_only_columns(
                Person.__table__.c.id))]
            s.execute(insert(person_buildings), [{"person_id": i, "building_id": "big"}
                                                 for i in ids])
            s.execute(insert(Keycard), [
                {"building_id": "big", "person_id": ids[n % len(ids)],
                 "cred_hash": f"{n:064x}", "status": "active", "label": "", "issued_at": now,
                 "approved_by": "principal", "issued_by": "bench"} for n in range(10_000)])
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
        p50, worst = timed(client, "/buildings/big")
        print(f"master list, 2,000 people and 10,000 keycards: median {p50:.0f} ms, "
              f"worst {worst:.0f} ms", flush=True)
        figure("hub master-list page, 2,000 people / 10,000 keycards, median", p50, "ms", 200)

        t = time.perf_counter()
        batch = 50_000
        with db.session() as s:
            for start in range(0, EVENTS, batch):
                s.execute(insert(Event), [
                    {"device_id": f"ctl-{n % 50}", "seq": n, "type": "access.granted"
                     if n % 7 else "access.denied", "at": now - timedelta(seconds=EVENTS - n),
                     "received_at": now, "building_id": "big", "door_id": f"door-{n % 50}",
                     "holder": f"E{n % 2000:05d}", "cred": None,
                     "reason": None if n % 7 else "outside_schedule", "severity": "info",
                     "body": {}} for n in range(start, min(EVENTS, start + batch))])
        print(f"loaded {EVENTS:,} events in {time.perf_counter() - t:.0f} s", flush=True)
        from hub.auth import services as svc

        with db.session() as s:
            _t, raw = svc.create_api_token(s, svc.console_actor("bench"), name="bench",
                                           role="principal", buildings=["big"], actions=None,
                                           days=1, max_days=365, now=datetime.now(UTC))
        h = {"Authorization": f"Bearer {raw}"}
        api = app.test_client()

        def api_timed(url: str) -> float:
            samples = []
            for _ in range(10):
                t0 = time.perf_counter()
                r = api.get(url, headers=h)
                samples.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, r.json
            return statistics.median(samples)

        first = api.get("/api/v1/events?limit=100", headers=h).json
        cursor = first["next_cursor"]
        cases = {
            "newest 100": "/api/v1/events?limit=100",
            "next page by cursor": f"/api/v1/events?limit=100&cursor={cursor}",
            "one door": "/api/v1/events?limit=100&door=door-7",
            "one holder": "/api/v1/events?limit=100&holder=E00042",
            "a day, one building": "/api/v1/events?limit=100&building=big&since="
                                   + (now - timedelta(days=1)).isoformat().replace("+00:00", "Z"),
        }
        worst_case = 0.0
        for label, url in cases.items():
            ms = api_timed(url)
            worst_case = max(worst_case, ms)
            print(f"event search over {EVENTS:,}: {label}: median {ms:.0f} ms", flush=True)
        figure(f"hub event search page over {EVENTS:,} events, slowest filter (median)",
               worst_case, "ms", 300)
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
