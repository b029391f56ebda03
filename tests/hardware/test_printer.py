"""Badge printers: escpos Dummy (simulator), a real Network printer against a local socket, File."""

import socket
import struct
import threading
from pathlib import Path

import pytest
from escpos.printer import Dummy, File
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from hardware.errors import ConfigError, DeviceClosed, PrinterError, PrinterOffline, PrinterOutOfPaper
from hardware.printer import (BadgePrinter, EscposPrinter, SimPrinter, fit_to_paper, load_profile, make_transport,
                              render_job)

BADGE = Image.new("L", (700, 400), 200)


def test_sim_printer_keeps_each_jobs_bytes_and_previews(tmp_path: Path) -> None:
    with SimPrinter(paper_dots=384, preview_dir=tmp_path) as printer:
        assert isinstance(printer, BadgePrinter)
        assert printer.print_image(BADGE) == 1
        assert printer.print_job(lines=["Visitor", "Zoë Ñúñez"], cut=False) == 2
        first, second = printer.jobs
        assert first.startswith(b"\x1b@\x1dv0")  # ESC @, then a GS v 0 raster image
        width_bytes = struct.unpack("<H", first[6:8])[0]
        assert width_bytes == 384 // 8  # scaled to the paper, centred in the profile width
        assert first.endswith(b"\x1bd\x06")  # feed only: the POS-5890 profile has no cutter
        assert b"Visitor" in second and b"\x1dV" not in second
        widths = []
        for path in printer.previews:
            with Image.open(path) as preview:
                widths.append(preview.width)
        assert widths == [384, 384]


@pytest.mark.parametrize(("paper_dots", "profile"), [(384, "POS-5890"), (576, "TM-T20II")])
def test_default_profiles_know_their_width(paper_dots: int, profile: str) -> None:
    assert load_profile(None, paper_dots) == profile


@pytest.mark.parametrize(("paper_dots", "profile", "match"), [
    (576, "POS-5890", "384 dots wide"), (500, None, "no default"), (576, "no-such-printer", "unknown"),
    (576, "default", "Unknown dots wide")])
def test_bad_profiles_are_config_errors(paper_dots: int, profile: str | None, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SimPrinter(paper_dots=paper_dots, profile=profile)


def test_out_of_paper_is_refused_before_printing() -> None:
    with SimPrinter(paper_dots=576) as printer:
        printer.run_out_of_paper()
        assert printer.status().paper == "out" and not printer.status().is_ready
        with pytest.raises(PrinterOutOfPaper, match="out of paper") as info:
            printer.print_image(BADGE)
        assert isinstance(info.value, IOError)
        assert printer.jobs == []
        printer.load_paper()
        printer.print_image(BADGE)
        assert len(printer.jobs) == 1 and printer.state()["last_error"] is None


def test_an_80mm_printer_with_a_cutter_cuts() -> None:
    with SimPrinter(paper_dots=576) as printer:
        printer.print_image(BADGE)
        assert printer.jobs[0].endswith(b"\x1dV\x00")


def test_low_paper_still_prints() -> None:
    with SimPrinter(paper_dots=576) as printer:
        printer.transport.paper = "low"
        assert printer.status().paper == "low"
        printer.print_image(BADGE)


def test_offline_and_unplugged_printers() -> None:
    with SimPrinter(paper_dots=576) as printer:
        printer.transport.online = False
        with pytest.raises(PrinterOffline, match="offline"):
            printer.print_image(BADGE)
        printer.transport.online = True
        printer.unplug()
        with pytest.raises(PrinterOffline, match="not responding"):
            printer.status()
        printer.plug()
        assert printer.print_image(BADGE) == 1


def test_printer_vanishing_mid_job_is_a_typed_error_and_it_recovers() -> None:
    with SimPrinter(paper_dots=576) as printer:
        printer.vanish_after(2000)
        with pytest.raises(PrinterOffline):
            printer.print_image(BADGE)
        assert printer.jobs == [] and "not responding" in printer.state()["last_error"]
        printer.plug()
        assert printer.print_image(BADGE) == 1


def test_empty_job_is_refused() -> None:
    with SimPrinter() as printer, pytest.raises(ValueError):
        printer.print_job()


def test_close_is_idempotent() -> None:
    printer = SimPrinter()
    printer.close()
    printer.close()
    with pytest.raises(DeviceClosed):
        printer.print_image(BADGE)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=5), st.integers(1, 1200), st.integers(1, 300))
def test_any_visitor_text_and_image_size_renders_or_fails_typed(lines: list[str], width: int, height: int) -> None:
    image = Image.new("L", (width, height), 0)
    try:
        data = render_job("POS-5890", 384, image, lines, True)
    except PrinterError:
        return
    assert data.startswith(b"\x1b@")
    assert fit_to_paper(image, 384).width <= 384


class FakeRawPrinter:
    """A TCP peer on 127.0.0.1 speaking the 9100 raw protocol (a real socket, not a mock)."""

    def __init__(self, read_bytes: int | None = None, status: bytes | None = b"\x12") -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received = bytearray()
        self.read_bytes = read_bytes
        self.status = status
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                self.received += data
                if self.read_bytes is not None and len(self.received) >= self.read_bytes:
                    # The printer is switched off mid-job: reset the connection.
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                if data.endswith(b"\x10\x04\x01") or data.endswith(b"\x10\x04\x04"):
                    if self.status is not None:
                        conn.sendall(self.status)

    def close(self) -> None:
        self.server.close()
        self.thread.join(timeout=5)


def test_network_printer_prints_over_a_real_socket() -> None:
    peer = FakeRawPrinter()
    printer = EscposPrinter(paper_dots=576, printer=make_transport("network", "TM-T20II", host="127.0.0.1", port=peer.port, timeout_s=2))
    with printer:
        assert printer.status() == printer.status().__class__(online=True, paper="ok")
        printer.print_image(BADGE)
    peer.close()
    assert b"\x1b@\x1dv0" in bytes(peer.received)


def test_network_printer_switched_off_mid_job_is_offline() -> None:
    peer = FakeRawPrinter(read_bytes=3000)
    printer = EscposPrinter(paper_dots=576, printer=make_transport("network", "TM-T20II", host="127.0.0.1", port=peer.port, timeout_s=2))
    with printer, pytest.raises(PrinterOffline):
        printer.print_image(Image.new("L", (576, 2000), 100))
    peer.close()


def test_network_printer_that_is_not_there_is_offline() -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    printer = EscposPrinter(paper_dots=576, printer=make_transport("network", "TM-T20II", host="127.0.0.1", port=port, timeout_s=1))
    with printer, pytest.raises(PrinterOffline):
        printer.print_image(BADGE)


def test_network_printer_that_never_answers_status_still_prints() -> None:
    peer = FakeRawPrinter(status=None)
    printer = EscposPrinter(paper_dots=576, printer=make_transport("network", "TM-T20II", host="127.0.0.1", port=peer.port, timeout_s=0.2))
    with printer:
        assert printer.status().paper == "unknown"
        printer.print_image(BADGE)
    peer.close()


def test_file_printer_writes_the_job(tmp_path: Path) -> None:
    path = tmp_path / "lp0"
    path.touch()
    with EscposPrinter(paper_dots=384, printer=File(str(path), profile="POS-5890")) as printer:
        assert printer.status().paper == "unknown"  # a device file cannot answer
        printer.print_image(BADGE)
    assert path.read_bytes().count(b"\x1dv0") == 1


@pytest.mark.parametrize("devfile", ["/nonexistent/usb/lp0", "/dev/full"])
def test_file_printer_missing_or_failing_is_offline(devfile: str) -> None:
    with EscposPrinter(paper_dots=384, printer=File(devfile, profile="POS-5890")) as printer, \
            pytest.raises(PrinterOffline):
        printer.print_image(BADGE)


def test_dummy_is_accepted_as_a_transport() -> None:
    with EscposPrinter(paper_dots=576, check_status=False, printer=Dummy(profile="TM-T20II")) as printer:
        printer.print_image(BADGE)


def test_usb_and_serial_without_their_libraries_say_what_to_install() -> None:
    from escpos.printer import Serial, Usb

    from hardware.errors import DeviceUnavailable

    for kind, cls, options in [("usb", Usb, {"vendor_id": 0x0416, "product_id": 0x5011}),
                               ("serial", Serial, {"devfile": "/dev/ttyUSB0"})]:
        if cls.is_usable():
            continue
        with pytest.raises(DeviceUnavailable, match="pip install"):
            make_transport(kind, "TM-T20II", **options)
    with pytest.raises(ConfigError):
        make_transport("bluetooth", "TM-T20II")


def test_preview_flattens_transparency_onto_white_like_the_printer(tmp_path: Path) -> None:
    badge = Image.new("RGBA", (200, 80), (0, 0, 0, 0))  # fully transparent black
    badge.paste((0, 0, 0, 255), (50, 20, 150, 60))  # one opaque black box
    with SimPrinter(paper_dots=384, preview_dir=tmp_path) as printer:
        printer.print_image(badge)
        with Image.open(printer.previews[0]) as preview:
            x0 = (384 - 200) // 2
            assert preview.getpixel((x0 + 5, 5)) == 255  # transparent -> white paper
            assert preview.getpixel((x0 + 100, 40)) == 0  # opaque black -> printed
