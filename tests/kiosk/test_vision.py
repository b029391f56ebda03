"""Frames: licence PDF417 with tilt, faces, blank frames, QR codes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from kiosk import aamva, vision


@pytest.mark.parametrize("angle", [0, 4, 9, -9, 15, -20])
def test_pdf417_decodes_with_tilt(make_licence_frame, sample_person, angle: float) -> None:
    record = aamva.build(version=10, **sample_person)
    assert vision.decode_pdf417(make_licence_frame(record, angle)) == record


def test_tilted_licence_needs_the_deskew(make_licence_frame, sample_person) -> None:
    import zxingcpp

    frame = make_licence_frame(aamva.build(version=10, **sample_person), 12)
    assert not zxingcpp.read_barcodes(frame, formats=zxingcpp.BarcodeFormat.PDF417)
    assert abs(vision.estimate_skew(frame) + 12) < 1.5


def test_fixture_licence(fixtures_dir, sample_person) -> None:
    holder = aamva.parse(vision.decode_pdf417(cv2.imread(str(fixtures_dir / "licence.png"))))
    assert (holder.first, holder.last, holder.dob) == (sample_person["first"], sample_person["last"], sample_person["dob"])


def test_no_barcode(face_frame) -> None:
    assert vision.decode_pdf417(face_frame) is None


def test_one_face(face_frame) -> None:
    assert len(vision.FaceFinder().find(face_frame)) == 1


def test_two_faces(face_frame) -> None:
    assert len(vision.FaceFinder().find(np.hstack([face_frame, face_frame]))) == 2


def test_no_face_in_blank(fixtures_dir) -> None:
    frame = cv2.imread(str(fixtures_dir / "blank.png"))
    assert vision.is_blank(frame) and vision.FaceFinder().find(frame) == []


def test_face_frame_is_not_blank(face_frame) -> None:
    assert not vision.is_blank(face_frame)


def test_portrait_is_a_crop_around_the_face(face_frame) -> None:
    face = vision.FaceFinder().find(face_frame)[0]
    image = vision.portrait(face_frame, face)
    assert image.width < face_frame.shape[1] and image.height > image.width * 0.9


def test_qr_not_present(face_frame) -> None:
    assert vision.decode_qr(face_frame) is None
