"""``python -m hardware``: build the devices a config names and print them with their state.

Examples::

    python -m hardware --simulate controller
    python -m hardware --config /etc/gatehouse/controller.toml
"""

from __future__ import annotations

import argparse
import logging
import sys
import tomllib
from pathlib import Path

from pydantic import ValidationError

from hardware.config import HardwareConfig, simulated_controller_config, simulated_kiosk_config
from hardware.devices import build_devices, format_devices
from hardware.errors import HardwareError


def main(argv: list[str] | None = None) -> int:
    """List devices; exit 2 on a bad config, 1 when a device is unavailable."""
    parser = argparse.ArgumentParser(prog="python -m hardware", description="List Gatehouse devices and their state.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="a service TOML file with a [hardware] table")
    source.add_argument("--simulate", choices=["controller", "kiosk"], help="list the simulated devices")
    parser.add_argument("--camera-source", type=Path, default=Path("."),
                        help="video file or image folder for the simulated kiosk camera")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    if args.simulate == "controller":
        config = simulated_controller_config()
    elif args.simulate == "kiosk":
        config = simulated_kiosk_config(args.camera_source)
    else:
        try:
            table = tomllib.loads(args.config.read_text()).get("hardware", {})
            config = HardwareConfig.model_validate(table)
        except OSError as exc:
            print(f"cannot read {args.config}: {exc}", file=sys.stderr)
            return 2
        except (tomllib.TOMLDecodeError, ValidationError) as exc:
            print(f"{args.config}: invalid [hardware] table:\n{exc}", file=sys.stderr)
            return 2
    try:
        with build_devices(config, strict=False) as devices:
            print(format_devices(devices.describe()))
            return 1 if devices.unavailable else 0
    except HardwareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
