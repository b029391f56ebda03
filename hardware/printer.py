"""Badge printers on python-escpos: USB, network (port 9100), serial or a device file.

Every job is rendered into escpos's ``Dummy`` first (with the printer's real profile, so the
paper width is known and images are centred), then sent in one write. The simulator is that
same ``Dummy``: it keeps the bytes of each job and can save a PNG preview of it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

from PIL import Image, ImageDraw, ImageFont

from hardware.errors import ConfigError, DeviceClosed, PrinterError, PrinterOffline, PrinterOutOfPaper

log = logging.getLogger(__name__)

#: Profiles from escpos's capabilities database whose media width matches each paper size.
DEFAULT_PROFILES = {384: "POS-5890", 576: "TM-T20II"}
# DLE EOT n real-time status answers (Epson ESC/POS): fixed bits 0x12, offline 0x08,
# paper near end 0x0C, paper end 0x60.
_ONLINE_QUERY, _PAPER_QUERY = b"\x10\x04\x01", b"\x10\x04\x04"


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer says about itself; None where it cannot tell (write-only transports)."""

    online: bool | None
    paper: str  # "ok", "low", "out" or "unknown"

    @property
    def is_ready(self) -> bool:
        """True unless the printer says it is offline or out of paper."""
        return self.online is not False and self.paper != "out"


@runtime_checkable
class BadgePrinter(Protocol):
    """What the kiosk needs from a badge printer."""

    name: str
    paper_dots: int

    def status(self) -> PrinterStatus:
        """Ask the printer for its online and paper state."""
        ...

    def print_job(self, image: Image.Image | None = None, lines: Sequence[str] = (), *, cut: bool = True) -> int:
        """Print an image (scaled to the paper width) and text lines; return the job number."""
        ...

    def print_image(self, image: Image.Image, *, cut: bool = True) -> int:
        """Print one image (a rendered badge); return the job number."""
        ...

    def state(self) -> dict[str, Any]:
        """A printable summary."""
        ...

    def close(self) -> None:
        """Release the connection; idempotent."""
        ...


def load_profile(name: str | None, paper_dots: int) -> str:
    """Pick and check the escpos profile: its media width must equal ``paper_dots``."""
    from escpos.capabilities import get_profile

    name = name or DEFAULT_PROFILES.get(paper_dots)
    if name is None:
        raise ConfigError(f"no default printer profile for {paper_dots} dots; name one (e.g. TM-T20II)")
    try:
        profile = get_profile(name)
    except Exception as exc:  # escpos raises a bare NotSupported for unknown names
        raise ConfigError(f"unknown escpos printer profile {name!r}") from exc
    width = profile.profile_data.get("media", {}).get("width", {}).get("pixels")
    if str(width) != str(paper_dots):
        raise ConfigError(f"printer profile {name!r} is {width} dots wide, not paper_dots={paper_dots}")
    return name


def fit_to_paper(image: Image.Image, paper_dots: int) -> Image.Image:
    """Scale an image down (never up) to the paper width, keeping its aspect ratio."""
    if image.width <= paper_dots:
        return image
    height = max(1, round(image.height * paper_dots / image.width))
    return image.resize((paper_dots, height), Image.Resampling.LANCZOS)


def render_job(profile: str, paper_dots: int, image: Image.Image | None, lines: Sequence[str], cut: bool) -> bytes:
    """The ESC/POS bytes of one job (pure: rendered into escpos's Dummy)."""
    from escpos.printer import Dummy

    job = Dummy(profile=profile)
    job.hw("INIT")
    if image is not None:
        job.image(fit_to_paper(image, paper_dots), center=True)
    if lines:
        job.set(align="center")
        for line in lines:
            job.textln(line)
    if cut:
        job.cut()
    return job.output


def render_preview(paper_dots: int, image: Image.Image | None, lines: Sequence[str]) -> Image.Image:
    """A 1-bit picture of what the job would print, paper-wide, for the simulator's PNGs."""
    blocks: list[Image.Image] = []
    if image is not None:
        # As escpos does it: transparency onto white, grey, then Floyd-Steinberg to 1 bit.
        rgba = fit_to_paper(image, paper_dots).convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.split()[3])
        blocks.append(flat.convert("L").convert("1"))
    font = _preview_font()
    for line in lines:
        left, top, right, bottom = font.getbbox(line or " ")
        block = Image.new("1", (paper_dots, bottom - top + 8), 1)
        ImageDraw.Draw(block).text(((paper_dots - (right - left)) // 2, 4 - top), line, font=font, fill=0)
        blocks.append(block)
    height = sum(b.height for b in blocks) + 48  # the feed before the cut
    page = Image.new("1", (paper_dots, max(height, 1)), 1)
    y = 0
    for block in blocks:
        page.paste(block, ((paper_dots - block.width) // 2, y))
        y += block.height
    return page


def _preview_font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's bundled font has no accented letters; DejaVu (Raspberry Pi OS, Debian) has.
    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",):
        if Path(path).exists():
            return ImageFont.truetype(path, 20)
    return ImageFont.load_default(size=20)


def _is_offline_error(exc: BaseException) -> bool:
    from escpos.exceptions import DeviceNotFoundError

    return isinstance(exc, (OSError, DeviceNotFoundError)) or type(exc).__name__ in ("USBError", "SerialException")


class EscposPrinter:
    """A thermal ESC/POS printer reached through a python-escpos printer object.

    Wiring: USB to any Pi USB-A port (vendor/product id from ``lsusb``; add a udev rule so
    the service user may open it), Ethernet (port 9100), or TTL/RS-232 serial. 24 V printers
    need their own supply. Paper: 58 mm = 384 dots, 80 mm = 576 dots (at 203 dpi).

    Example::

        from escpos.printer import Network
        printer = EscposPrinter(paper_dots=576, printer=Network("10.0.0.50", profile="TM-T20II"))
        printer.print_image(badge)
    """

    kind = "printer"
    driver = "escpos"

    def __init__(self, name: str = "printer0", paper_dots: int = 576, profile: str | None = None,
                 check_status: bool = True, *, printer: Any) -> None:
        self.name = name
        self.paper_dots = paper_dots
        self.profile = load_profile(profile, paper_dots)
        self.check_status = check_status
        self._transport = printer
        self._lock = threading.Lock()
        self._closed = False
        self._reopen = False
        self.jobs_printed = 0
        self.last_error: str | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {type(self._transport).__name__}>"

    def __enter__(self) -> "EscposPrinter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, data: bytes) -> None:
        from escpos.exceptions import Error as EscposError

        try:
            if self._reopen:
                self._transport.open()
                self._reopen = False
            self._transport._raw(data)  # the documented way to send a Dummy's output on
        except (EscposError, OSError) as exc:
            self._reopen = True
            raise PrinterOffline("The badge printer is not responding. Check that it is on and connected.") from exc
        except Exception as exc:
            if _is_offline_error(exc):
                self._reopen = True
                raise PrinterOffline("The badge printer is not responding. Check that it is on and connected.") from exc
            raise

    def _query(self, command: bytes) -> int | None:
        self._send(command)
        try:
            answer = self._transport._read()
        except NotImplementedError:
            return None  # write-only transport (File)
        except TimeoutError:
            return None  # many printers never answer status queries
        except Exception as exc:
            if _is_offline_error(exc):
                self._reopen = True
                raise PrinterOffline("The badge printer stopped answering.") from exc
            raise
        if not answer:
            if type(self._transport).__name__ == "Network":
                self._reopen = True
                raise PrinterOffline("The badge printer closed the connection.")
            return None
        return answer[0]

    def status(self) -> PrinterStatus:
        """Ask the printer for its online and paper state (DLE EOT 1 and 4)."""
        if self._closed:
            raise DeviceClosed(f"printer {self.name} is closed")
        with self._lock:
            online_byte = self._query(_ONLINE_QUERY)
            paper_byte = self._query(_PAPER_QUERY)
        online = None if online_byte is None else not online_byte & 0x08
        if paper_byte is None:
            paper = "unknown"
        elif paper_byte & 0x60:
            paper = "out"
        elif paper_byte & 0x0C:
            paper = "low"
        else:
            paper = "ok"
        return PrinterStatus(online=online, paper=paper)

    def _check_ready(self, when: str) -> None:
        status = self.status()
        if status.paper == "out":
            raise PrinterOutOfPaper(f"The badge printer is out of paper{when}. Please ask the front desk.")
        if status.online is False:
            raise PrinterOffline(f"The badge printer is offline{when} (cover open?). Please ask the front desk.")

    def print_job(self, image: Image.Image | None = None, lines: Sequence[str] = (), *, cut: bool = True) -> int:
        """Print an image (scaled to the paper width) and text lines; return the job number."""
        if self._closed:
            raise DeviceClosed(f"printer {self.name} is closed")
        if image is None and not lines:
            raise ValueError("a print job needs an image or text lines")
        from escpos.exceptions import Error as EscposError

        try:
            data = render_job(self.profile, self.paper_dots, image, lines, cut)
        except EscposError as exc:
            raise PrinterError(f"cannot render the badge for this printer: {exc}") from exc
        try:
            if self.check_status:
                self._check_ready("")
            with self._lock:
                self._send(data)
            if self.check_status:
                self._check_ready("; the badge may be incomplete")
        except PrinterError as exc:
            self.last_error = str(exc)
            log.warning("printer=%s event=print_failed error=%s", self.name, type(exc).__name__)
            raise
        self.last_error = None
        self.jobs_printed += 1
        self._after_job(data, image, lines)
        return self.jobs_printed

    def _after_job(self, data: bytes, image: Image.Image | None, lines: Sequence[str]) -> None:
        """Hook for the simulator (keeps bytes and previews)."""

    def print_image(self, image: Image.Image, *, cut: bool = True) -> int:
        """Print one image (a rendered badge); return the job number."""
        return self.print_job(image, (), cut=cut)

    def state(self) -> dict[str, Any]:
        """A printable summary (does not query the printer)."""
        return {"driver": self.driver, "transport": type(self._transport).__name__, "profile": self.profile,
                "paper_dots": self.paper_dots, "jobs": self.jobs_printed, "last_error": self.last_error,
                "closed": self._closed}

    def close(self) -> None:
        """Release the connection; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._transport.close()
        except Exception as exc:
            log.debug("printer=%s event=close_failed error=%s", self.name, exc)


def _network_class() -> type:
    import socket

    from escpos.exceptions import DeviceNotFoundError
    from escpos.printer import Network

    class ClosingNetwork(Network):
        """escpos ``Network`` whose failed ``open()`` closes its socket (escpos leaks it)."""

        def open(self, raise_not_found: bool = True) -> None:
            if self._device:
                self.close()
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect((self.host, self.port))
            except OSError as exc:
                sock.close()
                self.device = None
                if raise_not_found:
                    raise DeviceNotFoundError(f"Could not open socket for {self.host}: {exc}") from exc
                return
            self.device = sock

        def close(self) -> None:
            super().close()
            self._device = False  # NOTE: escpos keeps the closed socket; then reopening fails

    return ClosingNetwork


def make_transport(kind: str, profile: str, **options: Any) -> Any:
    """Build the escpos printer object for ``kind`` usb/network/serial/file with ``options``.

    Raises DeviceUnavailable when the library escpos needs for that transport is missing.
    """
    from escpos import printer as escpos_printer

    from hardware.errors import DeviceUnavailable

    if kind == "network":
        return _network_class()(options["host"], options.get("port", 9100), timeout=options.get("timeout_s", 5),
                                profile=profile)
    if kind == "file":
        return escpos_printer.File(options["devfile"], profile=profile)
    if kind == "usb":
        if not escpos_printer.Usb.is_usable():
            raise DeviceUnavailable("USB printers need pyusb: pip install pyusb (and libusb-1.0-0)")
        return escpos_printer.Usb(options["vendor_id"], options["product_id"], timeout=options.get("timeout_ms", 0),
                                  in_ep=options.get("in_ep", 0x82), out_ep=options.get("out_ep", 0x01), profile=profile)
    if kind == "serial":
        if not escpos_printer.Serial.is_usable():
            raise DeviceUnavailable("serial printers need pyserial: pip install pyserial")
        return escpos_printer.Serial(options["devfile"], baudrate=options.get("baudrate", 9600),
                                     timeout=options.get("timeout_s", 1), profile=profile)
    raise ConfigError(f"unknown printer transport {kind!r}")


def _sim_transport_class() -> type:
    from escpos.printer import Dummy

    class SimTransport(Dummy):
        """escpos ``Dummy`` that answers status queries and can lose paper or vanish."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.paper = "ok"
            self.online = True
            self.connected = True
            self.fail_after_bytes: int | None = None
            self._answers: list[int] = []

        def _raw(self, msg: bytes) -> None:
            if not self.connected:
                raise BrokenPipeError(32, "Broken pipe")
            if self.fail_after_bytes is not None:
                if len(msg) > self.fail_after_bytes:
                    super()._raw(msg[: self.fail_after_bytes])
                    self.connected = False
                    self.fail_after_bytes = None
                    raise ConnectionResetError(104, "Connection reset by peer")
                self.fail_after_bytes -= len(msg)
            super()._raw(msg)
            if msg == _ONLINE_QUERY:
                self._answers.append(0x12 if self.online else 0x1A)
            elif msg == _PAPER_QUERY:
                self._answers.append({"ok": 0x12, "low": 0x1E, "out": 0x7E}[self.paper])

        def _read(self) -> bytes:
            return bytes((self._answers.pop(0),)) if self._answers else b""

        def open(self, raise_not_found: bool = True) -> None:
            if not self.connected:
                from escpos.exceptions import DeviceNotFoundError

                raise DeviceNotFoundError("simulated printer unplugged")

    return SimTransport


class SimPrinter(EscposPrinter):
    """An ``EscposPrinter`` whose transport is escpos's ``Dummy``; keeps every job's bytes.

    Example::

        with SimPrinter(paper_dots=384, preview_dir="var/badges") as printer:
            printer.print_image(badge)
            assert printer.jobs[-1].startswith(b"\\x1b@")
    """

    driver = "sim"

    def __init__(self, name: str = "printer0", paper_dots: int = 576, profile: str | None = None,
                 check_status: bool = True, preview_dir: str | Path | None = None) -> None:
        profile = load_profile(profile, paper_dots)
        self.transport = _sim_transport_class()(profile=profile)
        self.jobs: list[bytes] = []
        self.previews: list[Path] = []
        self.preview_dir = Path(preview_dir) if preview_dir else None
        super().__init__(name, paper_dots, profile, check_status, printer=self.transport)

    def _after_job(self, data: bytes, image: Image.Image | None, lines: Sequence[str]) -> None:
        self.jobs.append(data)
        if self.preview_dir is not None:
            # NOTE: a preview holds a visitor's photo and name in clear: development only.
            self.preview_dir.mkdir(parents=True, exist_ok=True)
            path = self.preview_dir / f"{self.name}-job-{self.jobs_printed:04d}.png"
            render_preview(self.paper_dots, image, lines).save(path)
            self.previews.append(path)

    def run_out_of_paper(self) -> None:
        """The roll runs out."""
        self.transport.paper = "out"

    def load_paper(self) -> None:
        """A new roll goes in."""
        self.transport.paper = "ok"

    def unplug(self) -> None:
        """The printer is switched off or its cable pulled."""
        self.transport.connected = False

    def plug(self) -> None:
        """The printer is back."""
        self.transport.connected = True

    def vanish_after(self, n_bytes: int) -> None:
        """The printer disappears after accepting ``n_bytes`` more bytes (mid-job)."""
        self.transport.fail_after_bytes = n_bytes
