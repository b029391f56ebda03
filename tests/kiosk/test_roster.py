"""The emergency roster image."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kiosk import roster
from kiosk.store import RosterVisit

T0 = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)


def _visit(i: int, state: str = "on_site") -> RosterVisit:
    return RosterVisit(visit=f"v-{i:08d}", first=f"Name{i}\x1b@", last="Souza 😀", category="visitor", host="Dana",
                       signed_in_at=T0 - timedelta(minutes=i), expires_at=None, state=state, offline=False)


@pytest.mark.parametrize("dots", [384, 576])
def test_grows_with_visitors(dots: int) -> None:
    empty = roster.render([], printed_at=T0, paper_dots=dots)
    three = roster.render([_visit(1), _visit(2), _visit(3, "held")], printed_at=T0, paper_dots=dots)
    assert empty.width == three.width == dots and three.height > empty.height and three.mode == "1"


def test_bad_width() -> None:
    with pytest.raises(ValueError):
        roster.render([], printed_at=T0, paper_dots=100)


# --------------------------------------------------------------------------- photo thumbnails
import io  # noqa: E402

import numpy as np  # noqa: E402

from hardware.printer import SimPrinter  # noqa: E402
from kiosk import vision  # noqa: E402


def _jpeg(face_frame) -> bytes:
    face = vision.FaceFinder().find(face_frame)[0]
    buf = io.BytesIO()
    vision.portrait(face_frame, face).convert("RGB").save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def raster_rows(job: bytes) -> np.ndarray:
    """Every ``GS v 0`` raster block of an ESC/POS job, stacked: 1 = a black dot."""
    blocks, start = [], job.find(b"\x1dv0")
    assert start >= 0, "no raster image in the job"
    while start >= 0:
        width_bytes = job[start + 4] + 256 * job[start + 5]
        height = job[start + 6] + 256 * job[start + 7]
        data = np.frombuffer(job[start + 8:start + 8 + width_bytes * height], dtype=np.uint8)
        assert data.size == width_bytes * height, "raster block cut short"
        blocks.append(np.unpackbits(data).reshape(height, width_bytes * 8))
        start = job.find(b"\x1dv0", start + 8 + width_bytes * height)
    return np.vstack(blocks)


def find_thumbnail(raster: np.ndarray, thumb, x: int) -> list[int]:
    """The rows at which ``thumb`` (a one-bit image) sits in ``raster`` at column ``x``."""
    want = (np.array(thumb.convert("L")) == 0).astype(np.uint8)
    h, w = want.shape
    return [y for y in range(raster.shape[0] - h + 1) if np.array_equal(raster[y:y + h, x:x + w], want)]


@pytest.mark.parametrize("dots", [384, 576])
def test_roster_job_carries_each_photo_thumbnail_beside_the_names(face_frame, dots: int) -> None:
    jpeg = _jpeg(face_frame)
    visits = [_visit(1), _visit(2), _visit(3, "held")]
    image = roster.render(visits, printed_at=T0, paper_dots=dots,
                          photos={"v-00000001": jpeg, "v-00000003": b"\xff\xd8 not really a jpeg"})
    printer = SimPrinter(paper_dots=dots)
    printer.print_image(image)
    raster = raster_rows(printer.jobs[-1])
    assert raster.shape == (image.height, dots)  # every dot of the roster went to the printer
    margin = dots // 24
    thumb_w, thumb_h = roster.thumb_size(dots)
    photo = roster.thumbnail(jpeg, dots)
    assert photo.size == (thumb_w, thumb_h) and photo.mode == "1"
    at = find_thumbnail(raster, photo, margin)
    assert len(at) == 1  # visitor 1's face, once
    face = raster[at[0]:at[0] + thumb_h, margin:margin + thumb_w]
    # dithered: black and white mixed across the face, not a solid block or a blank
    blocks = face[:thumb_h // 8 * 8, :thumb_w // 8 * 8].reshape(thumb_h // 8, 8, thumb_w // 8, 8).mean(axis=(1, 3))
    assert ((blocks > 0.1) & (blocks < 0.9)).mean() > 0.3
    # visitor 2 (no photo) and visitor 3 (an unreadable one) get the placeholder, below visitor 1
    placeholders = find_thumbnail(raster, roster.thumbnail(None, dots), margin)
    assert len(placeholders) == 2 and min(placeholders) > at[0]
    printer.close()


def test_placeholder_is_a_framed_box(face_frame) -> None:
    box = np.array(roster.thumbnail(None, 384).convert("L")) == 0
    assert box[0].all() and box[-1].all() and box[:, 0].all() and box[:, -1].all()
    assert roster.thumbnail(b"", 384).tobytes() == roster.thumbnail(None, 384).tobytes()
    assert roster.thumbnail(_jpeg(face_frame), 384).tobytes() != roster.thumbnail(None, 384).tobytes()
