"""Cameras: one ``grab(timeout_s)`` that returns a BGR numpy frame or raises a typed error.

OpenCV's ``VideoCapture.read`` can block for a long time on an unplugged USB camera, so
every open and read runs on a worker thread and the caller waits at most ``timeout_s``.
A read that overstays leaves the camera "stalled": later grabs fail fast until it returns.
"""

from __future__ import annotations

import logging
import threading
import time
import queue
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np

from hardware.errors import CameraError, CameraNotFound, CameraTimeout, DeviceClosed, DeviceUnavailable

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


@runtime_checkable
class Camera(Protocol):
    """What the kiosk needs from a camera."""

    name: str

    def grab(self, timeout_s: float = 2.0) -> np.ndarray:
        """Return the next frame (H x W x 3, uint8, BGR) or raise CameraError."""
        ...

    def state(self) -> dict[str, Any]:
        """A printable summary."""
        ...

    def close(self) -> None:
        """Release the device; idempotent."""
        ...

    def __enter__(self) -> "Camera": ...

    def __exit__(self, *exc: object) -> None: ...


class _DaemonWorker:
    """One daemon thread running submitted calls in order.

    Not a ThreadPoolExecutor: its threads are joined at interpreter exit, so a read stuck in
    a driver would keep the service from ever stopping.
    """

    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, fn = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the caller through the future
                future.set_exception(exc)

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        """Queue ``fn``; its result or exception arrives through the returned future."""
        future: Future[Any] = Future()
        self._queue.put((future, fn))
        return future

    def shutdown(self) -> None:
        """Let the thread end after the calls already queued."""
        self._queue.put(None)


class _WorkerCamera:
    """Runs ``_open``/``_read``/``_release`` of a subclass on one worker thread, with timeouts."""

    kind = "camera"
    driver = "?"

    def __init__(self, name: str, open_timeout_s: float) -> None:
        self.name = name
        self._pool = _DaemonWorker(f"camera-{name}")
        self._pending: Future[Any] | None = None
        self._closed = False
        self._is_open = False
        self.frames = 0
        self.failures = 0
        self.last_shape: tuple[int, ...] | None = None
        try:
            self._call(self._open_checked, open_timeout_s, "opening")
        except BaseException:
            self._pool.shutdown()
            self._closed = True
            raise

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    def __enter__(self) -> "_WorkerCamera":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # subclasses implement these; they run on the worker thread
    def _open(self) -> None:
        raise NotImplementedError

    def _read(self) -> np.ndarray | None:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError

    def _open_checked(self) -> None:
        self._open()
        self._is_open = True

    def _call(self, fn: Callable[[], Any], timeout_s: float, what: str) -> Any:
        if self._pending is not None and not self._pending.done():
            raise CameraTimeout(f"camera {self.name} is still stuck {what}; try again later")
        future = self._pool.submit(fn)
        self._pending = future
        try:
            return future.result(timeout=timeout_s)
        except FutureTimeout:
            raise CameraTimeout(f"camera {self.name} gave nothing within {timeout_s:g} s while {what}") from None

    def _grab_once(self) -> np.ndarray:
        if not self._is_open:
            self._open_checked()  # it failed before: the camera may be back
        frame = self._read()
        if frame is None:
            self._is_open = False
            try:
                self._release()
            except Exception as exc:
                log.debug("camera=%s event=release_failed error=%s", self.name, exc)
            raise CameraError(f"camera {self.name} returned no frame (unplugged or at the end of its source)")
        return frame

    def grab(self, timeout_s: float = 2.0) -> np.ndarray:
        """Return the next frame (H x W x 3, uint8, BGR) or raise CameraError."""
        if self._closed:
            raise DeviceClosed(f"camera {self.name} is closed")
        try:
            frame = self._call(self._grab_once, timeout_s, "reading")
        except CameraError:
            self.failures += 1
            raise
        if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.size == 0:
            self.failures += 1
            raise CameraError(f"camera {self.name} returned a malformed frame")
        self.frames += 1
        self.last_shape = tuple(frame.shape)
        return frame

    def state(self) -> dict[str, Any]:
        """A printable summary."""
        return {"driver": self.driver, "open": self._is_open and not self._closed, "frames": self.frames,
                "failures": self.failures, "frame_shape": self.last_shape,
                "stalled": self._pending is not None and not self._pending.done(), "closed": self._closed}

    def close(self) -> None:
        """Release the device; idempotent. A stalled read is abandoned, not waited for."""
        if self._closed:
            return
        self._closed = True
        if self._pending is None or self._pending.done():
            try:
                self._pool.submit(self._release).result(timeout=2.0)
            except Exception as exc:
                log.debug("camera=%s event=release_failed error=%s", self.name, exc)
        self._pool.shutdown()


class OpenCvCamera(_WorkerCamera):
    """A USB (UVC) camera through OpenCV's V4L2 backend, by device index.

    Example::

        with OpenCvCamera(index=0, width=1280, height=720) as camera:
            frame = camera.grab(timeout_s=2)
    """

    driver = "opencv"

    def __init__(self, name: str = "camera0", index: int = 0, width: int | None = None,
                 height: int | None = None, open_timeout_s: float = 5.0) -> None:
        self.index, self.width, self.height = index, width, height
        self._cap: Any = None
        super().__init__(name, open_timeout_s)

    def _open(self) -> None:
        import cv2

        cap = cv2.VideoCapture(self.index, cv2.CAP_V4L2)
        if not cap.isOpened():
            cap.release()
            raise CameraNotFound(f"no camera at index {self.index} (is it plugged in? /dev/video{self.index})")
        if self.width and self.height:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        self._cap = cap

    def _read(self) -> np.ndarray | None:
        ok, frame = self._cap.read()
        return frame if ok else None

    def _release(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def state(self) -> dict[str, Any]:
        """A printable summary."""
        return {**super().state(), "index": self.index}


class Picamera2Camera(_WorkerCamera):
    """A Pi camera module through ``picamera2`` (installed with apt on Raspberry Pi OS).

    Example::

        with Picamera2Camera(index=0, width=1280, height=720) as camera:
            frame = camera.grab()
    """

    driver = "picamera2"

    def __init__(self, name: str = "camera0", index: int = 0, width: int = 1280, height: int = 720,
                 open_timeout_s: float = 10.0) -> None:
        self.index, self.width, self.height = index, width, height
        self._cam: Any = None
        super().__init__(name, open_timeout_s)

    def _open(self) -> None:
        try:
            from picamera2 import Picamera2  # type: ignore[import-not-found]
        except ImportError as exc:
            raise DeviceUnavailable(
                "picamera2 is not installed (on Raspberry Pi OS: apt install python3-picamera2, "
                "and create the venv with --system-site-packages)") from exc
        try:
            cam = Picamera2(self.index)
            # picamera2's "RGB888" is stored B, G, R: the order OpenCV uses.
            cam.configure(cam.create_still_configuration(main={"size": (self.width, self.height), "format": "RGB888"}))
            cam.start()
        except (IndexError, RuntimeError) as exc:
            raise CameraNotFound(f"no Pi camera {self.index}: {exc}") from exc
        self._cam = cam

    def _read(self) -> np.ndarray | None:
        return self._cam.capture_array("main")

    def _release(self) -> None:
        if self._cam is not None:
            self._cam.stop()
            self._cam.close()
            self._cam = None


class SimCamera(_WorkerCamera):
    """A camera that plays a video file or a folder of images (looping), for the demo and tests.

    ``unplug()``/``plug()`` and ``stall_s`` act like a USB camera pulled out or hanging.

    Example::

        with SimCamera(source="tests/fixtures/kiosk/faces") as camera:
            frame = camera.grab()
    """

    driver = "sim"

    def __init__(self, name: str = "camera0", source: str | Path = "", loop: bool = True,
                 open_timeout_s: float = 5.0) -> None:
        self.source = Path(source)
        self.loop = loop
        self.stall_s = 0.0
        self._unplugged = False
        self._cap: Any = None
        self._images: list[Path] = []
        self._next = 0
        super().__init__(name, open_timeout_s)

    def unplug(self) -> None:
        """Pull the camera out: grabs fail until ``plug()``."""
        self._unplugged = True

    def plug(self) -> None:
        """Plug the camera back in."""
        self._unplugged = False

    def _open(self) -> None:
        import cv2

        if self._unplugged or not str(self.source) or not self.source.exists():
            raise CameraNotFound(f"no camera source at {self.source!s}")
        if self.source.is_dir():
            self._images = sorted(p for p in self.source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self._images:
                raise CameraNotFound(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {self.source}")
            self._next = 0
            return
        cap = cv2.VideoCapture(str(self.source))
        if not cap.isOpened():
            cap.release()
            raise CameraNotFound(f"cannot open video {self.source}")
        self._cap = cap

    def _read(self) -> np.ndarray | None:
        import cv2

        if self.stall_s:
            time.sleep(self.stall_s)
        if self._unplugged:
            return None
        if self._images:
            if self._next >= len(self._images):
                if not self.loop:
                    return None
                self._next = 0
            path = self._images[self._next]
            self._next += 1
            return cv2.imread(str(path), cv2.IMREAD_COLOR)
        ok, frame = self._cap.read()
        if not ok and self.loop:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._cap.read()
        return frame if ok else None

    def _release(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def state(self) -> dict[str, Any]:
        """A printable summary."""
        return {**super().state(), "source": str(self.source), "unplugged": self._unplugged}
