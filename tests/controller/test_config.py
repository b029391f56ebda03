"""controller.toml: strict validation that names the key and its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import ConfigError, load, parse, simulated

GOOD = """\
[device]
id = "rr-ctl-1"
state_dir = "/tmp/state"

[broker]
host = "hub.local"
port = 8883

[keys]
device_key = "/etc/gatehouse/dev.key"
hub_public_key = "/etc/gatehouse/hub.pub"
site_key_file = "/etc/gatehouse/site.key"

[[doors]]
id = "rr-1"

[[doors]]
id = "rr-2"
keypad = "keypad0"

[[hardware.readers]]
type = "mfrc522"
name = "reader0"

[[hardware.readers]]
type = "sim"
name = "reader1"
device = 1
rst_pin = 24

[[hardware.doors]]
type = "gpio"
name = "door0"

[[hardware.doors]]
type = "gpio"
name = "door1"
relay_pin = 18
contact_pin = 4
rex_pin = 14
green_led_pin = 15
red_led_pin = 2
buzzer_pin = 3

[[hardware.keypads]]
type = "gpio"
name = "keypad0"
"""


def test_good_config() -> None:
    """A complete config loads with defaults filled in and doors mapped to devices."""
    cfg = parse(GOOD, environ={})
    assert cfg.device.id == "rr-ctl-1" and cfg.device.state_dir == Path("/tmp/state")
    assert [(d.id, d.reader, d.io, d.keypad) for d in cfg.doors] == [
        ("rr-1", "reader0", "door0", None), ("rr-2", "reader1", "door1", "keypad0")]
    assert cfg.hardware.readers[1].type == "sim" and cfg.hardware.keypads[0].row_pins[0] == 12
    assert cfg.clock.ntp == "systemd" and cfg.broker.port == 8883


def test_simulated_turns_every_device_into_its_simulator() -> None:
    """--simulate keeps names and pins, and picks the simulators."""
    cfg = simulated(parse(GOOD, environ={}))
    hw = cfg.hardware
    assert {r.type for r in hw.readers} == {d.type for d in hw.doors} == {"sim"}
    assert hw.doors[1].relay_pin == 18 and hw.keypads[0].type == "sim"


def test_simulated_without_hardware_table() -> None:
    """No [hardware] table: the hardware package's simulated controller."""
    text = GOOD.split("[[hardware.readers]]")[0].replace('keypad = "keypad0"', "")
    cfg = simulated(parse(text, environ={}))
    assert [r.name for r in cfg.hardware.readers] == ["reader0", "reader1"]
    assert [d.name for d in cfg.hardware.doors] == ["door0", "door1"]


@pytest.mark.parametrize("old, new, expected", [
    ('port = 8883', 'port = 8883\nprt = 1', r"broker\.prt \(line 8\): unknown key"),
    ('port = 8883', 'port = "8883"', r"broker\.port \(line 7\): Input should be a valid integer"),
    ('relay_pin = 18', 'relay_pin = 99', r"hardware\.doors\.1\.relay_pin \(line 38\)"),
    ('type = "sim"', 'type = "pn532"', r"hardware\.readers\.1 \(line 25\).*pn532"),
    ('rst_pin = 24', 'rst_pin = 24\nspeed = 3',
     r"hardware\.readers\.1\.speed \(line 30\): unknown key"),
    ('id = "rr-2"', 'id = "RR 2"', r"doors\.1\.id \(line 18\)"),
    ('contact_pin = 4', 'contact_pin = 27', r"GPIO27 is used by both"),
    ('id = "rr-2"', 'id = "rr-1"', r"door ids must differ"),
    ('[device]', '[device]\nmood = "happy"', r"device\.mood \(line 2\): unknown key"),
    ('keypad = "keypad0"', 'keypad = "keypad9"', r"no keypad named 'keypad9'"),
    ('id = "rr-1"', 'id = "rr-1"\nreader = "reader1"', r"two doors share one reader"),
    ('id = "rr-1"', 'id = "rr-1"\nio = "door7"', r"no door I/O named 'door7'"),
], ids=["unknown key", "wrong type", "pin out of range", "unknown reader type",
        "nested unknown", "bad id", "shared pin", "duplicate door", "unknown in device",
        "missing keypad", "shared reader", "missing door io"])
def test_bad_config_names_key_and_line(old: str, new: str, expected: str) -> None:
    """Each fault is refused with the dotted key and, where it has one, its line."""
    with pytest.raises(ConfigError, match=expected):
        parse(GOOD.replace(old, new, 1), environ={})


def test_missing_section() -> None:
    """A missing required section is named."""
    text = GOOD.split("[keys]")[0] + GOOD.split("site.key\"\n")[1]
    with pytest.raises(ConfigError, match="keys"):
        parse(text, environ={})


def test_not_toml() -> None:
    """Broken TOML is refused with the parser's position."""
    with pytest.raises(ConfigError, match="not valid TOML.*line"):
        parse("[device\nid = 1", environ={})


def test_env_overrides() -> None:
    """GATEHOUSE_CONTROLLER_<SECTION>_<KEY> overrides scalars, typed like the file."""
    cfg = parse(GOOD, environ={"GATEHOUSE_CONTROLLER_BROKER_HOST": "10.0.0.5",
                               "GATEHOUSE_CONTROLLER_BROKER_PORT": "1883",
                               "GATEHOUSE_CONTROLLER_CLOCK_NTP": "never"})
    assert (cfg.broker.host, cfg.broker.port, cfg.clock.ntp) == ("10.0.0.5", 1883, "never")


@pytest.mark.parametrize("env, expected", [
    ({"GATEHOUSE_CONTROLLER_BROKER_PORT": "eighty"}, "expected an integer"),
    ({"GATEHOUSE_CONTROLLER_DOORS_X": "1"}, "unknown override"),
    ({"GATEHOUSE_CONTROLLER_BROKER_COLOUR": "red"}, "broker.colour.*unknown key"),
])
def test_bad_env_override(env: dict[str, str], expected: str) -> None:
    """Overrides are as strict as the file."""
    with pytest.raises(ConfigError, match=expected):
        parse(GOOD, environ=env)


def test_load_missing_file(tmp_path: Path) -> None:
    """An unreadable file is named."""
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "nope.toml", environ={})


def test_load_not_utf8(tmp_path: Path) -> None:
    """A binary file is refused."""
    path = tmp_path / "c.toml"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="UTF-8"):
        load(path, environ={})


# --------------------------------------------------------------------------- property tests
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from controller.config import ControllerConfig  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_text_is_a_config_or_a_config_error(text: str) -> None:
    """Whatever the file holds, the loader answers with a config or a ConfigError."""
    try:
        assert isinstance(parse(text, environ={}), ControllerConfig)
    except ConfigError as exc:
        assert str(exc).startswith("controller.toml: ")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), max_size=4),
       st.sampled_from(['"x"', "1", "-5", "true", "[1, 2]", "{a = 1}", "3.5", "'x'"]))
def test_mangled_good_config(drop: list[int], value: str) -> None:
    """Dropping lines and changing a value never escapes as anything but ConfigError."""
    lines = GOOD.splitlines()
    kept = [line for i, line in enumerate(lines) if i not in drop]
    if drop:
        i = drop[0] % len(kept)
        if "=" in kept[i]:
            kept[i] = kept[i].split("=", 1)[0] + "= " + value
    try:
        parse("\n".join(kept), environ={})
    except ConfigError:
        pass


INLINE = """\
[device]
id = "rr-ctl-2"

[broker]
host = "hub.local"

[keys]
device_key = "/k/dev.key"
hub_public_key = "/k/hub.pub"
site_key_file = "/k/site.key"

[[doors]]
id = "rr-1"
reader = { type = "mfrc522", device = 0, rst_pin = 25 }
relay_pin = 17
contact_pin = 27
rex_pin = 22
green_led_pin = 5
red_led_pin = 6
buzzer_pin = 13

[[doors]]
id = "rr-2"
reader = { type = "mfrc522", device = 1, rst_pin = 25 }
relay_pin = 18
contact_pin = 4
rex_pin = 14
keypad = {}
"""


def test_inline_devices_become_hardware_entries() -> None:
    """Devices described in the door's own table (as hub bundles write them) are accepted."""
    cfg = parse(INLINE, environ={})
    assert [(d.reader, d.io, d.keypad) for d in cfg.doors] == [
        ("reader0", "door0", None), ("reader1", "door1", "keypad1")]
    hw = cfg.hardware
    assert [(r.name, r.type, r.device) for r in hw.readers] == [("reader0", "mfrc522", 0),
                                                               ("reader1", "mfrc522", 1)]
    door1 = hw.doors[1]
    assert (door1.type, door1.relay_pin, door1.green_led_pin, door1.buzzer_pin) == (
        "gpio", 18, None, None)
    assert hw.keypads[0].row_pins == (12, 16, 20, 21)
    sim = simulated(cfg).hardware
    assert {r.type for r in sim.readers} | {d.type for d in sim.doors} == {"sim"}


@pytest.mark.parametrize("old, new, expected", [
    ("contact_pin = 4\n", "", r"rr-2: relay_pin and contact_pin are required"),
    ("rex_pin = 14", 'rex_pin = 14\nio = "door0"', r"give io = <name> or the pins"),
    ("contact_pin = 4", "contact_pin = 9", r"GPIO9 is used by both SPI0"),
    ("keypad = {}", "keypad = { row_pins = [1, 2] }", r"doors\.1\.keypad\.row_pins \(line 28\)"),
    ("rst_pin = 25 }\nrelay_pin = 18", "rst_pn = 25 }\nrelay_pin = 18",
     r"doors\.1\.reader\.rst_pn \(line 24\)"),
], ids=["missing contact", "io and pins", "SPI pin", "short keypad", "reader typo"])
def test_inline_devices_refused(old: str, new: str, expected: str) -> None:
    """Inline device mistakes are named like any other key."""
    with pytest.raises(ConfigError, match=expected):
        parse(INLINE.replace(old, new, 1), environ={})
