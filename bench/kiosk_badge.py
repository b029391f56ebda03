"""Kiosk figures: photo frame -> badge image -> ESC/POS bytes, and PDF417 decode of a licence.

Targets (issue 7): frame -> badge -> ESC/POS <= 150 ms; PDF417 decode of a licence image
<= 100 ms. Uses the fixture images (a 640x480 face frame; 1280x720 licence frames at 0, 4
and 12 degrees of tilt, the last needing the deskew). Run: ``.venv/bin/python bench/kiosk_badge.py``.
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "fixtures" / "kiosk")]

import cv2  # noqa: E402

from kiosk import aamva, badge, vision  # noqa: E402
from make_fixtures import SAMPLE, licence_frame  # noqa: E402


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] * 1000


def figure(name: str, value: float, unit: str, target: float | None, better: str = "lower") -> None:
    """One JSON line for bench/run.py."""
    print(json.dumps({"name": name, "value": round(value, 2), "unit": unit, "target": target, "better": better}))


def badge_pipeline(frame, faces: vision.FaceFinder, paper_dots: int) -> bytes:
    """What the kiosk does from a camera frame to printer bytes."""
    found = faces.find(frame)
    portrait = vision.portrait(frame, found[0])
    buf = io.BytesIO()
    portrait.thumbnail((240, 300))
    portrait.convert("RGB").save(buf, format="JPEG", quality=80)  # the photo kept in the draft
    from PIL import Image

    data = badge.BadgeData(category="visitor", name="Jordan Sample", host="Dana Rivera", destination="Main office",
                           time_in=datetime(2026, 11, 28, 9, 5), expires=datetime(2026, 11, 28, 17, 0),
                           token=badge.new_token(), escort_required=True, photo=Image.open(buf),
                           building="Lincoln Elementary")
    return badge.escpos_bytes(badge.render(data, paper_dots=paper_dots))


def main() -> None:
    """Print the figures."""
    frame = cv2.imread(str(ROOT / "tests" / "fixtures" / "kiosk" / "face.jpg"))
    faces = vision.FaceFinder()
    for dots in (384, 576):
        badge_pipeline(frame, faces, dots)  # warm up fonts and the cascade
        times = []
        for _ in range(30):
            t0 = time.perf_counter()
            job = badge_pipeline(frame, faces, dots)
            times.append(time.perf_counter() - t0)
        print(f"frame -> badge -> ESC/POS at {dots} dots: median {statistics.median(times) * 1000:.1f} ms, "
              f"p95 {pct(times, 95):.1f} ms, job {len(job)} bytes")
        figure(f"kiosk_badge_pipeline_{dots}_p95", pct(times, 95), "ms", 150)
        figure(f"kiosk_badge_pipeline_{dots}_median", statistics.median(times) * 1000, "ms", 150)
    record = aamva.build(version=10, **SAMPLE)
    for angle in (0, 4, 12):
        image = licence_frame(record, angle)
        assert vision.decode_pdf417(image) == record
        times = []
        for _ in range(20):
            t0 = time.perf_counter()
            vision.decode_pdf417(image)
            times.append(time.perf_counter() - t0)
        print(f"PDF417 decode, licence tilted {angle} deg: median {statistics.median(times) * 1000:.1f} ms, "
              f"p95 {pct(times, 95):.1f} ms")
        figure(f"kiosk_pdf417_decode_{angle}deg_p95", pct(times, 95), "ms", 100)
    times = []
    for _ in range(200):
        t0 = time.perf_counter()
        aamva.parse(record)
        times.append(time.perf_counter() - t0)
    figure("kiosk_aamva_parse_median", statistics.median(times) * 1000, "ms", None)


if __name__ == "__main__":
    main()
