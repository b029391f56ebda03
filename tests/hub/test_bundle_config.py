"""A controller bundle's TOML, for one door or two, is a config the controller accepts."""

from __future__ import annotations

import pytest

from controller import config as controller_config
from hub.pki import device_toml


@pytest.mark.parametrize("doors", [["door-1"], ["door-1", "door-2"]])
def test_bundle_toml_loads_in_the_controller(doors: list[str]) -> None:
    text = device_toml(device_id="ctl-1", kind="controller", broker_host="hub.example", broker_port=8883,
                       door_ids=doors)
    cfg = controller_config.parse(text, source="controller.toml")
    assert [d.id for d in cfg.doors] == doors
