"""Cameras: the simulator on real OpenCV decoding of files, and typed errors, never a hang."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from hardware.camera import Camera, OpenCvCamera, Picamera2Camera, SimCamera
from hardware.errors import CameraError, CameraNotFound, CameraTimeout, DeviceClosed, DeviceUnavailable


def solid(value: int, size: tuple[int, int] = (48, 64)) -> np.ndarray:
    frame = np.zeros((*size, 3), dtype=np.uint8)
    frame[:, :, 1] = value
    return frame


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for i, value in enumerate([10, 120, 240]):
        cv2.imwrite(str(tmp_path / f"frame_{i:03d}.png"), solid(value))
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    assert writer.isOpened()
    for value in (30, 130, 230):
        writer.write(solid(value))
    writer.release()
    return path


def test_folder_plays_in_order_and_loops(folder: Path) -> None:
    with SimCamera(source=folder) as camera:
        assert isinstance(camera, Camera)
        greens = [int(camera.grab()[0, 0, 1]) for _ in range(4)]
        assert greens == [10, 120, 240, 10]
        assert camera.state()["frame_shape"] == (48, 64, 3)


def test_video_file_plays_and_loops(video: Path) -> None:
    with SimCamera(source=video) as camera:
        greens = [int(camera.grab()[0, 0, 1]) for _ in range(4)]
    assert [abs(g - e) < 12 for g, e in zip(greens, [30, 130, 230, 30])] == [True] * 4  # MJPG is lossy


def test_end_of_source_without_loop_is_a_typed_error(folder: Path) -> None:
    with SimCamera(source=folder, loop=False) as camera:
        for _ in range(3):
            camera.grab()
        with pytest.raises(CameraError, match="no frame"):
            camera.grab()


@pytest.mark.parametrize("make", ["missing", "empty", "bad video"])
def test_missing_sources_are_camera_not_found(tmp_path: Path, make: str) -> None:
    source = {"missing": tmp_path / "nope", "empty": tmp_path, "bad video": tmp_path / "x.avi"}[make]
    if make == "bad video":
        source.write_bytes(b"this is not a video")
    with pytest.raises(CameraNotFound) as info:
        SimCamera(source=source)
    assert isinstance(info.value, IOError)


def test_corrupt_image_gives_no_frame_error(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"\x89PNG broken")
    with SimCamera(source=tmp_path) as camera, pytest.raises(CameraError):
        camera.grab()


def test_unplugged_then_plugged_back(folder: Path) -> None:
    with SimCamera(source=folder) as camera:
        camera.grab()
        camera.unplug()
        with pytest.raises(CameraError):
            camera.grab()
        with pytest.raises(CameraNotFound):
            camera.grab()
        camera.plug()
        assert camera.grab().shape == (48, 64, 3)
        assert camera.state()["failures"] == 2


def test_a_stalled_camera_times_out_and_fails_fast_until_it_returns(folder: Path) -> None:
    with SimCamera(source=folder) as camera:
        camera.stall_s = 0.5
        with pytest.raises(CameraTimeout) as info:
            camera.grab(timeout_s=0.05)
        assert isinstance(info.value, TimeoutError)
        with pytest.raises(CameraTimeout, match="still stuck"):
            camera.grab(timeout_s=0.05)
        assert camera.state()["stalled"]
        camera.stall_s = 0.0
        camera._pending.result(timeout=5)  # the stuck read finishes
        assert camera.grab().shape == (48, 64, 3)


def test_no_camera_at_an_index_is_not_a_hang() -> None:
    with pytest.raises(CameraError):
        OpenCvCamera(index=57, open_timeout_s=5.0)


def test_picamera2_missing_is_device_unavailable() -> None:
    try:
        import picamera2  # noqa: F401
    except ImportError:
        with pytest.raises(DeviceUnavailable, match="picamera2"):
            Picamera2Camera()
    else:
        pytest.skip("picamera2 installed: covered by the hardware tests")


def test_close_is_idempotent(folder: Path) -> None:
    camera = SimCamera(source=folder)
    camera.close()
    camera.close()
    with pytest.raises(DeviceClosed):
        camera.grab()


def test_a_stuck_read_does_not_keep_the_process_from_exiting(folder: Path) -> None:
    import subprocess
    import sys

    code = (
        "from hardware.camera import SimCamera\n"
        "from hardware.errors import CameraTimeout\n"
        f"camera = SimCamera(source={str(folder)!r})\n"
        "camera.stall_s = 600\n"
        "try:\n"
        "    camera.grab(timeout_s=0.1)\n"
        "except CameraTimeout:\n"
        "    print('timed out')\n"
        "camera.close()\n"
    )
    # A hang here would be the bug: subprocess.run's timeout turns it into a failure.
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "timed out"
