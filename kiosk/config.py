"""``kiosk.toml``: validated strictly at start (an unknown key or a wrong type names key and line).

Example::

    [kiosk]
    id = "kiosk-front"
    state_dir = "/var/lib/gatehouse/kiosk"
    idle_s = 60

    [camera]
    type = "opencv"          # or "picamera2", or "sim" with source = "<folder or video>"
    index = 0

    [printer]
    type = "usb"             # "network", "serial", "file", or "dummy" (simulation)
    vendor_id = 0x04b8
    product_id = 0x0e15
    paper_dots = 576

    [panic_button]           # optional: a held press asks the hub for a lockdown
    type = "gpio"            # or "sim" (gpiozero MockFactory)
    pin = 26                 # BCM; the button goes between GPIO26 (pin 37) and GND (pin 39)
    hold_s = 2.0

    [link]                   # omit to run without a hub (offline only)
    host = "hub.district.example"
    port = 8883
    ca_file = "/etc/gatehouse/ca.pem"
    cert_file = "/etc/gatehouse/kiosk-front.crt"
    key_file = "/etc/gatehouse/kiosk-front.key"
    device_key_file = "/etc/gatehouse/kiosk-front.ed25519.pem"
    hub_public_key_file = "/etc/gatehouse/hub.pub.pem"

Environment variables ``GATEHOUSE_KIOSK_ID``, ``GATEHOUSE_KIOSK_STATE_DIR`` and
``GATEHOUSE_BROKER_HOST`` / ``GATEHOUSE_BROKER_PORT`` override the file (containers).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DeviceId = Annotated[str, Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")]


class ConfigError(ValueError):
    """``kiosk.toml`` is missing, unreadable or invalid; the message names the key and line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class KioskSection(_Strict):
    """``[kiosk]``: identity, state and screen behaviour."""

    id: DeviceId
    state_dir: str = "var/kiosk"
    listen: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    idle_s: Annotated[int, Field(ge=10, le=600)] = 60
    hub_timeout_s: Annotated[float, Field(gt=0, le=30)] = 2.0
    languages: list[Literal["en", "es", "pt"]] = Field(default_factory=lambda: ["en", "es", "pt"])
    #: the hub's directory and watch list are fetched this often while it answers
    refresh_s: Annotated[int, Field(ge=30, le=86400)] = 300
    #: a watch-list cache older than this cannot clear anyone (held for the desk)
    watch_max_age_s: Annotated[int, Field(ge=60, le=7 * 86400)] | None = None
    visit_hours: Annotated[int, Field(ge=1, le=24)] = 8
    #: a staff PIN for the on-screen staff menu, as a file readable only by the service
    staff_pin_file: str | None = None


class OpenCvCameraSection(_Strict):
    """A USB camera by index."""

    type: Literal["opencv"]
    index: Annotated[int, Field(ge=0, le=63)] = 0
    width: Annotated[int, Field(ge=160, le=4096)] | None = 1280
    height: Annotated[int, Field(ge=120, le=4096)] | None = 720


class Picamera2Section(_Strict):
    """A Pi camera module."""

    type: Literal["picamera2"]
    index: Annotated[int, Field(ge=0, le=7)] = 0
    width: Annotated[int, Field(ge=160, le=4096)] = 1280
    height: Annotated[int, Field(ge=120, le=4096)] = 720


class SimCameraSection(_Strict):
    """Simulation: a folder of images or a video file, looped."""

    type: Literal["sim"]
    source: str


CameraSection = Annotated[OpenCvCameraSection | Picamera2Section | SimCameraSection, Field(discriminator="type")]


class PrinterSection(_Strict):
    """The badge printer (python-escpos transport), or ``dummy`` to keep the bytes."""

    type: Literal["usb", "network", "serial", "file", "dummy"]
    paper_dots: Literal[384, 576] = 384
    profile: str | None = None
    vendor_id: Annotated[int, Field(ge=0, le=0xFFFF)] | None = None
    product_id: Annotated[int, Field(ge=0, le=0xFFFF)] | None = None
    host: str | None = None
    port: Annotated[int, Field(ge=1, le=65535)] = 9100
    device: str | None = None
    baudrate: Annotated[int, Field(ge=1200, le=921600)] = 9600
    #: simulation: keep a PNG preview of every job here
    preview_dir: str | None = None


class PanicButtonSection(_Strict):
    """``[panic_button]``: a held press asks the hub for a lockdown (``gpio``, or ``sim`` on MockFactory)."""

    type: Literal["gpio", "sim"]
    #: BCM GPIO number; the button goes between this pin and GND (internal pull-up)
    pin: int = 26
    #: how long the button must be held before it counts (no accidental lockdowns)
    hold_s: Annotated[float, Field(ge=0.5, le=10)] = 2.0

    @field_validator("pin")
    @classmethod
    def _usable_pin(cls, pin: int) -> int:
        if not 2 <= pin <= 27:
            raise ValueError(f"GPIO {pin} cannot be used: give a BCM number from 2 to 27 "
                             "(0 and 1 belong to the HAT EEPROM)")
        return pin


class LinkSection(_Strict):
    """How to reach the hub: the broker (TLS client certificate) and the signing keys."""

    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 8883
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    device_key_file: str
    hub_public_key_file: str


class KioskToml(_Strict):
    """The whole of ``kiosk.toml``."""

    kiosk: KioskSection
    camera: CameraSection
    printer: PrinterSection
    fallback_printer: PrinterSection | None = None
    panic_button: PanicButtonSection | None = None
    link: LinkSection | None = None


def _line_of(text: str, key: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(key) and "=" in stripped and stripped[: len(key) + 1].rstrip(" =") == key:
            return number
        if stripped == f"[{key}]":
            return number
    return None


def parse(text: str, *, source: str = "kiosk.toml") -> KioskToml:
    """Validate TOML text; ConfigError names the key and its line."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    try:
        return KioskToml.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"] if not str(p) in ("opencv", "picamera2", "sim")]
        key = ".".join(loc) or "(top)"
        line = _line_of(text, loc[-1]) if loc else None
        where = f" (line {line})" if line else ""
        raise ConfigError(f"{source}: {key}{where}: {err['msg']}") from None


def load(path: str | Path, environ: dict[str, str] | None = None) -> KioskToml:
    """Read ``path``, validate it, apply environment overrides."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    config = parse(text, source=str(path))
    return apply_environment(config, os.environ if environ is None else environ)


def apply_environment(config: KioskToml, env: dict[str, str] | Any) -> KioskToml:
    """``GATEHOUSE_KIOSK_ID``, ``GATEHOUSE_KIOSK_STATE_DIR``, ``GATEHOUSE_BROKER_HOST/PORT``."""
    kiosk = dict(config.kiosk.model_dump())
    if env.get("GATEHOUSE_KIOSK_ID"):
        kiosk["id"] = env["GATEHOUSE_KIOSK_ID"]
    if env.get("GATEHOUSE_KIOSK_STATE_DIR"):
        kiosk["state_dir"] = env["GATEHOUSE_KIOSK_STATE_DIR"]
    link = config.link.model_dump() if config.link else None
    if link is not None:
        if env.get("GATEHOUSE_BROKER_HOST"):
            link["host"] = env["GATEHOUSE_BROKER_HOST"]
        if env.get("GATEHOUSE_BROKER_PORT"):
            try:
                link["port"] = int(env["GATEHOUSE_BROKER_PORT"])
            except ValueError:
                raise ConfigError("GATEHOUSE_BROKER_PORT: not a number") from None
    data = config.model_dump()
    data["kiosk"], data["link"] = kiosk, link
    try:
        return KioskToml.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"environment: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None


def simulated(state_dir: str | Path, camera_source: str | Path, *, kiosk_id: str = "kiosk-sim",
              paper_dots: int = 384, idle_s: int = 60) -> KioskToml:
    """The configuration ``--simulate`` uses: image-folder camera, Dummy printer, no hub."""
    return KioskToml.model_validate({
        "kiosk": {"id": kiosk_id, "state_dir": str(state_dir), "idle_s": idle_s},
        "camera": {"type": "sim", "source": str(camera_source)},
        "printer": {"type": "dummy", "paper_dots": paper_dots, "preview_dir": str(Path(state_dir) / "prints")},
    })
