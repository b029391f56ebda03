"""``controller.toml``: strict configuration for one door controller.

Validated at start with pydantic (``extra="forbid"``, strict types): an unknown key or a
wrong type stops the service with the key's dotted name and its line in the file. Secrets
(keys, the card site key) live in files named here, readable only by the service user; the
TOML itself holds none. ``GATEHOUSE_CONTROLLER_<SECTION>_<KEY>`` environment variables
override scalar keys of the ``device``, ``broker`` and ``clock`` sections (containers).

Example::

    [device]
    id = "rr-ctl-1"
    state_dir = "/var/lib/gatehouse/controller"

    [broker]
    host = "hub.school.example"
    port = 8883
    ca_file = "/etc/gatehouse/ca.pem"
    cert_file = "/etc/gatehouse/rr-ctl-1.pem"
    key_file = "/etc/gatehouse/rr-ctl-1.key"

    [keys]
    device_key = "/etc/gatehouse/rr-ctl-1.ed25519"
    hub_public_key = "/etc/gatehouse/hub.pub"
    site_key_file = "/etc/gatehouse/site.key"

    [[doors]]
    id = "rr-1"            # the door's id in the hub's ACL
    reader = "reader0"     # device names in [hardware] (these two are the defaults)
    io = "door0"

    [[hardware.readers]]
    type = "mfrc522"
    name = "reader0"

    [[hardware.doors]]
    type = "gpio"
    name = "door0"
    relay_pin = 17
    contact_pin = 27
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hardware.config import HardwareConfig, simulated_controller_config

DeviceId = Annotated[str, Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")]
_ENV_PREFIX = "GATEHOUSE_CONTROLLER_"


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the key and its line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DeviceSection(_Strict):
    """Who this controller is and where it keeps its state."""

    id: DeviceId
    state_dir: Path = Path("/var/lib/gatehouse/controller")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    status_interval_s: Annotated[int, Field(ge=5, le=3600)] = 60
    #: how often to ask the hub whether the ACL is current (keeps the stale timer fed)
    sync_check_s: Annotated[int, Field(ge=60, le=86400)] = 3600


class BrokerSection(_Strict):
    """The MQTT broker (TLS with this device's client certificate)."""

    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 8883
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    username: str | None = None
    password_file: Path | None = None
    keepalive_s: Annotated[int, Field(ge=5, le=600)] = 30
    #: reconnect backoff ceiling (seconds)
    backoff_max_s: Annotated[int, Field(ge=1, le=600)] = 30


class KeysSection(_Strict):
    """Files holding the device's signing key, the hub's public key and the card site key."""

    device_key: Path
    hub_public_key: Path
    site_key_file: Path


class ClockSection(_Strict):
    """How the controller decides whether its clock can be trusted."""

    #: ``systemd`` asks timesyncd/timedatectl; ``synced``/``never`` pin the answer (simulation)
    ntp: Literal["systemd", "synced", "never"] = "systemd"
    #: a clock this far behind the last trusted time still counts as trusted
    tolerance_s: Annotated[int, Field(ge=0, le=3600)] = 120


Pin = Annotated[int, Field(ge=0, le=27)]


class InlineReader(_Strict):
    """A door's reader described in the door's own table (becomes ``[hardware]`` readerN)."""

    type: Literal["mfrc522", "sim"] = "mfrc522"
    bus: Annotated[int, Field(ge=0, le=6)] = 0
    device: Annotated[int, Field(ge=0, le=2)] = 0
    rst_pin: Pin = 25
    irq_pin: Pin | None = None
    poll_interval_ms: Annotated[int, Field(ge=10, le=1000)] = 50


class InlineKeypad(_Strict):
    """A door's 3x4 keypad described in the door's own table (becomes keypadN)."""

    row_pins: Annotated[list[Pin], Field(min_length=4, max_length=4)] = [12, 16, 20, 21]
    col_pins: Annotated[list[Pin], Field(min_length=3, max_length=3)] = [19, 26, 23]


class DoorConfig(_Strict):
    """One door: its id in the hub's ACL and its devices.

    Either name devices of the ``[hardware]`` table (``reader``, ``io``, ``keypad``; the Nth
    door defaults to readerN / doorN), or describe them here: ``reader = { type, device,
    rst_pin, ... }``, the door I/O pins (``relay_pin``, ``contact_pin``, ``rex_pin``, LEDs,
    buzzer, tamper; a pin left out is not fitted) and ``keypad = { row_pins, col_pins }``.
    """

    id: DeviceId
    reader: str | InlineReader | None = None
    io: str | None = None
    keypad: str | InlineKeypad | None = None
    relay_pin: Pin | None = None
    relay_active_high: bool = True
    contact_pin: Pin | None = None
    contact_normally_closed: bool = True
    rex_pin: Pin | None = None
    green_led_pin: Pin | None = None
    red_led_pin: Pin | None = None
    buzzer_pin: Pin | None = None
    tamper_pin: Pin | None = None

    def has_inline_io(self) -> bool:
        """True when the door's pins are given here rather than by ``io = name``."""
        return any(p is not None for p in (
            self.relay_pin, self.contact_pin, self.rex_pin, self.green_led_pin,
            self.red_led_pin, self.buzzer_pin, self.tamper_pin))


class ControllerConfig(_Strict):
    """The whole ``controller.toml``."""

    device: DeviceSection
    broker: BrokerSection
    keys: KeysSection
    clock: ClockSection = Field(default_factory=ClockSection)
    doors: Annotated[list[DoorConfig], Field(min_length=1, max_length=2)]
    #: the devices, as :class:`hardware.config.HardwareConfig` (``type`` picks real or sim)
    hardware: HardwareConfig = Field(default_factory=HardwareConfig)

    @model_validator(mode="after")
    def _doors_name_devices(self) -> "ControllerConfig":
        ids = [d.id for d in self.doors]
        if len(set(ids)) != len(ids):
            raise ValueError("door ids must differ")
        hw = {"readers": [r.model_dump() for r in self.hardware.readers],
              "doors": [d.model_dump() for d in self.hardware.doors],
              "keypads": [k.model_dump() for k in self.hardware.keypads]}
        filled = []
        for i, door in enumerate(self.doors):
            update: dict[str, Any] = {}
            if isinstance(door.reader, InlineReader):
                update["reader"] = _add(hw, "readers", f"reader{i}", door.reader.model_dump())
            if door.has_inline_io():
                if door.io is not None:
                    raise ValueError(f"door {door.id}: give io = <name> or the pins, not both")
                if door.relay_pin is None or door.contact_pin is None:
                    raise ValueError(f"door {door.id}: relay_pin and contact_pin are required")
                pins = door.model_dump(include={
                    "relay_pin", "relay_active_high", "contact_pin", "contact_normally_closed",
                    "rex_pin", "green_led_pin", "red_led_pin", "buzzer_pin", "tamper_pin"})
                update["io"] = _add(hw, "doors", f"door{i}", {"type": "gpio", **pins})
            if isinstance(door.keypad, InlineKeypad):
                update["keypad"] = _add(hw, "keypads", f"keypad{i}",
                                        {"type": "gpio", **door.keypad.model_dump()})
            update.setdefault("reader", door.reader or f"reader{i}")
            update.setdefault("io", door.io or f"door{i}")
            filled.append(door.model_copy(update=update))
        hardware = HardwareConfig.model_validate(hw)
        object.__setattr__(self, "doors", filled)
        object.__setattr__(self, "hardware", hardware)
        if not (hardware.readers or hardware.doors or hardware.keypads):
            return self  # no devices described: only --simulate can run (checked by the CLI)
        readers = {r.name for r in hardware.readers}
        ios = {d.name for d in hardware.doors}
        keypads = {k.name for k in hardware.keypads}
        for door in filled:
            if door.reader not in readers:
                raise ValueError(f"door {door.id}: no reader named {door.reader!r} in [hardware]")
            if door.io not in ios:
                raise ValueError(f"door {door.id}: no door I/O named {door.io!r} in [hardware]")
            if door.keypad is not None and door.keypad not in keypads:
                raise ValueError(f"door {door.id}: no keypad named {door.keypad!r} in [hardware]")
        for kind, used in (("reader", [d.reader for d in filled]), ("io", [d.io for d in filled])):
            if len(set(used)) != len(used):
                raise ValueError(f"two doors share one {kind}")
        return self


def _add(hw: dict[str, list[dict[str, Any]]], kind: str, name: str,
         spec: dict[str, Any]) -> str:
    """Append an inline device to the hardware lists under ``name``; return the name."""
    if any(d["name"] == name for d in hw[kind]):
        raise ValueError(f"[hardware] already has a device named {name!r}: name the door's "
                         "devices there, or rename it")
    hw[kind].append({**spec, "name": name})
    return name


def simulated(cfg: ControllerConfig) -> ControllerConfig:
    """The same controller on simulators: every device's ``type`` becomes ``sim``.

    With no ``[hardware]`` table, the hardware package's simulated controller (a reader,
    door I/O and keypad per door) is used, named readerN / doorN / keypad0.
    """
    hw = cfg.hardware
    if not (hw.readers or hw.doors or hw.keypads):
        hw = simulated_controller_config(len(cfg.doors))
    else:
        hw = HardwareConfig.model_validate({
            "readers": [r.model_dump() | {"type": "sim"} for r in hw.readers],
            "doors": [d.model_dump() | {"type": "sim"} for d in hw.doors],
            "keypads": [k.model_dump() | {"type": "sim"} for k in hw.keypads],
        })
    return cfg.model_copy(update={"hardware": hw})


# --------------------------------------------------------------------------- loading
def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best-effort line number of the key at ``loc`` (section path, array index, key)."""
    if not loc:
        return None
    lines = text.splitlines()
    table: list[str] = []
    array_seen: dict[str, int] = {}
    want_table = [str(p) for p in loc[:-1]]
    key = str(loc[-1])
    header_line: int | None = None
    key_re = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\")\s*=")
    inline_re = re.compile(rf"[{{,]\s*{re.escape(key)}\s*=")
    for number, line in enumerate(lines, start=1):
        stripped = line.split("#", 1)[0].strip()
        if stripped.startswith("[["):
            name = stripped.strip("[] ")
            array_seen[name] = array_seen.get(name, -1) + 1
            table = name.split(".") + [str(array_seen[name])]
        elif stripped.startswith("["):
            table = stripped.strip("[] ").split(".")
            # a sub-table of the latest array element, e.g. [doors.reader]
            if table[0] in array_seen and len(table) > 1:
                table = [table[0], str(array_seen[table[0]])] + table[1:]
        else:
            if table == want_table and key_re.match(stripped):
                return number
            if table == want_table[:-1] and len(want_table) > len(table) and stripped.startswith(
                    f"{want_table[-1]}") and inline_re.search(stripped):
                return number
            continue
        if table == list(str(p) for p in loc) or table == want_table:
            header_line = number
    return header_line


def _clean_loc(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The error's path through the file's own keys (drops union and discriminator tags)."""
    out: list[Any] = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
            out.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            out.append(part)
        elif i == len(loc) - 1 and isinstance(node, dict):
            out.append(part)  # a missing key: name it
        # else: a tag pydantic added (the union member tried), not a key of the file
    return tuple(out)


def _apply_env(data: dict[str, Any], environ: dict[str, str]) -> None:
    for name, value in environ.items():
        if not name.startswith(_ENV_PREFIX):
            continue
        parts = name[len(_ENV_PREFIX):].lower().split("_", 1)
        if len(parts) != 2 or parts[0] not in ("device", "broker", "clock"):
            raise ConfigError(f"{name}: unknown override (use {_ENV_PREFIX}<SECTION>_<KEY>)")
        section = data.setdefault(parts[0], {})
        if not isinstance(section, dict):
            raise ConfigError(f"{name}: [{parts[0]}] is not a table")
        current = section.get(parts[1])
        if isinstance(current, bool):
            section[parts[1]] = value.lower() in ("1", "true", "yes")
        elif isinstance(current, int) or (current is None and value.isdigit()
                                          and parts[1] in ("port", "keepalive_s",
                                                           "status_interval_s", "sync_check_s",
                                                           "tolerance_s")):
            try:
                section[parts[1]] = int(value)
            except ValueError:
                raise ConfigError(f"{name}: expected an integer") from None
        else:
            section[parts[1]] = value


def _paths(data: Any) -> Any:
    """TOML has no path type: turn strings under path-typed keys into Path (strict mode)."""
    path_keys = {"state_dir", "ca_file", "cert_file", "key_file", "password_file", "device_key",
                 "hub_public_key", "site_key_file"}
    if isinstance(data, dict):
        return {k: (Path(v) if k in path_keys and isinstance(v, str) else _paths(v))
                for k, v in data.items()}
    if isinstance(data, list):
        return [_paths(v) for v in data]
    return data


def parse(text: str, *, source: str = "controller.toml",
          environ: dict[str, str] | None = None) -> ControllerConfig:
    """Validate TOML text; raise ConfigError naming the key and line of the first fault."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    _apply_env(data, dict(os.environ if environ is None else environ))
    try:
        return ControllerConfig.model_validate(_paths(data))
    except ValidationError as exc:
        # With unions pydantic reports every member tried; the deepest path is the one that
        # matched the file's shape (an inline table's key, not "should be a string").
        err = max(exc.errors(), key=lambda e: len(e.get("loc", ())))
        loc = _clean_loc(data, tuple(err.get("loc", ())))
        where = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(text, loc)
        at = f" (line {line})" if line else ""
        msg = err.get("msg", "invalid")
        if err.get("type") == "extra_forbidden":
            msg = "unknown key"
        raise ConfigError(f"{source}: {where}{at}: {msg}") from None


def load(path: Path | str, *, environ: dict[str, str] | None = None) -> ControllerConfig:
    """Read and validate a ``controller.toml``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    return parse(text, source=str(path), environ=environ)
