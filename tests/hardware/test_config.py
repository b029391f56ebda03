"""Strict device configuration: discriminated by type, unknown keys and pin clashes refused."""

import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from hardware.config import (HardwareConfig, Mfrc522ReaderConfig, NetworkPrinterConfig, SimReaderConfig,
                             simulated_controller_config, simulated_kiosk_config)

CONTROLLER_TOML = """
[[readers]]
type = "mfrc522"
name = "front"
device = 0
rst_pin = 25

[[readers]]
type = "mfrc522"
name = "back"
device = 1
rst_pin = 24
irq_pin = 18

[[doors]]
type = "gpio"
name = "records"
relay_active_high = false
tamper_pin = 4

[[keypads]]
type = "gpio"
"""

KIOSK_TOML = """
[[cameras]]
type = "opencv"
index = 0
width = 1280
height = 720

[[printers]]
type = "usb"
vendor_id = 0x0416
product_id = 0x5011
paper_dots = 384
"""


def test_a_controller_toml_validates() -> None:
    config = HardwareConfig.model_validate(tomllib.loads(CONTROLLER_TOML))
    assert [type(r) for r in config.readers] == [Mfrc522ReaderConfig, Mfrc522ReaderConfig]
    assert config.doors[0].relay_active_high is False and config.doors[0].tamper_pin == 4
    assert config.keypads[0].row_pins == (12, 16, 20, 21)


def test_a_kiosk_toml_validates() -> None:
    config = HardwareConfig.model_validate(tomllib.loads(KIOSK_TOML))
    assert config.printers[0].vendor_id == 0x0416 and config.printers[0].paper_dots == 384


@pytest.mark.parametrize(("toml", "message"), [
    ('[[readers]]\ntype = "mfrc522"\nrst_pn = 25', "rst_pn"),
    ('[[readers]]\ntype = "rc522"', "type"),
    ('[[readers]]\nname = "front"', "type"),
    ('[[readers]]\ntype = "sim"\nrst_pin = 40', "rst_pin"),
    ('[[readers]]\ntype = "sim"\n[[readers]]\ntype = "sim"\nname = "b"', "two readers on SPI bus 0 device 0"),
    ('[[readers]]\ntype = "sim"\nname = "Front Door"', "name"),
    ('[[doors]]\ntype = "gpio"\nrelay_pin = 8\n[[readers]]\ntype = "sim"', "GPIO8 is used by both"),
    ('[[doors]]\ntype = "gpio"\n[[keypads]]\ntype = "gpio"\nrow_pins = [17, 16, 20, 21]', "GPIO17"),
    ('[[doors]]\ntype = "gpio"\n[[doors]]\ntype = "gpio"\nrelay_pin = 18', "name used twice"),
    ('[[keypads]]\ntype = "gpio"\nrow_pins = [12, 16, 20]', "row_pins"),
    ('[[printers]]\ntype = "network"', "host"),
    ('[[printers]]\ntype = "network"\nhost = "10.0.0.5"\npaper_dots = 576\nprofile = "POS-5890"', "384 dots wide"),
    ('[[printers]]\ntype = "file"\ndevfile = "/dev/usb/lp0"\ncolour = true', "colour"),
    ('[[printers]]\ntype = "usb"\nvendor_id = 70000\nproduct_id = 1', "vendor_id"),
    ('[[cameras]]\ntype = "sim"', "source"),
    ("[cameras]\ntype = 1", "cameras"),
])
def test_bad_configs_name_the_key(toml: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        HardwareConfig.model_validate(tomllib.loads(toml))


def test_readers_may_share_a_reset_line() -> None:
    config = HardwareConfig.model_validate(tomllib.loads(
        '[[readers]]\ntype = "sim"\n[[readers]]\ntype = "sim"\nname = "b"\ndevice = 1'))
    assert {r.rst_pin for r in config.readers} == {25}


def test_simulated_configs() -> None:
    assert len(simulated_controller_config(2).readers) == 2
    with pytest.raises(ValueError):
        simulated_controller_config(3)
    kiosk = simulated_kiosk_config(Path("faces"), paper_dots=384)
    assert kiosk.printers[0].paper_dots == 384


@given(st.dictionaries(st.text(max_size=12), st.one_of(st.integers(), st.text(max_size=8), st.booleans(),
                                                       st.none()), max_size=6))
def test_arbitrary_reader_tables_are_accepted_or_refused_cleanly(table: dict) -> None:
    try:
        SimReaderConfig.model_validate({"type": "sim", **table})
    except ValidationError:
        pass


def test_network_printer_defaults() -> None:
    cfg = NetworkPrinterConfig(type="network", host="printer.local")
    assert (cfg.port, cfg.paper_dots, cfg.timeout_s) == (9100, 576, 5.0)
