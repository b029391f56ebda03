"""Hub event search: one page of ``GET /api/v1/events`` over 10 million stored events (SQLite).

The events are loaded by one ``INSERT .. SELECT`` from a recursive CTE inside SQLite (secondary
indexes dropped during the load and built afterwards, as a restore would), spread over a year:
20 buildings, 200 doors each with its controller, 20,000 card holders, one event every ~3 s.
Each case is timed around the Flask test client's request (server time, no network), as a
principal of one building (scope filter added by the API) and as the Data Privacy Team
(district-wide); ``EXPLAIN QUERY PLAN`` of each case's query is printed to show the index used.

    python bench/hub_search.py                 # 10,000,000 events (a few minutes to load)
    python bench/hub_search.py --events 1000000
    python bench/hub_search.py --db /tmp/ev.db # keep the loaded database and reuse it next time
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BUILDINGS, DOORS, HOLDERS, STEP_S = 20, 200, 20_000, 3


def figure(name: str, value: float, unit: str, target: float | None) -> None:
    print(json.dumps({"name": name, "value": round(value, 1), "unit": unit, "target": target,
                      "better": "lower"}), flush=True)


def load(db_path: Path, events: int, end: datetime) -> float:
    """Fill the events table with ``events`` rows ending at ``end``; returns the seconds taken."""
    start = end - timedelta(seconds=STEP_S * events)
    conn = sqlite3.connect(db_path, isolation_level=None)
    # A bulk load: no journal and no fsync (a crash means loading again); the hub's own writes
    # stay WAL + synchronous=FULL. In WAL mode every page would be written twice.
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    conn.execute("PRAGMA temp_store=MEMORY")
    t = time.perf_counter()
    indexes = [(name, sql) for name, sql in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name='events' "
        "AND sql IS NOT NULL")]
    conn.execute("BEGIN")
    for name, _sql in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    # n -> a building (n % 20), a door and its controller (n % 200), a holder (n % 20,000);
    # one event in 7 a denial, one in 11 a door opening; `at` STEP_S seconds apart.
    conn.execute(
        """
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :count)
        INSERT INTO events (device_id, seq, type, at, received_at, building_id, door_id, holder,
                            cred, reason, severity, body)
        SELECT 'ctl-' || (i % :doors), i / :doors + 1,
               CASE WHEN i % 11 = 0 THEN 'door.opened' WHEN i % 7 = 0 THEN 'access.denied'
                    ELSE 'access.granted' END,
               strftime('%Y-%m-%d %H:%M:%S', :start + i * :step, 'unixepoch') || '.000000',
               strftime('%Y-%m-%d %H:%M:%S', :start + i * :step + 1, 'unixepoch') || '.000000',
               'b-' || (i % :doors % :buildings), 'door-' || (i % :doors),
               CASE WHEN i % 11 = 0 THEN NULL ELSE printf('E%05d', i % :holders) END,
               NULL,
               CASE WHEN i % 11 != 0 AND i % 7 = 0 THEN 'outside_schedule' END,
               'info', '{}'
        FROM n
        """,
        {"count": events, "doors": DOORS, "buildings": BUILDINGS, "holders": HOLDERS,
         "start": int(start.timestamp()), "step": STEP_S})
    for _name, sql in indexes:
        conn.execute(sql)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    return time.perf_counter() - t


def insert_rate(root: Path, without: tuple[str, ...] = (), batches: int = 60,
                batch: int = 500) -> float:
    """Events/s of the ingest's kind of write (Core INSERT of 500 rows, one durable commit each)
    into a fresh hub database, optionally without some of the events indexes."""
    from sqlalchemy import insert

    from hub.db import Base, make_engine
    from hub.models import Event

    path = root / f"rate-{len(without)}.db"
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        for name in without:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
    now = datetime.now(UTC)
    t = time.perf_counter()
    for b in range(batches):
        with engine.begin() as conn:
            conn.execute(insert(Event), [
                {"device_id": f"ctl-{n % 200}", "seq": n, "type": "access.granted",
                 "at": now + timedelta(milliseconds=n), "received_at": now,
                 "building_id": f"b-{n % 20}", "door_id": f"door-{n % 200}",
                 "holder": f"E{n % 20000:05d}", "cred": None, "reason": None,
                 "severity": "info", "body": {}} for n in range(b * batch, (b + 1) * batch)])
    rate = batches * batch / (time.perf_counter() - t)
    engine.dispose()
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="rows to load")
    parser.add_argument("--db", type=Path, help="SQLite file to keep (reused if it has them)")
    parser.add_argument("--runs", type=int, default=7, help="requests per case (median)")
    args = parser.parse_args()
    if args.events < 10_000:
        parser.error("--events must be at least 10,000")

    from sqlalchemy import func, select

    from hub.auth import services as svc
    from hub.db import get_database
    from hub.models import Building, Device, Door, Event
    from hub.services import buildings, events
    from tests.hub.conftest import make_test_app

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db_path = args.db or root / "hub.db"
        app = make_test_app(f"sqlite:///{db_path}", root)
        db = get_database(app)
        with db.session() as s:
            have = s.scalar(select(func.count()).select_from(Event))
            newest = s.scalar(select(func.max(Event.at)))
        if have != args.events:
            if have:
                print(f"database has {have:,} events, not {args.events:,}: reload", flush=True)
                with db.session() as s:
                    s.execute(Event.__table__.delete())
            end = datetime.now(UTC).replace(microsecond=0)
            db.engine.dispose()  # no pooled connection may hold the file in WAL mode
            seconds = load(db_path, args.events, end)
            print(f"loaded {args.events:,} events in {seconds:.0f} s "
                  f"({args.events / seconds:,.0f} rows/s, indexes included)", flush=True)
            newest = end
        t = time.perf_counter()
        made = []
        with db.engine.connect() as conn:
            names = {r[0] for r in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='events'")}
        for ix in Event.__table__.indexes:
            if ix.name not in names:
                ix.create(db.engine)
                made.append(ix.name)
        if made:
            print(f"built {', '.join(made)} on the kept database in "
                  f"{time.perf_counter() - t:.0f} s", flush=True)
        print(f"database file: {db_path.stat().st_size / 1e9:.2f} GB", flush=True)
        now = datetime.now(UTC)
        with db.session() as s:
            for b in range(BUILDINGS):
                if s.get(Building, f"b-{b}") is None:
                    buildings.create_building(s, building_id=f"b-{b}", name=f"School {b}",
                                              tz="UTC", actor="bench", now=now)
            if s.get(Device, "ctl-0") is None:  # each door and its controller registered
                for d in range(DOORS):
                    s.add(Device(id=f"ctl-{d}", kind="controller",
                                 building_id=f"b-{d % BUILDINGS}", public_key_pem="",
                                 created_at=now))
                s.flush()
                for d in range(DOORS):
                    s.add(Door(id=f"door-{d}", building_id=f"b-{d % BUILDINGS}",
                               device_id=f"ctl-{d}", name=f"Door {d}", kind="office"))
            tokens = {}
            for label, role, scope in (("principal of b-3", "principal", ["b-3"]),
                                       ("privacy team", "privacy_team", [])):
                _t, raw = svc.create_api_token(s, svc.console_actor("bench"), name=role,
                                               role=role, buildings=scope, actions=None, days=1,
                                               max_days=365, now=now)
                tokens[label] = raw
        api = app.test_client()
        day = (newest - timedelta(days=1)).isoformat().replace("+00:00", "Z")
        month_ago = (newest - timedelta(days=30)).isoformat().replace("+00:00", "Z")
        month_end = (newest - timedelta(days=29)).isoformat().replace("+00:00", "Z")

        def get(url: str, who: str) -> dict:
            r = api.get(url, headers={"Authorization": f"Bearer {tokens[who]}"})
            assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[:300])
            return r.json

        first = get("/api/v1/events?limit=100", "privacy team")
        deep = first["next_cursor"]
        for _ in range(50):  # 50 pages in
            deep = get(f"/api/v1/events?limit=100&cursor={deep}", "privacy team")["next_cursor"]
        cases = [
            ("privacy team", "newest 100", "limit=100", {}),
            ("privacy team", "page 51 by cursor", f"limit=100&cursor={deep}",
             {"cursor": deep}),
            ("privacy team", "one door", "limit=100&door=door-7", {"door_id": "door-7"}),
            ("privacy team", "one holder", "limit=100&holder=E00042", {"holder": "E00042"}),
            ("privacy team", "one device", "limit=100&device=ctl-9", {"device_id": "ctl-9"}),
            ("privacy team", "denials only", "limit=100&type=access.denied",
             {"type": "access.denied"}),
            ("privacy team", "a type that never happened", "limit=100&type=door.forced",
             {"type": "door.forced"}),
            ("privacy team", "one holder, a day a month ago",
             f"limit=100&holder=E00042&since={month_ago}&until={month_end}",
             {"holder": "E00042", "since": month_ago, "until": month_end}),
            ("principal of b-3", "newest 100 (building scope)", "limit=100",
             {"buildings": frozenset({"b-3"})}),
            ("principal of b-3", "last day, one building", f"limit=100&building=b-3&since={day}",
             {"buildings": frozenset({"b-3"}), "since": day}),
            ("principal of b-3", "holder of another building (no match)",
             "limit=100&holder=E00042", {"buildings": frozenset({"b-3"}), "holder": "E00042"}),
            ("principal of b-3", "door of another building (no match)",
             "limit=100&door=door-7", {"buildings": frozenset({"b-3"}), "door_id": "door-7"}),
            ("principal of b-3", "one door of its building", "limit=100&door=door-23",
             {"buildings": frozenset({"b-3"}), "door_id": "door-23"}),
            ("principal of b-3", "denials in its building", "limit=100&type=access.denied",
             {"buildings": frozenset({"b-3"}), "type": "access.denied"}),
        ]
        slowest, slowest_label = 0.0, ""
        for who, label, query, kwargs in cases:
            url = f"/api/v1/events?{query}"
            get(url, who)  # warm the page cache for this case
            samples = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                body = get(url, who)
                samples.append((time.perf_counter() - t0) * 1000)
            ms = statistics.median(samples)
            if ms > slowest:
                slowest, slowest_label = ms, f"{label} ({who})"
            print(f"event search over {args.events:,}: {label} as {who}: median {ms:.1f} ms, "
                  f"worst {max(samples):.1f} ms, {len(body['events'])} rows", flush=True)
            with db.session() as s:
                print("    plan: " + " | ".join(_plan(s, events, kwargs)), flush=True)
        print(f"slowest: {slowest_label}", flush=True)
        new_indexes = ("ix_events_device_at", "ix_events_type_at")
        with_all, without = insert_rate(root), insert_rate(root, new_indexes)
        print(f"insert cost of {', '.join(new_indexes)}: {without:,.0f} events/s without, "
              f"{with_all:,.0f} with (500-row durable commits, fresh database)", flush=True)
        figure(f"hub event search page over {args.events:,} events, slowest filter (median)",
               slowest, "ms", 300)
        db.dispose()
    return 0


def _plan(session, events_service, kwargs: dict) -> list[str]:
    """EXPLAIN QUERY PLAN of the query ``events.search`` runs for ``kwargs``."""
    captured = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "FROM events" in statement:
            captured.append((statement, parameters))

    from sqlalchemy import event as sa_event

    engine = session.get_bind()
    sa_event.listen(engine, "before_cursor_execute", capture)
    try:
        for key in ("since", "until"):
            if key in kwargs and isinstance(kwargs[key], str):
                kwargs[key] = datetime.fromisoformat(kwargs[key].replace("Z", "+00:00"))
        events_service.search(session, limit=100, **kwargs)
    finally:
        sa_event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = captured[-1]
    rows = session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
    return [r[-1] for r in rows]


if __name__ == "__main__":
    sys.exit(main())
