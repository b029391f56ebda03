"""kiosk.toml: strict, with the key and line in every error."""

from __future__ import annotations

import pytest

from kiosk import config

GOOD = """
[kiosk]
id = "kiosk-front"
idle_s = 60
hub_timeout_s = 2.0

[camera]
type = "opencv"
index = 0

[printer]
type = "usb"
vendor_id = 0x04b8
product_id = 0x0e15
paper_dots = 576
"""


def test_good() -> None:
    cfg = config.parse(GOOD)
    assert (cfg.kiosk.id, cfg.camera.type, cfg.printer.vendor_id, cfg.link) == ("kiosk-front", "opencv", 0x04B8, None)


@pytest.mark.parametrize(("text", "needle"), [
    (GOOD.replace("idle_s = 60", "idle_s = 60\nidel_s = 5"), "kiosk.idel_s (line 5)"),
    (GOOD.replace('id = "kiosk-front"', 'id = "Kiosk Front"'), "kiosk.id (line 3)"),
    (GOOD.replace("idle_s = 60", 'idle_s = "60"'), "kiosk.idle_s (line 4)"),
    (GOOD.replace("paper_dots = 576", "paper_dots = 500"), "printer.paper_dots"),
    (GOOD.replace('type = "opencv"', 'type = "webcam"'), "camera"),
    (GOOD.replace("[kiosk]", "[kiosk\n"), "kiosk.toml"),
    (GOOD + "\n[surprise]\nx = 1\n", "surprise"),
])
def test_bad(text: str, needle: str) -> None:
    with pytest.raises(config.ConfigError) as err:
        config.parse(text)
    assert needle in str(err.value)


def test_environment_overrides(tmp_path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text(GOOD)
    cfg = config.load(path, {"GATEHOUSE_KIOSK_ID": "kiosk-side", "GATEHOUSE_KIOSK_STATE_DIR": "/tmp/x"})
    assert (cfg.kiosk.id, cfg.kiosk.state_dir) == ("kiosk-side", "/tmp/x")
    with pytest.raises(config.ConfigError, match="kiosk.id"):
        config.load(path, {"GATEHOUSE_KIOSK_ID": "BAD ID"})


def test_missing_file(tmp_path) -> None:
    with pytest.raises(config.ConfigError, match="cannot read"):
        config.load(tmp_path / "nope.toml")


def test_simulated() -> None:
    cfg = config.simulated("var/x", "cam")
    assert cfg.camera.type == "sim" and cfg.printer.type == "dummy"
