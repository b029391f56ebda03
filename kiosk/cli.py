"""``gatehouse-kiosk``: run the reception kiosk (or list its devices).

    gatehouse-kiosk --config /etc/gatehouse/kiosk.toml
    gatehouse-kiosk --simulate [--camera-source DIR] [--state-dir var/kiosk-sim]
    gatehouse-kiosk --config kiosk.toml --simulate     # the file's hub link, simulated devices
    gatehouse-kiosk --simulate --list-devices

``--simulate`` swaps the camera for a folder of images (looped) and the printer for escpos's
``Dummy`` (PNG previews of each badge in ``<state>/prints``). Without a ``[link]`` section
the kiosk has no hub: sign-ins are held for the desk, because screening cannot run.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from kiosk import config as kconfig

log = logging.getLogger("gatehouse.kiosk")

DEFAULT_SIM_CAMERA = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "kiosk" / "camera"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gatehouse-kiosk", description="Gatehouse reception kiosk.")
    parser.add_argument("--config", type=Path, help="kiosk.toml (validated strictly)")
    parser.add_argument("--simulate", action="store_true",
                        help="camera from an image folder, Dummy printer (no hardware needed)")
    parser.add_argument("--camera-source", type=Path, help="with --simulate: folder of images or a video")
    parser.add_argument("--state-dir", type=Path, help="with --simulate and no --config: where state lives")
    parser.add_argument("--list-devices", action="store_true", help="print the devices and their state, then exit")
    parser.add_argument("--port", type=int, help="override [kiosk].port")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def load_config(args: argparse.Namespace) -> kconfig.KioskToml:
    """The configuration the arguments describe (ConfigError on any problem)."""
    if args.config is None and not args.simulate:
        raise kconfig.ConfigError("give --config kiosk.toml, or --simulate")
    source = args.camera_source or DEFAULT_SIM_CAMERA
    if args.config is None:
        return kconfig.simulated(args.state_dir or Path("var/kiosk-sim"), source)
    cfg = kconfig.load(args.config)
    if args.simulate:
        sim = kconfig.simulated(cfg.kiosk.state_dir, source)
        cfg = cfg.model_copy(update={"camera": sim.camera, "printer": sim.printer, "fallback_printer": None})
        if cfg.panic_button is not None:
            cfg = cfg.model_copy(update={"panic_button": cfg.panic_button.model_copy(update={"type": "sim"})})
    return cfg


def build(cfg: kconfig.KioskToml, *, simulate: bool = False) -> Any:
    """Open the devices, the hub link and the store; return a :class:`kiosk.service.Kiosk`."""
    from link import keys as link_keys
    from kiosk.devices import make_camera, make_printer
    from kiosk.hublink import LinkGateway, LocalGateway
    from kiosk.service import Kiosk
    from kiosk.store import KioskStore

    staff_pin = None
    if cfg.kiosk.staff_pin_file:
        try:
            staff_pin = Path(cfg.kiosk.staff_pin_file).read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise ValueError(f"{cfg.kiosk.staff_pin_file}: cannot read the staff PIN ({exc.strerror})") from None
        if staff_pin is not None and not (staff_pin.isdigit() and 4 <= len(staff_pin) <= 12):
            raise ValueError(f"{cfg.kiosk.staff_pin_file}: the staff PIN must be 4 to 12 digits")
    state = Path(cfg.kiosk.state_dir)
    state.mkdir(parents=True, exist_ok=True)
    if cfg.link is None:
        key_path = state / "local-device-key.pem"
        key = link_keys.load_private(key_path) if key_path.exists() else link_keys.generate(
            key_path, state / "local-device-key.pub.pem")
        gateway: Any = LocalGateway(cfg.kiosk.id, state / "link", key)
    else:
        from link.client import BrokerConfig
        from link.device import DeviceLink

        section = cfg.link
        broker = BrokerConfig(host=section.host, port=section.port, client_id=cfg.kiosk.id,
                              ca_file=Path(section.ca_file) if section.ca_file else None,
                              cert_file=Path(section.cert_file) if section.cert_file else None,
                              key_file=Path(section.key_file) if section.key_file else None)
        device_link = DeviceLink(cfg.kiosk.id, kind="kiosk", private_key=link_keys.load_private(Path(section.device_key_file)),
                                 hub_key=link_keys.load_public(Path(section.hub_public_key_file)), broker=broker,
                                 state_dir=state / "link", accept_sim=simulate, version="kiosk-0.1")
        gateway = LinkGateway(device_link)
        device_link.start()
    printers = [make_printer(cfg.printer, "printer0")]
    if cfg.fallback_printer is not None:
        printers.append(make_printer(cfg.fallback_printer, "printer1"))
    kiosk = Kiosk(kiosk_id=cfg.kiosk.id, camera=make_camera(cfg.camera), printers=printers, gateway=gateway,
                  store=KioskStore(state / "kiosk.db"), paper_dots=cfg.printer.paper_dots,
                  hub_timeout_s=cfg.kiosk.hub_timeout_s, watch_max_age_s=cfg.kiosk.watch_max_age_s,
                  visit_hours=cfg.kiosk.visit_hours, idle_s=cfg.kiosk.idle_s, staff_pin=staff_pin)
    from kiosk.verdicts import DeskVerdicts

    gateway.on_hub_message(DeskVerdicts(kiosk).on_message)  # the desk's admit prints the held badge
    if cfg.panic_button is not None:
        from kiosk.devices import make_panic_button
        from kiosk.panic import PanicAlarm

        kiosk.panic = PanicAlarm(gateway=gateway, store=kiosk.store, clock=kiosk.clock,
                                 timeout_s=cfg.kiosk.hub_timeout_s, button=make_panic_button(cfg.panic_button))
    return kiosk


def list_devices(cfg: kconfig.KioskToml) -> int:
    """Print each device and its state as a JSON line; 1 if one cannot be opened."""
    from hardware.errors import HardwareError
    from kiosk.devices import make_camera, make_panic_button, make_printer

    status = 0
    for role, make in (("camera", lambda: make_camera(cfg.camera)),
                       ("printer", lambda: make_printer(cfg.printer, "printer0")),
                       ("fallback_printer", (lambda: make_printer(cfg.fallback_printer, "printer1"))
                        if cfg.fallback_printer else None),
                       ("panic_button", (lambda: make_panic_button(cfg.panic_button)) if cfg.panic_button else None)):
        if make is None:
            continue
        try:
            device = make()
        except HardwareError as exc:
            print(json.dumps({"role": role, "error": str(exc)}))
            status = 1
            continue
        try:
            info: dict[str, Any] = {"role": role, **device.state()}
            if role == "camera":
                frame = device.grab(timeout_s=3.0)
                info["frame"] = list(frame.shape)
            elif role == "panic_button":
                pass  # its state says pressed or stuck
            else:
                printer_status = device.status()
                info["online"], info["paper"] = printer_status.online, printer_status.paper
        except HardwareError as exc:
            info["error"] = str(exc)
            status = 1
        finally:
            device.close()
        print(json.dumps(info, default=str))
    return status


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gatehouse-kiosk`` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    try:
        cfg = load_config(args)
    except kconfig.ConfigError as exc:
        print(f"gatehouse-kiosk: {exc}", file=sys.stderr)
        return 2
    if args.list_devices:
        return list_devices(cfg)
    from hardware.errors import HardwareError
    from kiosk.web import create_app, start_sweeper

    try:
        kiosk = build(cfg, simulate=args.simulate)
    except (HardwareError, OSError, ValueError) as exc:
        print(f"gatehouse-kiosk: cannot start: {exc}", file=sys.stderr)
        return 1
    kiosk.start(refresh_s=cfg.kiosk.refresh_s)
    app = create_app(kiosk, languages=list(cfg.kiosk.languages))
    stop_sweeper = start_sweeper(app)
    port = args.port or cfg.kiosk.port
    log.info("kiosk=%s listening=%s:%d simulate=%s", cfg.kiosk.id, cfg.kiosk.listen, port, args.simulate)
    import signal

    def _terminate(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt  # systemd's stop: leave serve_forever and close the devices

    signal.signal(signal.SIGTERM, _terminate)
    try:
        from werkzeug.serving import make_server

        server = make_server(cfg.kiosk.listen, port, app, threaded=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop_sweeper.set()
        kiosk.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
