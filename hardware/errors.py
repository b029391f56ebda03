"""Typed hardware errors; each also subclasses the builtin a caller would naturally catch."""

from __future__ import annotations


class HardwareError(Exception):
    """Base class of every error raised by the hardware package."""


class ConfigError(HardwareError, ValueError):
    """A device configuration is invalid (bad pin, unknown profile, conflicting settings)."""


class DeviceUnavailable(HardwareError, OSError):
    """A device or the library that drives it is not present on this machine."""


class DeviceClosed(HardwareError, RuntimeError):
    """A device was used after close()."""


class ReaderError(HardwareError, IOError):
    """The card reader chip did not answer or answered nonsense (SPI, reset, version)."""


class CardReadError(ReaderError):
    """One read attempt failed: RF noise, a CRC error, a collision or a partial UID.

    The service loop treats it as "no card this poll"; it is never a crash.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        #: A short fixed token: ``timeout``, ``crc``, ``collision``, ``bcc``, ``partial``,
        #: ``protocol``, ``sak``.
        self.reason = reason


class GpioError(HardwareError, OSError):
    """A GPIO device (relay, contact, keypad) could not be claimed or driven."""


class CameraError(HardwareError, IOError):
    """The camera gave no frame: missing, unplugged, stalled or at the end of its source."""


class CameraNotFound(CameraError):
    """No camera at the configured index or path."""


class CameraTimeout(CameraError, TimeoutError):
    """The camera did not deliver a frame within the timeout."""


class PrinterError(HardwareError, IOError):
    """The badge printer cannot print; ``message`` is safe to show on the kiosk screen."""


class PrinterOffline(PrinterError):
    """The printer is unplugged, switched off or unreachable (also when it vanishes mid-job)."""


class PrinterOutOfPaper(PrinterError):
    """The printer reports no paper."""
