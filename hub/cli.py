"""``gatehouse-hub``: database, web server, MQTT bridge, PKI, devices, people — from the console.

Every command answers bad input with one clear line on stderr and exit status 2; nothing
prints a secret except the files it is asked to write. The accounts layer adds its own
commands (``init``, ``account``, ``token``, ``audit``) through ``hub.auth.cli.register``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from link.client import BrokerConfig
from hub import config as hub_config


def _now() -> datetime:
    return datetime.now(UTC)


def _actor() -> Any:
    from hub.auth.services import console_actor

    from hub.auth.cli import _operator

    # The person at the console (the sudo user under `sudo -u gatehouse`), not the service user.
    return console_actor(_operator())


def _app(args: argparse.Namespace) -> Any:
    from hub import create_app

    env = dict(os.environ)
    if getattr(args, "config", None):
        env["GATEHOUSE_HUB_CONFIG"] = str(args.config)
    return create_app(hub_config.from_environment(env))


def _db(app: Any) -> Any:
    from hub.db import get_database

    return get_database(app)


def broker_config(app: Any, client_id: str = "hub") -> BrokerConfig:
    """How the hub's bridge reaches the broker, from the app's configuration."""
    cfg = app.config
    if cfg.get("BROKER_TLS", True):
        from hub.pki import DistrictCA

        ca = DistrictCA(cfg["CA_DIR"])
        cert, key = ca.hub_identity()
        return BrokerConfig(host=cfg["BROKER_HOST"], port=int(cfg["BROKER_PORT"]),
                            client_id=client_id, ca_file=ca.dir / "ca.pem", cert_file=cert,
                            key_file=key)
    password = None
    if cfg.get("BROKER_PASSWORD_FILE"):
        password = Path(cfg["BROKER_PASSWORD_FILE"]).read_text(encoding="utf-8").strip()
    return BrokerConfig(host=cfg["BROKER_HOST"], port=int(cfg["BROKER_PORT"]), client_id=client_id,
                        username=cfg.get("BROKER_USERNAME") or "hub", password=password)


def make_bridge(app: Any) -> Any:
    """A :class:`hub.bridge.Bridge` wired to this app's database, keys and broker."""
    from hub.bridge import Bridge
    from hub.keyring import get_keyring

    return Bridge(_db(app), get_keyring(app), broker_config(app),
                  key_return_days=int(app.config["KEY_RETURN_DAYS"]))


# --------------------------------------------------------------------------- commands
def cmd_db(app: Any, args: argparse.Namespace) -> int:
    """``db upgrade`` / ``db current``."""
    from hub import migrations

    url = app.config["DATABASE_URL"]
    if args.db_command == "upgrade":
        migrations.upgrade(url)
        print(f"database at revision {migrations.current(url)}")
    else:
        print(migrations.current(url) or "(empty: run `gatehouse-hub db upgrade`)")
    return 0


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def cmd_bridge(app: Any, args: argparse.Namespace) -> int:
    """Run the MQTT bridge until SIGTERM/SIGINT."""
    bridge = make_bridge(app)
    stop = threading.Event()
    _stop_on_signals(stop)
    bridge.start()
    print(f"bridge running: broker {bridge.client.config.host}:{bridge.client.config.port}",
          flush=True)
    stop.wait()
    bridge.stop()
    return 0


def cmd_serve(app: Any, args: argparse.Namespace) -> int:
    """Serve the web UI and API with Waitress (and, with ``--bridge``, the bridge as a thread).

    Waitress is a production WSGI server (a bounded thread pool, request size and time limits);
    nginx in front terminates TLS (deploy/nginx). SIGTERM stops it cleanly.
    """
    from waitress import create_server

    if not 1 <= args.threads <= 64:
        raise ValueError("--threads must be from 1 to 64")
    # binds here: a busy port is an OSError, reported by main() before anything else starts
    server = create_server(app, host=args.host, port=args.port, threads=args.threads,
                           ident="", max_request_body_size=16 * 1024 * 1024,
                           channel_timeout=60, connection_limit=200,
                           # X-Forwarded-* reach the app, whose ProxyFix trusts them only as far
                           # as [auth] trusted_proxies says (nginx: 1); Waitress itself trusts none
                           clear_untrusted_proxy_headers=False)
    bridge = None
    if args.bridge:
        bridge = make_bridge(app)
        app.extensions["gatehouse.bridge"] = bridge
        bridge.start()

    def stop(_signum: int, _frame: Any) -> None:
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, stop)
    logging.getLogger("hub.serve").info("listening on http://%s:%s threads=%d", args.host, args.port, args.threads)
    print(f"gatehouse-hub serving on http://{args.host}:{args.port}", flush=True)
    try:
        server.run()  # returns on SIGTERM / Ctrl-C
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.close()
        if bridge is not None:
            bridge.stop()
    return 0


def cmd_pki(app: Any, args: argparse.Namespace) -> int:
    """``pki init`` and ``pki broker-cert``."""
    from hub import pki

    if args.pki_command == "init":
        ca = pki.DistrictCA.create(app.config["CA_DIR"], name=args.name)
        ca.hub_identity()
        print(f"CA created in {ca.dir} (ca.key is 0600: back it up offline)")
        return 0
    ca = pki.DistrictCA(app.config["CA_DIR"])
    issued = ca.issue_server(args.names)
    out = Path(args.out)
    pki._write(out / "server.pem", issued.cert_pem)
    pki._write(out / "server.key", issued.key_pem, 0o600)
    pki._write(out / "ca.pem", ca.ca_pem)
    print(f"broker certificate for {', '.join(args.names)} in {out}")
    return 0


def cmd_broker(app: Any, args: argparse.Namespace) -> int:
    """Write the broker's ACL, password file and CRL from the registry."""
    from hub import pki
    from hub.services import devices

    ca = pki.DistrictCA(app.config["CA_DIR"])
    with _db(app).session() as s:
        revoked = devices.revoked_serials(s)
    files = pki.write_broker_files(ca, args.out, revoked=revoked, observers=args.observer,
                                   password_users=args.user)
    print(f"wrote {files.acl}, {files.passwd}, {files.crl}")
    for user, path in files.passwords.items():
        print(f"password for {user} in {path}")
    print("reload Mosquitto to apply (systemctl reload mosquitto, or SIGHUP)")
    return 0


def cmd_device(app: Any, args: argparse.Namespace) -> int:
    """``device add|revoke|list``."""
    from hub import pki
    from hub.keyring import get_keyring
    from hub.services import devices, provisioning

    if args.device_command == "list":
        with _db(app).session() as s:
            for d in devices.list_devices(s, args.building):
                state = "online" if d.online else "offline"
                print(f"{d.id}\t{d.kind}\t{d.building_id}\t{d.status}\t{state}\t"
                      f"acl {d.acl_version}/{d.acl_acked if d.acl_acked is not None else '-'}")
        return 0
    ca = pki.DistrictCA(app.config["CA_DIR"])
    if args.device_command == "add":
        out = Path(args.out or f"gatehouse-{args.name}.tar.gz")
        if out.exists():
            raise ValueError(f"{out} exists; refusing to overwrite a device bundle")
        with _db(app).session() as s:
            _dev, data = provisioning.add_device(
                s, ca, get_keyring(app), device_id=args.name, kind=args.kind,
                building_id=args.building, door_ids=args.door,
                broker_host=args.broker_host or app.config["BROKER_HOST"],
                broker_port=args.broker_port or int(app.config["BROKER_PORT"]),
                actor=_actor(), now=_now())
            out.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        print(f"device {args.name} registered; bundle (contains private keys) in {out}")
        return 0
    with _db(app).session() as s:
        dev = devices.get(s, args.name)
        crl = provisioning.revoke_device(s, ca, dev, actor=_actor(), now=_now(),
                                         broker_dir=Path(args.broker_dir) if args.broker_dir else None)
    print(f"device {args.name} revoked; CRL written to {crl}; reload the broker to apply")
    return 0


def cmd_building(app: Any, args: argparse.Namespace) -> int:
    """``building add``."""
    from hub.services import buildings

    with _db(app).session() as s:
        buildings.create_building(s, building_id=args.id, name=args.name, tz=args.tz,
                                  actor=_actor(), now=_now())
    print(f"building {args.id} added")
    return 0


def cmd_door(app: Any, args: argparse.Namespace) -> int:
    """``door add``."""
    from hub.services import buildings

    spec = buildings.DoorSpec(door_id=args.id, name=args.name, kind=args.kind,
                              device_id=args.device, mode=args.mode, strike_s=args.strike_s,
                              held_open_s=args.held_open_s)
    with _db(app).session() as s:
        buildings.save_door(s, args.building, spec, actor=_actor(), now=_now())
    print(f"door {args.id} saved")
    return 0


def cmd_people(app: Any, args: argparse.Namespace) -> int:
    """``people import FILE [--dry-run]``."""
    from hub.services import hr_import

    data = Path(args.file).read_bytes()
    with _db(app).session() as s:
        if args.dry_run:
            plan = hr_import.dry_run(s, data)
            revs = []
        else:
            plan, revs = hr_import.apply(s, data, actor=_actor(), now=_now(),
                                         key_return_days=int(app.config["KEY_RETURN_DAYS"]))
    for change in plan.changes:
        extra = f" ({', '.join(change.fields)})" if change.fields else ""
        note = f" — {change.note}" if change.note else ""
        print(f"line {change.line}: {change.staff_id}: {change.action}{extra}{note}")
    print(("dry run: nothing written. " if args.dry_run else "imported. ")
          + ", ".join(f"{k} {v}" for k, v in sorted(plan.summary.items())))
    for rev in revs:
        print(f"revocation {rev.id} opened")
    return 0


def cmd_person(app: Any, args: argparse.Namespace) -> int:
    """``person terminate STAFF_ID``."""
    from hub.services import people, revocations

    with _db(app).session() as s:
        p = people.get_person(s, args.staff_id)
        rev = revocations.terminate(s, p, actor=_actor(), now=_now(), reason=args.reason,
                                    key_return_days=int(app.config["KEY_RETURN_DAYS"]))
        rev_id = rev.id
    print(f"{args.staff_id} terminated; revocation {rev_id} (see `gatehouse-hub revocation "
          f"show {rev_id}`)")
    return 0


def cmd_revocation(app: Any, args: argparse.Namespace) -> int:
    """``revocation show ID``: door by door."""
    from hub.services import revocations

    with _db(app).session() as s:
        rev = revocations.get_revocation(s, args.id)
        rows = revocations.door_states(s, rev)
        out = {"revocation_id": rev.id, "staff_id": rev.person.staff_id, "doors": [
            {"door": d.door_id, "state": d.state,
             "confirmed_at": d.confirmed_at.isoformat() if d.confirmed_at else None,
             "offline_since": d.offline_since.isoformat() if d.offline_since else None}
            for d in rows]}
    print(json.dumps(out, indent=2))
    return 0


def cmd_visitors(app: Any, args: argparse.Namespace) -> int:
    """``visitors close-day`` (closing-time sign-out) and ``visitors shred`` (photo retention)."""
    from hub.visitors import services as visitor_services

    # housekeeping never screens anyone: no fingerprint key needed
    settings = visitor_services.VisitorSettings(fingerprint_key=b"")
    with _db(app).session() as s:
        if args.visitors_command == "close-day":
            settings.closing = args.closing
            closed = visitor_services.close_due(s, settings, _now())
            print(f"{len(closed)} visit(s) closed as not signed out")
        else:
            settings.photo_retention_days = args.older_than_days
            count = visitor_services.shred_due(s, settings, _now())
            print(f"{count} photo(s) shredded (visits ended more than {args.older_than_days} days ago)")
    return 0


# --------------------------------------------------------------------------- parser
def _hhmm(value: str) -> str:
    import re

    if not re.fullmatch(r"(?:[01]\d|2[0-3]):[0-5]\d", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a time HH:MM (00:00 to 23:59)")
    return value


def _days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of days") from None
    if not 0 <= days <= 3650:
        raise argparse.ArgumentTypeError("days must be between 0 and 3650")
    return days


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    p = argparse.ArgumentParser(prog="gatehouse-hub", description="Gatehouse hub")
    p.add_argument("--config", help="hub.toml (default: $GATEHOUSE_HUB_CONFIG)")
    sub = p.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database migrations")
    db.add_argument("db_command", choices=["upgrade", "current"])
    db.set_defaults(handler=cmd_db)

    sv = sub.add_parser("serve", help="web UI and JSON API")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--bridge", action="store_true", help="also run the MQTT bridge (a thread)")
    sv.add_argument("--threads", type=int, default=8, help="request threads (1-64, default 8)")
    sv.set_defaults(handler=cmd_serve)

    sub.add_parser("bridge", help="the MQTT bridge").set_defaults(handler=cmd_bridge)

    pk = sub.add_parser("pki", help="the district CA")
    pk_sub = pk.add_subparsers(dest="pki_command", required=True)
    init = pk_sub.add_parser("init", help="create the CA and the hub's client certificate")
    init.add_argument("--name", default="Gatehouse District CA")
    bc = pk_sub.add_parser("broker-cert", help="issue the broker's server certificate")
    bc.add_argument("names", nargs="+", help="host names and/or IP addresses")
    bc.add_argument("--out", required=True)
    pk.set_defaults(handler=cmd_pki)

    br = sub.add_parser("broker", help="Mosquitto files from the registry")
    br_sub = br.add_subparsers(dest="broker_command", required=True)
    bf = br_sub.add_parser("files", help="write acl, passwd and crl.pem")
    bf.add_argument("--out", required=True)
    bf.add_argument("--observer", action="append", default=[],
                    help="read-all, write-sim/ user with a password (demo, tests)")
    bf.add_argument("--user", action="append", default=[], help="another password user")
    br.set_defaults(handler=cmd_broker)

    dv = sub.add_parser("device", help="provision and revoke devices")
    dv_sub = dv.add_subparsers(dest="device_command", required=True)
    add = dv_sub.add_parser("add", help="issue certificate, keys and a config bundle")
    add.add_argument("name")
    add.add_argument("--kind", required=True, choices=["controller", "kiosk"])
    add.add_argument("--building", required=True)
    add.add_argument("--door", action="append", default=[], help="door this controller drives")
    add.add_argument("--out", help="bundle path (default gatehouse-NAME.tar.gz)")
    add.add_argument("--broker-host")
    add.add_argument("--broker-port", type=int)
    rv = dv_sub.add_parser("revoke", help="block a device (CRL)")
    rv.add_argument("name")
    rv.add_argument("--broker-dir", help="also copy crl.pem here")
    ls = dv_sub.add_parser("list")
    ls.add_argument("--building")
    dv.set_defaults(handler=cmd_device)

    bd = sub.add_parser("building", help="buildings")
    bd_sub = bd.add_subparsers(dest="building_command", required=True)
    badd = bd_sub.add_parser("add")
    badd.add_argument("id")
    badd.add_argument("--name", required=True)
    badd.add_argument("--tz", default="America/New_York")
    bd.set_defaults(handler=cmd_building)

    dr = sub.add_parser("door", help="doors")
    dr_sub = dr.add_subparsers(dest="door_command", required=True)
    dadd = dr_sub.add_parser("add")
    dadd.add_argument("id")
    dadd.add_argument("--building", required=True)
    dadd.add_argument("--name", required=True)
    dadd.add_argument("--kind", required=True, choices=["records_room", "office", "exterior"])
    dadd.add_argument("--device")
    dadd.add_argument("--mode", default="card", choices=["card", "card_pin"])
    dadd.add_argument("--strike-s", type=int, default=5)
    dadd.add_argument("--held-open-s", type=int, default=30)
    dr.set_defaults(handler=cmd_door)

    pp = sub.add_parser("people", help="people")
    pp_sub = pp.add_subparsers(dest="people_command", required=True)
    imp = pp_sub.add_parser("import", help="the HR CSV export")
    imp.add_argument("file")
    imp.add_argument("--dry-run", action="store_true")
    pp.set_defaults(handler=cmd_people)

    pe = sub.add_parser("person", help="one person")
    pe_sub = pe.add_subparsers(dest="person_command", required=True)
    term = pe_sub.add_parser("terminate")
    term.add_argument("staff_id")
    term.add_argument("--reason", default="terminated")
    pe.set_defaults(handler=cmd_person)

    rvk = sub.add_parser("revocation", help="revocations")
    rvk_sub = rvk.add_subparsers(dest="revocation_command", required=True)
    show = rvk_sub.add_parser("show")
    show.add_argument("id", type=int)
    rvk.set_defaults(handler=cmd_revocation)

    vs = sub.add_parser("visitors", help="visitor housekeeping (the bridge also runs it every minute)")
    vs_sub = vs.add_subparsers(dest="visitors_command", required=True)
    cd = vs_sub.add_parser("close-day", help="close visits still open at their building's last closing time")
    cd.add_argument("--closing", default="18:00", type=_hhmm, help="local closing time HH:MM (default 18:00)")
    sh = vs_sub.add_parser("shred", help="destroy the photo keys of visits that ended long enough ago")
    sh.add_argument("--older-than-days", type=_days, default=30, help="retention in days (default 30)")
    vs.set_defaults(handler=cmd_visitors)

    from hub.auth import cli as auth_cli

    auth_cli.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gatehouse-hub`` console script."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    from hub.keyring import KeyringError
    from hub.pki import PkiError
    from hub.services.errors import ServiceError

    app = None
    try:
        app = _app(args)
        return int(args.handler(app, args) or 0)
    except ServiceError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        for detail in exc.details:
            print(f"  {detail}", file=sys.stderr)
        return 2
    except (hub_config.ConfigError, PkiError, KeyringError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if app is not None:
            _db(app).dispose()


if __name__ == "__main__":
    sys.exit(main())
