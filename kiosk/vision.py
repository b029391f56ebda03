"""What the kiosk sees in a camera frame: a licence's PDF417, a face, a badge's QR code.

Pure functions of a frame (a BGR ``numpy`` array as OpenCV delivers it); nothing is stored.

* PDF417 (zxing-cpp) fails beyond a few degrees of tilt, so :func:`decode_pdf417` tries the
  frame as it is, then deskews it by the angle of the barcode's own outline (the bars closed
  into one blob, its minimum-area rectangle), then sweeps a few angles either side.
* Faces: the frontal Haar cascade that OpenCV 4 ships in ``cv2.data.haarcascades``.
* QR codes: OpenCV's ``QRCodeDetector`` (the badge's QR is drawn with segno, so this is an
  independent decoder).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import zxingcpp
from PIL import Image

#: A frame darker and flatter than this is "no picture" (lens covered, camera failing).
BLANK_MEAN = 16
BLANK_STD = 6
#: Faces are looked for on a copy of the frame at most this wide.
DETECT_WIDTH = 640
_SWEEP_DEG = (-6, 6, -12, 12, -18, 18, -24, 24)


def is_blank(frame: np.ndarray) -> bool:
    """True for a black or featureless frame."""
    gray = _gray(frame)
    return float(gray.mean()) < BLANK_MEAN or float(gray.std()) < BLANK_STD


def _gray(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return frame
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def _rotate(gray: np.ndarray, angle_deg: float) -> np.ndarray:
    h, w = gray.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0)
    return cv2.warpAffine(gray, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def estimate_skew(frame: np.ndarray) -> float | None:
    """The tilt in degrees of the largest barcode-like region (positive: counter-clockwise)."""
    gray = _gray(frame)
    grad_x = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=-1)
    grad_y = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=-1)
    magnitude = cv2.convertScaleAbs(cv2.magnitude(grad_x, grad_y))
    blurred = cv2.blur(magnitude, (9, 9))
    _, mask = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (21, 7)))
    mask = cv2.erode(mask, None, iterations=3)
    mask = cv2.dilate(mask, None, iterations=3)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    biggest = max(contours, key=cv2.contourArea)
    if cv2.contourArea(biggest) < 0.01 * gray.size:
        return None
    (_, _), (w, h), angle = cv2.minAreaRect(biggest)
    # OpenCV >= 4.5 reports angle in (0, 90]; turn it into the small tilt of the long side.
    if w < h:
        angle -= 90.0
    return float(((angle + 45.0) % 90.0) - 45.0)


def _read_pdf417(gray: np.ndarray) -> bytes | None:
    for result in zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormat.PDF417):
        if result.valid and result.bytes:
            return bytes(result.bytes)
    return None


def decode_pdf417(frame: np.ndarray) -> bytes | None:
    """The raw bytes of the first PDF417 in the frame, deskewing if needed; None if none reads."""
    gray = _gray(frame)
    found = _read_pdf417(gray)
    if found is not None:
        return found
    skew = estimate_skew(gray)
    tried = set()
    for angle in ([skew] if skew is not None else []) + list(_SWEEP_DEG):
        key = round(angle, 1)
        if key in tried or abs(angle) < 0.5:
            continue
        tried.add(key)
        found = _read_pdf417(_rotate(gray, angle))
        if found is not None:
            return found
    return None


def decode_qr(frame: np.ndarray) -> str | None:
    """The text of a QR code in the frame (OpenCV's detector), or None."""
    detector = cv2.QRCodeDetector()
    text, points, _ = detector.detectAndDecode(frame)
    if text:
        return text
    gray = _gray(frame)
    if max(gray.shape) < 800:
        bigger = cv2.resize(gray, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
        text, _, _ = detector.detectAndDecode(bigger)
    return text or None


@dataclass(frozen=True)
class Face:
    """A face rectangle in frame pixels."""

    x: int
    y: int
    w: int
    h: int


class FaceFinder:
    """Frontal faces with the Haar cascade OpenCV ships."""

    def __init__(self, cascade: str = "haarcascade_frontalface_default.xml", *, min_face_px: int = 60) -> None:
        path = Path(cv2.data.haarcascades) / cascade
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise RuntimeError(f"cannot load the face cascade {path}")
        self.min_face_px = min_face_px

    def find(self, frame: np.ndarray) -> list[Face]:
        """Every face seen, largest first."""
        gray = _gray(frame)
        # A visitor stands close: detecting on a frame at most DETECT_WIDTH wide finds the same
        # faces several times faster (the cascade's cost grows with the pixel count).
        scale = min(1.0, DETECT_WIDTH / gray.shape[1])
        small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
        small = cv2.equalizeHist(small)
        min_px = max(24, int(self.min_face_px * scale))
        found = self._cascade.detectMultiScale(small, scaleFactor=1.15, minNeighbors=5, minSize=(min_px, min_px))
        faces = [Face(int(x / scale), int(y / scale), int(w / scale), int(h / scale)) for (x, y, w, h) in found]
        return sorted(faces, key=lambda f: f.w * f.h, reverse=True)


def portrait(frame: np.ndarray, face: Face) -> Image.Image:
    """Head and shoulders around ``face`` (4:5), as an RGB image for the badge."""
    h, w = frame.shape[:2]
    cx, cy = face.x + face.w / 2, face.y + face.h / 2
    box_w = face.w * 2.0
    box_h = box_w * 5 / 4
    left = int(max(0, cx - box_w / 2))
    top = int(max(0, cy - box_h * 0.45))
    right = int(min(w, cx + box_w / 2))
    bottom = int(min(h, top + box_h))
    crop = frame[top:bottom, left:right]
    rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB) if crop.ndim == 3 else crop
    return Image.fromarray(rgb)
