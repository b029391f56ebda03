"""Build the devices a config asks for, and list them with their state.

``build_devices`` is the only place that maps a ``type`` to a driver class; services call
it with their validated :class:`~hardware.config.HardwareConfig` and get back the same
interfaces whether the devices are real or simulated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hardware.config import (
    DoorIOConfig,
    HardwareConfig,
    KeypadConfig,
    OpenCvCameraConfig,
    PanicButtonConfig,
    Picamera2CameraConfig,
    SimCameraConfig,
    SimPrinterConfig,
    SimReaderConfig,
)
from hardware.button import PanicButton, SimPanicButton
from hardware.door import DoorIO, SimDoorIO
from hardware.errors import HardwareError
from hardware.keypad import MatrixKeypad, SimKeypad
from hardware.reader import CardReader, Mfrc522Reader, SimReader

if TYPE_CHECKING:  # numpy, OpenCV and Pillow cost a door controller ~15 MB: load them on use
    from hardware.camera import Camera
    from hardware.printer import BadgePrinter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceInfo:
    """One line of the device listing: what, which driver, and its current state."""

    kind: str
    name: str
    driver: str
    state: dict[str, Any]


@dataclass
class Devices:
    """The devices of one Pi, by kind and name; a context manager that closes them all."""

    readers: dict[str, CardReader] = field(default_factory=dict)
    doors: dict[str, DoorIO] = field(default_factory=dict)
    keypads: dict[str, MatrixKeypad] = field(default_factory=dict)
    cameras: dict[str, Camera] = field(default_factory=dict)
    printers: dict[str, BadgePrinter] = field(default_factory=dict)
    buttons: dict[str, PanicButton] = field(default_factory=dict)
    #: devices that could not be opened (only when built with strict=False)
    unavailable: list[DeviceInfo] = field(default_factory=list)
    #: the MockFactory the simulators share, if any were built
    sim_pin_factory: Any = None

    def __enter__(self) -> "Devices":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def all(self) -> list[tuple[str, Any]]:
        """(kind, device) for every open device, in a stable order."""
        out: list[tuple[str, Any]] = []
        for kind in ("readers", "doors", "keypads", "cameras", "printers", "buttons"):
            out += [(kind[:-1], device) for device in getattr(self, kind).values()]
        return out

    def describe(self) -> list[DeviceInfo]:
        """Every device (open or unavailable) with its driver and state."""
        infos = []
        for kind, device in self.all():
            try:
                state = device.state()
            except Exception as exc:  # a listing must not fail because one device did
                state = {"error": str(exc)}
            infos.append(DeviceInfo(kind, device.name, getattr(device, "driver", "?"), state))
        return infos + self.unavailable

    def close(self) -> None:
        """Close every device (doors first, so strikes lock before anything else); idempotent."""
        for kind in ("doors", "readers", "keypads", "cameras", "printers", "buttons"):
            for name, device in getattr(self, kind).items():
                try:
                    device.close()
                except Exception:
                    log.exception("device=%s event=close_failed", name)


def format_devices(infos: list[DeviceInfo]) -> str:
    """The listing as text, one device per line, for ``--simulate`` and ``--list-devices``."""
    if not infos:
        return "no devices configured"
    width = max(len(f"{i.kind} {i.name}") for i in infos)
    lines = []
    for info in infos:
        shown = {k: v for k, v in info.state.items()
                 if k != "driver" and v not in (None, {}, []) and not (k == "closed" and v is False)}
        state = " ".join(f"{k}={_compact(v)}" for k, v in shown.items())
        lines.append(f"{info.kind + ' ' + info.name:<{width}}  [{info.driver}]  {state}")
    return "\n".join(lines)


def _compact(value: Any) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}:{v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def build_devices(config: HardwareConfig, *, pin_factory: Any = None, strict: bool = True) -> Devices:
    """Open every device ``config`` names; simulators share one gpiozero ``MockFactory``.

    ``pin_factory`` is handed to the GPIO drivers (``None``: gpiozero's default on a Pi;
    tests pass a ``MockFactory``). With ``strict=False`` a device that cannot be opened is
    listed in ``Devices.unavailable`` instead of stopping the others; otherwise everything
    already opened is closed and the error raised.
    """
    devices = Devices()
    sim_factory = pin_factory
    board = None

    def mock_factory() -> Any:
        nonlocal sim_factory
        if sim_factory is None:
            from gpiozero.pins.mock import MockFactory

            sim_factory = MockFactory()
        devices.sim_pin_factory = sim_factory
        return sim_factory

    def attempt(kind: str, name: str, driver: str, make: Any) -> Any:
        try:
            return make()
        except HardwareError as exc:
            if strict:
                devices.close()
                raise
            log.warning("device=%s kind=%s event=unavailable error=%s", name, kind, exc)
            devices.unavailable.append(DeviceInfo(kind, name, driver, {"unavailable": str(exc)}))
            return None

    for reader_cfg in config.readers:
        kwargs = dict(name=reader_cfg.name, bus=reader_cfg.bus, device=reader_cfg.device, rst_pin=reader_cfg.rst_pin,
                      irq_pin=reader_cfg.irq_pin, spi_hz=reader_cfg.spi_hz,
                      poll_interval_s=reader_cfg.poll_interval_ms / 1000, release_s=reader_cfg.release_ms / 1000)
        if isinstance(reader_cfg, SimReaderConfig):
            if board is None:
                from hardware.mfrc522_sim import SimBoard

                board = SimBoard()  # one simulated Pi: readers share its SPI bus and GPIO
            reader = attempt("reader", reader_cfg.name, "sim", lambda: SimReader(
                **kwargs, board=board, pin_factory=mock_factory() if reader_cfg.irq_pin is not None else None))
        else:
            reader = attempt("reader", reader_cfg.name, "mfrc522",
                             lambda: Mfrc522Reader(**kwargs, pin_factory=pin_factory))
        if reader is not None:
            devices.readers[reader_cfg.name] = reader

    for door_cfg in config.doors:
        door = attempt("door", door_cfg.name, door_cfg.type, lambda: _door(door_cfg, pin_factory, mock_factory))
        if door is not None:
            devices.doors[door_cfg.name] = door

    for keypad_cfg in config.keypads:
        keypad = attempt("keypad", keypad_cfg.name, keypad_cfg.type,
                         lambda: _keypad(keypad_cfg, pin_factory, mock_factory))
        if keypad is not None:
            devices.keypads[keypad_cfg.name] = keypad

    for camera_cfg in config.cameras:
        camera = attempt("camera", camera_cfg.name, camera_cfg.type, lambda: _camera(camera_cfg))
        if camera is not None:
            devices.cameras[camera_cfg.name] = camera

    for printer_cfg in config.printers:
        printer = attempt("printer", printer_cfg.name, printer_cfg.type, lambda: _printer(printer_cfg))
        if printer is not None:
            devices.printers[printer_cfg.name] = printer

    for button_cfg in config.buttons:
        button = attempt("button", button_cfg.name, button_cfg.type,
                         lambda: _button(button_cfg, pin_factory, mock_factory))
        if button is not None:
            devices.buttons[button_cfg.name] = button
    return devices


def _button(cfg: PanicButtonConfig, pin_factory: Any, mock_factory: Any) -> PanicButton:
    kwargs = dict(pin=cfg.pin, hold_s=cfg.hold_ms / 1000, debounce_s=cfg.debounce_ms / 1000)
    if cfg.type == "sim":
        return SimPanicButton(cfg.name, pin_factory=mock_factory(), **kwargs)
    return PanicButton(cfg.name, pin_factory=pin_factory, **kwargs)


def _door(cfg: DoorIOConfig, pin_factory: Any, mock_factory: Any) -> DoorIO:
    kwargs = dict(relay_pin=cfg.relay_pin, contact_pin=cfg.contact_pin, rex_pin=cfg.rex_pin,
                  green_led_pin=cfg.green_led_pin, red_led_pin=cfg.red_led_pin, buzzer_pin=cfg.buzzer_pin,
                  tamper_pin=cfg.tamper_pin, relay_active_high=cfg.relay_active_high,
                  contact_normally_closed=cfg.contact_normally_closed,
                  tamper_normally_closed=cfg.tamper_normally_closed, debounce_s=cfg.debounce_ms / 1000)
    if cfg.type == "sim":
        return SimDoorIO(cfg.name, pin_factory=mock_factory(), **kwargs)
    return DoorIO(cfg.name, pin_factory=pin_factory, **kwargs)


def _keypad(cfg: KeypadConfig, pin_factory: Any, mock_factory: Any) -> MatrixKeypad:
    kwargs = dict(row_pins=cfg.row_pins, col_pins=cfg.col_pins, debounce_s=cfg.debounce_ms / 1000,
                  scan_interval_s=cfg.scan_interval_ms / 1000)
    if cfg.type == "sim":
        return SimKeypad(cfg.name, pin_factory=mock_factory(), **kwargs)
    return MatrixKeypad(cfg.name, pin_factory=pin_factory, **kwargs)


def _camera(cfg: Any) -> Camera:
    from hardware.camera import OpenCvCamera, Picamera2Camera, SimCamera

    if isinstance(cfg, SimCameraConfig):
        return SimCamera(cfg.name, source=cfg.source, loop=cfg.loop, open_timeout_s=cfg.open_timeout_s)
    if isinstance(cfg, Picamera2CameraConfig):
        return Picamera2Camera(cfg.name, index=cfg.index, width=cfg.width, height=cfg.height,
                               open_timeout_s=cfg.open_timeout_s)
    assert isinstance(cfg, OpenCvCameraConfig)
    return OpenCvCamera(cfg.name, index=cfg.index, width=cfg.width, height=cfg.height,
                        open_timeout_s=cfg.open_timeout_s)


def _printer(cfg: Any) -> BadgePrinter:
    from hardware.printer import EscposPrinter, SimPrinter, make_transport

    common = dict(name=cfg.name, paper_dots=cfg.paper_dots, profile=cfg.profile, check_status=cfg.check_status)
    if isinstance(cfg, SimPrinterConfig):
        return SimPrinter(**common, preview_dir=cfg.preview_dir)
    options = cfg.model_dump(exclude={"type", "name", "paper_dots", "profile", "check_status"})
    from hardware.printer import load_profile

    transport = make_transport(cfg.type, load_profile(cfg.profile, cfg.paper_dots), **options)
    return EscposPrinter(**common, printer=transport)
