"""Strict configuration models for every device, each chosen by a ``type`` discriminator.

A service's TOML ``[hardware]`` table validates as :class:`HardwareConfig`; ``type = "sim"``
picks the simulator of the same interface, so business code never asks "are we simulating?".
Pins are BCM GPIO numbers (gpiozero's default), as printed next to the header in the docs.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

BcmPin = Annotated[int, Field(ge=0, le=27, description="BCM GPIO number on the 40-pin header")]
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]
#: GPIOs that SPI0 takes when a reader is fitted (CE1, CE0, MISO, MOSI, SCLK).
SPI0_PINS = frozenset({7, 8, 9, 10, 11})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _ReaderBase(_Strict):
    name: Name = "reader0"
    bus: Annotated[int, Field(ge=0, le=6)] = 0
    device: Annotated[int, Field(ge=0, le=2, description="chip select: 0 = CE0, 1 = CE1")] = 0
    rst_pin: BcmPin = 25
    irq_pin: BcmPin | None = None
    spi_hz: Annotated[int, Field(ge=100_000, le=10_000_000)] = 1_000_000
    poll_interval_ms: Annotated[int, Field(ge=10, le=1000)] = 50
    release_ms: Annotated[int, Field(ge=50, le=5000)] = 300


class Mfrc522ReaderConfig(_ReaderBase):
    """An MFRC522 on the Pi's SPI bus."""

    type: Literal["mfrc522"]


class SimReaderConfig(_ReaderBase):
    """The emulated MFRC522 (the real library code against virtual cards)."""

    type: Literal["sim"]


ReaderConfig = Annotated[Union[Mfrc522ReaderConfig, SimReaderConfig], Field(discriminator="type")]


class DoorIOConfig(_Strict):
    """Strike relay, door contact, request-to-exit, LEDs, buzzer and tamper of one door."""

    type: Literal["gpio", "sim"]
    name: Name = "door0"
    relay_pin: BcmPin = 17
    relay_active_high: bool = True
    contact_pin: BcmPin = 27
    contact_normally_closed: bool = True
    rex_pin: BcmPin | None = 22
    green_led_pin: BcmPin | None = 5
    red_led_pin: BcmPin | None = 6
    buzzer_pin: BcmPin | None = 13
    tamper_pin: BcmPin | None = None
    tamper_normally_closed: bool = True
    debounce_ms: Annotated[int, Field(ge=1, le=1000)] = 30

    def pins(self) -> list[int]:
        """Every GPIO this door uses."""
        return [p for p in (self.relay_pin, self.contact_pin, self.rex_pin, self.green_led_pin,
                            self.red_led_pin, self.buzzer_pin, self.tamper_pin) if p is not None]


class KeypadConfig(_Strict):
    """A 3x4 matrix keypad: four row pins (outputs), three column pins (inputs)."""

    type: Literal["gpio", "sim"]
    name: Name = "keypad0"
    row_pins: tuple[BcmPin, BcmPin, BcmPin, BcmPin] = (12, 16, 20, 21)
    col_pins: tuple[BcmPin, BcmPin, BcmPin] = (19, 26, 23)
    debounce_ms: Annotated[int, Field(ge=1, le=1000)] = 30
    scan_interval_ms: Annotated[int, Field(ge=2, le=200)] = 10

    def pins(self) -> list[int]:
        """Every GPIO this keypad uses."""
        return [*self.row_pins, *self.col_pins]


class PanicButtonConfig(_Strict):
    """A panic button between a GPIO and GND (internal pull-up), counted after ``hold_ms``."""

    type: Literal["gpio", "sim"]
    name: Name = "panic0"
    pin: Annotated[int, Field(ge=2, le=27, description="BCM GPIO 2-27 (0 and 1 are the HAT EEPROM's)")] = 26
    hold_ms: Annotated[int, Field(ge=500, le=10_000)] = 2000
    debounce_ms: Annotated[int, Field(ge=1, le=1000)] = 30


class OpenCvCameraConfig(_Strict):
    """A USB camera by V4L2 index."""

    type: Literal["opencv"]
    name: Name = "camera0"
    index: Annotated[int, Field(ge=0, le=63)] = 0
    width: Annotated[int, Field(ge=16, le=7680)] | None = None
    height: Annotated[int, Field(ge=16, le=4320)] | None = None
    open_timeout_s: Annotated[float, Field(gt=0, le=60)] = 5.0


class Picamera2CameraConfig(_Strict):
    """A Pi camera module through picamera2."""

    type: Literal["picamera2"]
    name: Name = "camera0"
    index: Annotated[int, Field(ge=0, le=7)] = 0
    width: Annotated[int, Field(ge=16, le=7680)] = 1280
    height: Annotated[int, Field(ge=16, le=4320)] = 720
    open_timeout_s: Annotated[float, Field(gt=0, le=60)] = 10.0


class SimCameraConfig(_Strict):
    """A video file or a folder of images played as a camera."""

    type: Literal["sim"]
    name: Name = "camera0"
    source: Path
    loop: bool = True
    open_timeout_s: Annotated[float, Field(gt=0, le=60)] = 5.0


CameraConfig = Annotated[Union[OpenCvCameraConfig, Picamera2CameraConfig, SimCameraConfig], Field(discriminator="type")]


class _PrinterBase(_Strict):
    name: Name = "printer0"
    paper_dots: Annotated[int, Field(ge=96, le=1024, description="58 mm = 384, 80 mm = 576")] = 576
    profile: str | None = None
    check_status: bool = True

    @model_validator(mode="after")
    def _profile_matches_paper(self) -> "_PrinterBase":
        from hardware.printer import load_profile

        load_profile(self.profile, self.paper_dots)  # ConfigError is a ValueError
        return self


class UsbPrinterConfig(_PrinterBase):
    """A USB printer by vendor and product id (``lsusb``)."""

    type: Literal["usb"]
    vendor_id: Annotated[int, Field(ge=0, le=0xFFFF)]
    product_id: Annotated[int, Field(ge=0, le=0xFFFF)]
    in_ep: Annotated[int, Field(ge=0, le=0xFF)] = 0x82
    out_ep: Annotated[int, Field(ge=0, le=0xFF)] = 0x01
    timeout_ms: Annotated[int, Field(ge=0, le=60_000)] = 0


class NetworkPrinterConfig(_PrinterBase):
    """A printer on the network, raw port 9100."""

    type: Literal["network"]
    host: Annotated[str, Field(min_length=1, max_length=253)]
    port: Annotated[int, Field(ge=1, le=65535)] = 9100
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 5.0


class SerialPrinterConfig(_PrinterBase):
    """A printer on a serial port."""

    type: Literal["serial"]
    devfile: str = "/dev/ttyUSB0"
    baudrate: Literal[9600, 19200, 38400, 57600, 115200] = 9600
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 1.0


class FilePrinterConfig(_PrinterBase):
    """A printer reached through a device file such as ``/dev/usb/lp0`` (write-only: no status)."""

    type: Literal["file"]
    devfile: str = "/dev/usb/lp0"


class SimPrinterConfig(_PrinterBase):
    """escpos ``Dummy``; ``preview_dir`` saves a PNG of each badge (development only)."""

    type: Literal["sim"]
    preview_dir: Path | None = None


PrinterConfig = Annotated[
    Union[UsbPrinterConfig, NetworkPrinterConfig, SerialPrinterConfig, FilePrinterConfig, SimPrinterConfig],
    Field(discriminator="type"),
]


class HardwareConfig(_Strict):
    """Every device of one Pi. Pins may not be shared (except a reset line between readers)."""

    readers: list[ReaderConfig] = []
    doors: list[DoorIOConfig] = []
    keypads: list[KeypadConfig] = []
    cameras: list[CameraConfig] = []
    printers: list[PrinterConfig] = []
    buttons: list[PanicButtonConfig] = []

    @model_validator(mode="after")
    def _check_names_and_pins(self) -> "HardwareConfig":
        for kind in ("readers", "doors", "keypads", "cameras", "printers", "buttons"):
            names = Counter(d.name for d in getattr(self, kind))
            dupes = sorted(n for n, c in names.items() if c > 1)
            if dupes:
                raise ValueError(f"{kind}: name used twice: {', '.join(dupes)}")
        chip_selects = Counter((r.bus, r.device) for r in self.readers)
        for (bus, device), count in chip_selects.items():
            if count > 1:
                raise ValueError(f"readers: two readers on SPI bus {bus} device {device}")
        owners: dict[int, str] = {}

        def claim(pin: int, owner: str) -> None:
            if pin in owners and owners[pin] != owner:
                raise ValueError(f"GPIO{pin} is used by both {owners[pin]} and {owner}")
            owners[pin] = owner

        if any(r.bus == 0 for r in self.readers):
            for pin in SPI0_PINS:
                claim(pin, "SPI0 (card readers)")
        for reader in self.readers:
            claim(reader.rst_pin, "reader reset line")  # readers may share one reset line
            if reader.irq_pin is not None:
                claim(reader.irq_pin, f"reader {reader.name} IRQ")
        for door in self.doors:
            for pin in door.pins():
                claim(pin, f"door {door.name}")
        for keypad in self.keypads:
            for pin in keypad.pins():
                claim(pin, f"keypad {keypad.name}")
        for button in self.buttons:
            claim(button.pin, f"button {button.name}")
        return self


def simulated_controller_config(doors: int = 1) -> HardwareConfig:
    """A door controller made of simulators: per door a reader, door I/O and a keypad."""
    if not 1 <= doors <= 2:
        raise ValueError("a simulated controller has one or two doors")
    readers = [SimReaderConfig(type="sim", name=f"reader{i}", device=i, rst_pin=(25, 24)[i]) for i in range(doors)]
    door_cfgs = [DoorIOConfig(type="sim", name="door0")]
    keypads = [KeypadConfig(type="sim", name="keypad0")]
    if doors == 2:
        # Few GPIOs are left with two readers, a keypad and a first door: the second door
        # takes GPIO18 and GPIO4, and the UART pins 14/15 (disable the serial console).
        door_cfgs.append(DoorIOConfig(type="sim", name="door1", relay_pin=18, contact_pin=4, rex_pin=14,
                                      green_led_pin=15, red_led_pin=None, buzzer_pin=None))
    return HardwareConfig(readers=readers, doors=door_cfgs, keypads=keypads)


def simulated_kiosk_config(camera_source: Path, preview_dir: Path | None = None, paper_dots: int = 576) -> HardwareConfig:
    """A kiosk made of simulators: a camera playing ``camera_source``, a Dummy printer, a panic button."""
    return HardwareConfig(
        cameras=[SimCameraConfig(type="sim", source=camera_source)],
        printers=[SimPrinterConfig(type="sim", paper_dots=paper_dots, preview_dir=preview_dir)],
        buttons=[PanicButtonConfig(type="sim")],
    )
