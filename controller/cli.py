"""``gatehouse-controller``: run a door controller, simulate one, or list its devices.

Exit codes: 0 clean stop; 2 bad configuration or key files; 3 the credential cache is
corrupt (left in place; systemd does not restart on 2 or 3, a person must look); 4 the
hardware cannot be opened (restarted: a reader may come back); 70 a fail-secure stop after
an internal error (systemd restarts the service).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from controller import config as config_mod
from controller.cache import AclCache, CacheCorrupt
from controller.clock import ntp_probe
from controller.config import ControllerConfig
from hardware.errors import HardwareError
from link import keys
from link.client import BrokerConfig
from link.sqlite import StoreError

log = logging.getLogger("gatehouse.controller")

EXIT_CONFIG = 2
EXIT_CACHE = 3
EXIT_HARDWARE = 4


class _KeyValueFormatter(logging.Formatter):
    """``ts=... level=... logger=... msg`` lines for the journal."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
        line = (f"ts={stamp} level={record.levelname.lower()} logger={record.name} "
                f"{record.getMessage()}")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def read_site_key(path: Path) -> bytes:
    """The card site key: a file of hex text, or of raw bytes (at least 16)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise keys.KeyFileError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        key = bytes.fromhex(raw.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        key = raw
    if len(key) < 16:
        raise keys.KeyFileError(f"{path}: the site key must be at least 16 bytes")
    return key


def broker_config(cfg: ControllerConfig) -> BrokerConfig:
    """The link's broker settings from the TOML."""
    b = cfg.broker
    password = None
    if b.password_file is not None:
        try:
            password = b.password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise keys.KeyFileError(f"{b.password_file}: cannot read ({exc.strerror})") from None
    return BrokerConfig(host=b.host, port=b.port, client_id=cfg.device.id, ca_file=b.ca_file,
                        cert_file=b.cert_file, key_file=b.key_file, username=b.username,
                        password=password, keepalive_s=b.keepalive_s,
                        backoff_min_s=min(1.0, float(b.backoff_max_s)),
                        backoff_max_s=float(b.backoff_max_s))


def _version() -> str:
    try:
        return metadata.version("gatehouse")
    except metadata.PackageNotFoundError:
        return "dev"


def open_hardware(cfg: ControllerConfig, *, simulate: bool) -> tuple[Any, dict[str, Any]]:
    """Build the devices (simulators when ``simulate``) and group them per door."""
    from controller.hw import DoorHardware, open_devices

    if simulate:
        cfg = config_mod.simulated(cfg)
    elif not (cfg.hardware.readers or cfg.hardware.doors):
        raise config_mod.ConfigError(
            "controller.toml has no [hardware] table: describe the devices, or run --simulate")
    devices = open_devices(cfg.hardware)
    try:
        doors = {d.id: DoorHardware(d.id, io=devices.doors[d.io or ""],
                                    reader=devices.readers[d.reader or ""],
                                    keypad=devices.keypads.get(d.keypad) if d.keypad else None)
                 for d in cfg.doors}
    except KeyError as exc:
        devices.close()
        raise config_mod.ConfigError(f"a door names a device the hardware lacks: {exc}") from None
    return devices, doors


def list_devices(cfg: ControllerConfig, *, simulate: bool) -> int:
    """Print the devices this controller would use, their state, and which door uses what."""
    from controller.hw import format_devices

    devices, doors = open_hardware(cfg, simulate=simulate)
    with devices:
        print(format_devices(devices))
        for hw in doors.values():
            state = hw.state()
            print(f"door {state['door']}: reader={state['reader']} io={state['io']} "
                  f"keypad={state['keypad'] or '-'}")
        cache_path = cfg.device.state_dir / "acl.db"
        if cache_path.exists():
            with AclCache(cache_path) as cache:
                synced = cache.last_sync_at.isoformat() if cache.last_sync_at else "never"
                print(f"acl version={cache.version} credentials={len(cache)} "
                      f"last_sync={synced}")
        else:
            print("acl none (the controller asks the hub for a snapshot when it starts)")
    return 0


class ControllerApp:
    """Everything one controller process runs: cache, link, doors and the service."""

    def __init__(self, cfg: ControllerConfig, *, simulate: bool,
                 clock: Callable[[], datetime] | None = None) -> None:
        from controller.service import ControllerService, utc_now
        from link.device import DeviceLink

        self.cfg = cfg
        self.simulate = simulate
        private_key = keys.load_private(cfg.keys.device_key)
        hub_key = keys.load_public(cfg.keys.hub_public_key)
        site_key = read_site_key(cfg.keys.site_key_file)
        broker = broker_config(cfg)
        clock = clock or utc_now
        self.cache = AclCache(cfg.device.state_dir / "acl.db")
        self.link: Any = None
        self.devices: Any = None
        self.doors: dict[str, Any] = {}
        try:
            self.link = DeviceLink(cfg.device.id, kind="controller", private_key=private_key,
                                   hub_key=hub_key, broker=broker, state_dir=cfg.device.state_dir,
                                   clock=clock, version=_version(), accept_sim=simulate)
            self.devices, self.doors = open_hardware(cfg, simulate=simulate)
            self.service = ControllerService(
                device_id=cfg.device.id, cache=self.cache, link=self.link, doors=self.doors,
                site_key=site_key, clock=clock, ntp_synced=ntp_probe(cfg.clock.ntp),
                clock_tolerance_s=cfg.clock.tolerance_s,
                status_interval_s=cfg.device.status_interval_s,
                sync_check_s=cfg.device.sync_check_s)
        except BaseException:
            self.close()
            raise

    def start(self) -> None:
        """Wire the inputs, start the worker, connect to the broker."""
        service = self.service
        self.link.on_acl(service.acl_message)
        self.link.on_broadcast(service.broadcast)
        self.link.on_response(service.response)
        self.link.client.add_on_connected(service.connected)
        if self.simulate:
            self.link.on_sim(lambda name, sim: service.sim_input(name, sim, doors_hw=self.doors))
        for door_id, hw in self.doors.items():
            hw.start(on_card=lambda read, d=door_id: service.card(d, read.uid),
                     on_input=lambda event, d=door_id: service.door_input(d, event.kind),
                     on_key=lambda key, d=door_id: service.key(d, key))
        service.start()
        self.link.start()
        log.info("event=started device=%s doors=%s simulate=%s acl_version=%s",
                 self.cfg.device.id, ",".join(self.doors), self.simulate, self.cache.version)

    def close(self) -> None:
        """Stop everything, strikes first; after a fault leave without a clean disconnect."""
        service = getattr(self, "service", None)
        is_clean = service is None or service.exit_code == 0
        if service is not None and is_clean:
            service.stop()
        for hw in self.doors.values():
            hw.close()
        self.doors = {}
        if self.devices is not None:
            self.devices.close()
            self.devices = None
        if self.link is not None:
            # After a fault the broker publishes our last will (offline) for us.
            self.link.stop(clean=is_clean)
            self.link = None
        self.cache.close()


def run(cfg: ControllerConfig, *, simulate: bool) -> int:
    """Run the controller until SIGTERM/SIGINT or a fail-secure stop; return the exit code."""
    stop_requested = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        # Only a flag here: the main loop below stops the service (joins do not belong in a
        # signal handler). Installed before anything starts, so an early SIGTERM is not lost.
        log.info("event=stopping signal=%d", signum)
        stop_requested.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    app = ControllerApp(cfg, simulate=simulate)
    try:
        if stop_requested.is_set():
            return 0
        app.start()
        while not app.service.done.wait(0.2):
            if stop_requested.is_set():
                app.service.stop()
        return app.service.exit_code
    finally:
        app.close()
        log.info("event=stopped")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``gatehouse-controller``."""
    parser = argparse.ArgumentParser(prog="gatehouse-controller",
                                     description="Gatehouse door controller")
    parser.add_argument("--config", type=Path, default=Path("controller.toml"),
                        help="path of controller.toml (default: ./controller.toml)")
    parser.add_argument("--simulate", action="store_true",
                        help="MockFactory pins, emulated readers, sim/<device>/... topics")
    parser.add_argument("--list-devices", action="store_true",
                        help="print the devices this controller would use and their state")
    args = parser.parse_args(argv)
    try:
        cfg = config_mod.load(args.config)
    except config_mod.ConfigError as exc:
        print(f"gatehouse-controller: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    _setup_logging(cfg.device.log_level)
    try:
        if args.list_devices:
            return list_devices(cfg, simulate=args.simulate)
        return run(cfg, simulate=args.simulate)
    except (keys.KeyFileError, config_mod.ConfigError) as exc:
        print(f"gatehouse-controller: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (CacheCorrupt, StoreError) as exc:
        print(f"gatehouse-controller: {exc}", file=sys.stderr)
        return EXIT_CACHE
    except HardwareError as exc:
        print(f"gatehouse-controller: hardware: {exc}", file=sys.stderr)
        return EXIT_HARDWARE


if __name__ == "__main__":
    sys.exit(main())
