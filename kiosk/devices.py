"""Build the kiosk's camera and printers from ``kiosk.toml`` sections (drivers live in ``hardware``)."""

from __future__ import annotations

from typing import Any

from hardware.camera import OpenCvCamera, Picamera2Camera, SimCamera
from hardware.errors import ConfigError as HardwareConfigError
from hardware.printer import EscposPrinter, SimPrinter
from kiosk.config import OpenCvCameraSection, PanicButtonSection, Picamera2Section, PrinterSection, SimCameraSection


def make_camera(section: Any) -> Any:
    """The camera a ``[camera]`` section describes (raises hardware's CameraError if absent)."""
    if isinstance(section, SimCameraSection):
        return SimCamera(name="camera0", source=section.source)
    if isinstance(section, OpenCvCameraSection):
        return OpenCvCamera(name="camera0", index=section.index, width=section.width, height=section.height)
    if isinstance(section, Picamera2Section):
        return Picamera2Camera(name="camera0", index=section.index, width=section.width, height=section.height)
    raise HardwareConfigError(f"unknown camera section {section!r}")


def make_printer(section: PrinterSection, name: str = "printer0") -> Any:
    """The badge printer a ``[printer]`` section describes; ``dummy`` keeps the bytes."""
    if section.type == "dummy":
        return SimPrinter(name=name, paper_dots=section.paper_dots, profile=section.profile,
                          preview_dir=section.preview_dir)
    from escpos import printer as transports

    from hardware.printer import load_profile

    profile = load_profile(section.profile, section.paper_dots)
    if section.type == "usb":
        if section.vendor_id is None or section.product_id is None:
            raise HardwareConfigError("printer.type = 'usb' needs vendor_id and product_id")
        transport = transports.Usb(section.vendor_id, section.product_id, profile=profile)
    elif section.type == "network":
        if not section.host:
            raise HardwareConfigError("printer.type = 'network' needs host")
        transport = transports.Network(section.host, port=section.port, profile=profile)
    elif section.type == "serial":
        if not section.device:
            raise HardwareConfigError("printer.type = 'serial' needs device")
        transport = transports.Serial(section.device, baudrate=section.baudrate, profile=profile)
    else:
        if not section.device:
            raise HardwareConfigError("printer.type = 'file' needs device")
        transport = transports.File(section.device, profile=profile)
    return EscposPrinter(name=name, paper_dots=section.paper_dots, profile=profile, printer=transport,
                         check_status=section.type != "file")


def make_panic_button(section: PanicButtonSection, *, pin_factory: Any = None) -> Any:
    """The panic button a ``[panic_button]`` section describes (``sim``: on a gpiozero MockFactory)."""
    from hardware.button import PanicButton, SimPanicButton

    if section.type == "sim":
        return SimPanicButton("panic0", pin=section.pin, hold_s=section.hold_s, pin_factory=pin_factory)
    return PanicButton("panic0", pin=section.pin, hold_s=section.hold_s, pin_factory=pin_factory)
