"""Kiosk emergency and desk paths through the hub's real bridge, over a real Mosquitto on loopback.

Prints: panic button press counted -> lockdown committed at the hub (the request's round trip,
no target in the issue); front desk admits a held visitor -> badge printed at the kiosk (the
bridge sends the verdict from its once-a-second tick, so up to a second of that is waiting);
and the on-site roster with photo thumbnails: render + ESC/POS bytes for 20 visitors.
Needs ``mosquitto``. Run: ``.venv/bin/python bench/kiosk_emergency.py [--n 10]``.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.models import Building  # noqa: E402
from hub.services import buildings  # noqa: E402
from hub.visitors import services  # noqa: E402
from hub.visitors.models import VisitHold  # noqa: E402
from kiosk import badge, flow, roster  # noqa: E402
from kiosk.store import RosterVisit  # noqa: E402
from sqlalchemy import select  # noqa: E402
from tests.kiosk.bridgeside import Site  # noqa: E402
from tests.support.mosquitto import Mosquitto  # noqa: E402
from tests.support.pki import TestPki  # noqa: E402


def figure(name: str, value: float, unit: str, target: float | None) -> None:
    """One JSON line for bench/run.py."""
    print(json.dumps({"name": name, "value": round(value, 2), "unit": unit, "target": target, "better": "lower"}))


def until(predicate, timeout_s: float = 20.0) -> float:
    """Seconds until ``predicate()`` holds (polled every millisecond)."""
    t0 = time.perf_counter()
    while not predicate():
        if time.perf_counter() - t0 > timeout_s:
            raise TimeoutError("condition not reached")
        time.sleep(0.001)
    return time.perf_counter() - t0


def summary(label: str, times: list[float]) -> None:
    """A human line."""
    print(f"{label}: median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms "
          f"({len(times)} runs)")


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pki = TestPki(root / "pki")
        broker = Mosquitto(root / "mosquitto", pki)
        broker.start()
        site = None
        try:
            site = Site(root / "site", broker, pki)
            kiosk = site.start_kiosk()
            assert kiosk.refresh(), "the kiosk could not fetch its directory"

            def lockdown() -> bool:
                with site.db.session() as s:
                    return s.get(Building, "lincoln").lockdown

            panic = []
            for _ in range(args.n):
                kiosk.panic.pressed()  # what the button calls once a press has been held long enough
                panic.append(until(lockdown))
                with site.db.session() as s:
                    buildings.set_lockdown(s, "lincoln", False, actor="bench", now=datetime.now(UTC))
            summary("panic press counted -> lockdown committed at the hub", panic)
            figure("kiosk_panic_to_lockdown_median", statistics.median(panic) * 1000, "ms", None)

            with site.db.session() as s:
                services.add_watch_entry(s, first="Ana", last="Souza", dob=None, kind="banned",
                                         now=datetime.now(UTC))
            assert kiosk.refresh()
            photo = kiosk.take_photo().data["jpeg"]
            printer = kiosk.printers[0]
            admit = []
            for i in range(args.n):
                now = datetime.now(UTC)
                draft = flow.touch(flow.new_draft("en", now), now, category="visitor", first="Ana", last="Souza",
                                   dob=date(1990, 1, 2), id_source="scanned", photo_jpeg=photo,
                                   destination="main-office", where_chosen=True)
                outcome = kiosk.sign_in(draft)
                assert outcome.kind == "held", outcome
                jobs = len(printer.jobs)
                with site.db.session() as s:
                    hold = s.scalars(select(VisitHold).where(VisitHold.visit_id == outcome.visit)).one()
                    services.decide_hold(s, hold.id, "admit", by="bench", now=datetime.now(UTC))
                admit.append(until(lambda: len(printer.jobs) > jobs))
                time.sleep(0.37 * (i % 3))  # land at different points of the bridge's one-second tick
            summary("desk admit committed -> badge printed at the kiosk", admit)
            figure("kiosk_desk_admit_to_badge_median", statistics.median(admit) * 1000, "ms", None)
            figure("kiosk_desk_admit_to_badge_max", max(admit) * 1000, "ms", None)
        finally:
            if site is not None:
                site.close()
            broker.stop()

    from PIL import Image

    face = Image.open(ROOT / "tests" / "fixtures" / "kiosk" / "face.jpg").crop((200, 100, 392, 340))
    buf = io.BytesIO()
    face.convert("RGB").save(buf, format="JPEG", quality=80)
    t0 = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
    visits = [RosterVisit(visit=f"v-{i:08d}", first=f"Visitor{i}", last="Souza", category="visitor", host="Dana",
                          signed_in_at=t0 - timedelta(minutes=i), expires_at=None, state="on_site", offline=False)
              for i in range(20)]
    photos = {v.visit: buf.getvalue() for v in visits[::2]}
    times = []
    for _ in range(10):
        start = time.perf_counter()
        image = roster.render(visits, printed_at=t0, paper_dots=576, photos=photos)
        badge.escpos_bytes(image)
        times.append(time.perf_counter() - start)
    summary("roster of 20 visitors (10 photos) -> ESC/POS bytes", times)
    figure("kiosk_roster_20_render_median", statistics.median(times) * 1000, "ms", None)


if __name__ == "__main__":
    main()
