"""Kiosk -> hub sign-in round trip with 50,000 watch-list entries, over a real Mosquitto on loopback.

Target (issue 7): p95 <= 200 ms, screening included. Also prints the time to fetch the whole
hashed watch list into the kiosk's cache and the kiosk's offline screening time on it.
Needs ``mosquitto`` installed. Run: ``.venv/bin/python bench/kiosk_signin.py [--entries 50000] [--n 60]``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402

from hub.visitors.models import WatchEntry  # noqa: E402
from hub.visitors.services import _bump  # noqa: E402
from link import visits as wire  # noqa: E402
from kiosk.hublink import new_corr  # noqa: E402
from tests.conftest import make_broker_config  # noqa: E402
from tests.kiosk.conftest import make_kiosk_env  # noqa: E402
from tests.support.mosquitto import Mosquitto  # noqa: E402
from tests.support.pki import TestPki  # noqa: E402

FIRST = ["Ana", "Bruno", "Carla", "Diego", "Elena", "Felipe", "Grace", "Hiro", "Ines", "James", "Kofi", "Lena",
         "Maria", "Nikhil", "Olga", "Pedro", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Victor", "Wen", "Yara"]
LAST = ["Souza", "Smith", "Garcia-Lopez", "Nguyen", "O'Brien", "Kowalski", "Haddad", "Okafor", "Tanaka",
        "Johansson", "Dubois", "Rossi", "Silva", "Costa", "Murphy", "Cohen", "Ali", "Kim", "Novak", "Ivanova"]


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile in ms."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] * 1000


def figure(name: str, value: float, unit: str, target: float | None) -> None:
    """One JSON line for bench/run.py."""
    print(json.dumps({"name": name, "value": round(value, 2), "unit": unit, "target": target, "better": "lower"}))


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--n", type=int, default=60)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pki = TestPki(root / "pki")
        broker = Mosquitto(root / "mosquitto", pki)
        broker.start()
        env = None
        try:
            env = make_kiosk_env(root / "k", lambda ident, **kw: make_broker_config(broker, pki, ident, **kw))
            now = datetime.now(UTC)
            with env.database.session() as s:
                s.add_all(WatchEntry(first=f"{rng.choice(FIRST)}{i}", last=rng.choice(LAST),
                                     dob=date(1950 + rng.randrange(50), 1 + rng.randrange(12), 1 + rng.randrange(28))
                                     if rng.random() < 0.8 else None, kind="banned", created_at=now)
                          for i in range(args.entries))
                _bump(s, now)
            t0 = time.perf_counter()
            assert env.kiosk.refresh(), "cache refresh failed"
            fetch_s = time.perf_counter() - t0
            print(f"directory + watch list ({args.entries} entries) into the kiosk cache: {fetch_s:.2f} s")
            figure("kiosk_watchlist_fetch", fetch_s * 1000, "ms", None)
            face = cv2.imread(str(ROOT / "tests" / "fixtures" / "kiosk" / "face.jpg"))[100:340, 200:392]
            photo = base64.b64encode(cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()).decode()
            times = []
            for i in range(args.n + 3):
                body = wire.VisitSignIn(corr=new_corr(), visit=f"bench-{i:08d}",
                                        token_sha256=hashlib.sha256(f"benchtoken{i:014d}".encode()).hexdigest(),
                                        category="visitor", first=rng.choice(FIRST), last=rng.choice(LAST),
                                        dob="1984-07-21", id_source="scanned", host="s100",
                                        destination="main-office", photo_jpeg=photo)
                t0 = time.perf_counter()
                # the first requests build the hub's index of the list: give them time
                resp = env.kiosk.gateway.request(body, 60.0 if i < 3 else 10.0)
                elapsed = time.perf_counter() - t0
                assert resp is not None and resp.ok, resp
                if i >= 3:
                    times.append(elapsed)
            print(f"sign-in round trip ({args.n} sign-ins, {args.entries} entries): median "
                  f"{statistics.median(times) * 1000:.1f} ms, p95 {pct(times, 95):.1f} ms, max {max(times) * 1000:.1f} ms")
            figure("kiosk_signin_roundtrip_p95", pct(times, 95), "ms", 200)
            figure("kiosk_signin_roundtrip_median", statistics.median(times) * 1000, "ms", 200)
            cache = env.kiosk.watch_cache()
            times = []
            for _ in range(200):
                t0 = time.perf_counter()
                cache.screen(rng.choice(FIRST), rng.choice(LAST), date(1984, 7, 21), datetime.now(UTC))
                times.append(time.perf_counter() - t0)
            print(f"offline screening on the cached list: median {statistics.median(times) * 1000:.2f} ms")
            figure("kiosk_offline_screen_median", statistics.median(times) * 1000, "ms", None)
        finally:
            if env is not None:
                env.kiosk.stop()
                env.hub.stop()
            broker.stop()


if __name__ == "__main__":
    main()
