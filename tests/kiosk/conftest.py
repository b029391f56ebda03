"""Kiosk test fixtures: the fixture images and a sample licence frame maker."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kiosk"
sys.path.insert(0, str(FIXTURES))

from make_fixtures import SAMPLE, licence_frame  # noqa: E402


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The folder of kiosk fixture images."""
    return FIXTURES


@pytest.fixture(scope="session")
def face_frame() -> np.ndarray:
    """A camera frame with exactly one face."""
    return cv2.imread(str(FIXTURES / "face.jpg"))


@pytest.fixture(scope="session")
def sample_person() -> dict:
    """Who the sample licence belongs to."""
    return dict(SAMPLE)


@pytest.fixture(scope="session")
def make_licence_frame():
    """licence_frame(record_bytes, angle_deg) -> BGR frame."""
    return licence_frame
