"""Badge rendering: size, content, a QR that another decoder reads, ESC/POS bytes."""

from __future__ import annotations

from datetime import datetime

import cv2
import numpy as np
import pytest
from escpos.printer import Dummy

from kiosk import badge, vision


def _data(face_frame, **over) -> badge.BadgeData:
    face = vision.FaceFinder().find(face_frame)[0]
    values = dict(category="visitor", name="Ana Souza", host="Ms. Rivera", destination="Room 12",
                  time_in=datetime(2026, 11, 28, 9, 5), expires=datetime(2026, 11, 28, 15, 30),
                  token=badge.new_token(), photo=vision.portrait(face_frame, face))
    values.update(over)
    return badge.BadgeData(**values)


@pytest.mark.parametrize("dots", badge.PAPER_DOTS)
def test_qr_decodes_with_opencv(face_frame, dots: int) -> None:
    data = _data(face_frame)
    image = badge.render(data, paper_dots=dots)
    assert image.mode == "1" and image.width == dots
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(np.array(image.convert("L")))
    assert text == badge.qr_payload(data.token)
    assert badge.token_from_qr(text) == data.token


def test_escort_required_changes_the_badge(face_frame) -> None:
    token = badge.new_token()
    plain = badge.render(_data(face_frame, token=token))
    escorted = badge.render(_data(face_frame, token=token, escort_required=True))
    assert escorted.height > plain.height


def test_photo_is_dithered_not_thresholded(face_frame) -> None:
    face = vision.FaceFinder().find(face_frame)[0]
    dots = np.array(badge.dither_photo(vision.portrait(face_frame, face), 200).convert("L"))
    # A thresholded face is mostly flat areas; dithering leaves black and white mixed in every region.
    blocks = dots[:240, :200].reshape(30, 8, 25, 8).mean(axis=(1, 3))
    assert ((blocks > 20) & (blocks < 235)).mean() > 0.5


def test_hostile_name_is_drawn_not_sent(face_frame) -> None:
    data = _data(face_frame, name="Ana\x1b@\x1dV\x00" + "x" * 500 + " 😀 שרה")
    job = badge.escpos_bytes(badge.render(data))
    dummy = Dummy(profile="ZJ-5870")
    dummy.image(badge.render(_data(face_frame, token=data.token)), impl="bitImageRaster", center=False)
    # Both jobs start with the raster command: the name never reaches the printer as bytes.
    assert job.startswith(b"\x1dv0") and dummy.output.startswith(b"\x1dv0")
    assert b"\x1b@\x1dV" not in job[:8]


def test_no_photo_still_renders(face_frame) -> None:
    image = badge.render(_data(face_frame, photo=None), paper_dots=576)
    assert image.width == 576


def test_bad_width_is_refused(face_frame) -> None:
    with pytest.raises(ValueError, match="paper_dots"):
        badge.render(_data(face_frame), paper_dots=500)


@pytest.mark.parametrize(("text", "token"), [
    ("gatehouse:v1:abcdefghijklmnop", "abcdefghijklmnop"),
    ("gatehouse:v1:short", None),
    ("https://example.com", None),
    ("gatehouse:v1:abc def ghi jkl mno", None),
])
def test_token_from_qr(text: str, token) -> None:
    assert badge.token_from_qr(text) == token


def test_tokens_are_unique() -> None:
    assert len({badge.new_token() for _ in range(1000)}) == 1000
