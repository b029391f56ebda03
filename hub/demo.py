"""`make demo`: the whole Gatehouse door story on one computer.

``python -m hub.demo run`` starts, as separate processes, a broker bound to 127.0.0.1
(Mosquitto when installed, else an embedded Python broker), and every other part that exists
in this checkout, then prints what it started and writes ``var/demo/demo.json``. Ctrl-C or
SIGTERM stops every child. ``python -m hub.demo reset`` deletes the demo's state.

This module is the one place in ``hub`` allowed to start controller and kiosk processes (the
design's demo-launcher exception); it does so only through their command lines.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_DIR = Path(os.environ.get("GATEHOUSE_DEMO_DIR", ROOT / "var" / "demo"))


class DemoError(RuntimeError):
    """A problem the person running the demo can fix; printed without a traceback."""


@dataclass
class Child:
    """One process the demo started."""

    name: str
    proc: subprocess.Popen
    log: Path


@dataclass
class Demo:
    """The running demo's processes and facts."""

    state: Path
    children: list[Child] = field(default_factory=list)
    facts: dict = field(default_factory=dict)

    def spawn(self, name: str, argv: list[str], *, env: dict | None = None) -> Child:
        """Start ``argv`` with its output in ``var/demo/logs/<name>.log``."""
        logs = self.state / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"{name}.log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                    env={**os.environ, **(env or {})}, start_new_session=True)
        child = Child(name, proc, log_path)
        self.children.append(child)
        return child

    def stop_all(self) -> None:
        """SIGTERM every child (newest first), then SIGKILL what is left after 5 s."""
        for child in reversed(self.children):
            if child.proc.poll() is None:
                try:
                    os.killpg(child.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 5
        for child in reversed(self.children):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.proc.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                os.killpg(child.proc.pid, signal.SIGKILL)
                child.proc.wait()


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on ``host:port``."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def wait_listening(port: int, child: Child, timeout: float = 15.0) -> None:
    """Wait until ``child`` listens on ``port``, or raise DemoError with its log's tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise DemoError(f"{child.name} exited with code {child.proc.returncode}; "
                            f"its log ({child.log}) ends with:\n{tail(child.log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.3):
                return
        except OSError:
            time.sleep(0.1)
    raise DemoError(f"{child.name} did not listen on port {port} within {timeout:.0f} s; see {child.log}")


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ---------------------------------------------------------------------------- pid file
def claim_pid_file(state: Path) -> Path:
    """Refuse to start twice; clear a pid file left by a killed demo."""
    pid_file = state / "demo.pid"
    if pid_file.exists():
        try:
            pid = int(pid_file.read_text().strip())
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError):
            print(f"note: removed a stale pid file from an earlier demo ({pid_file})")
        except PermissionError:
            raise DemoError(f"another demo seems to run as another user (pid file {pid_file})") from None
        else:
            raise DemoError(f"the demo is already running (pid {pid}); stop it with Ctrl-C in its "
                            f"terminal or `kill {pid}`")
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(str(os.getpid()))
    return pid_file


# ---------------------------------------------------------------------------- broker
#: Override with GATEHOUSE_DEMO_MQTT_PORT when 1883 is taken (e.g. by a system Mosquitto).
BROKER_PORT = int(os.environ.get("GATEHOUSE_DEMO_MQTT_PORT", "1883"))


def find_mosquitto() -> str | None:
    """The mosquitto binary, or None."""
    return shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


def start_broker(demo: Demo, *, mosquitto: str | None) -> None:
    """Mosquitto on 127.0.0.1 when installed; otherwise the embedded amqtt broker (says so).

    Mosquitto gets two loopback listeners: ``BROKER_PORT`` with a password (the observer, for
    people and scripts with ``mosquitto_sub``/``mosquitto_pub``), and ``TLS_PORT`` where the hub
    and the controllers connect with the certificates ``device add`` issued, under the ACL
    ``broker files`` generated from the hub's registry.
    """
    broker_dir = demo.state / "broker"
    observer_password = (broker_dir / "observer.password").read_text().strip()
    if mosquitto:
        _write_mosquitto_conf(broker_dir)
        child = demo.spawn("broker", [mosquitto, "-c", str(broker_dir / "mosquitto.conf")])
        kind = "mosquitto"
    else:
        child = demo.spawn("broker", [sys.executable, "-m", "hub.demo", "embedded-broker",
                                      "--port", str(BROKER_PORT)])
        kind = "embedded (amqtt, MQTT 3.1.1, no TLS; install mosquitto for the real broker)"
    wait_listening(BROKER_PORT, child)
    if mosquitto:
        wait_listening(TLS_PORT, child)
    demo.facts["broker"] = {"host": "127.0.0.1", "port": BROKER_PORT, "tls": None, "kind": kind,
                            "device_port": TLS_PORT if mosquitto else BROKER_PORT,
                            "observer": {"username": "observer", "password": observer_password}}


def check_ports(*, mosquitto: str | None) -> None:
    """Refuse early, before any set-up, when a port the demo needs is taken."""
    for port in ([BROKER_PORT, TLS_PORT] if mosquitto else [BROKER_PORT]):
        if not port_free(port):
            raise DemoError(f"port {port} on 127.0.0.1 is in use (another MQTT broker?). Stop it "
                            "(e.g. `sudo systemctl stop mosquitto`) or choose other ports with "
                            "GATEHOUSE_DEMO_MQTT_PORT=11883 GATEHOUSE_DEMO_MQTT_TLS_PORT=18883 make demo")
    if not port_free(HUB_PORT):
        raise DemoError(f"port {HUB_PORT} on 127.0.0.1 is in use; stop what uses it or set "
                        f"GATEHOUSE_DEMO_HUB_PORT=8001 make demo")


def _write_mosquitto_conf(broker_dir: Path) -> None:
    user = __import__("pwd").getpwuid(os.geteuid()).pw_name
    (broker_dir / "mosquitto.conf").write_text("\n".join([
        "# Demo broker: loopback only. Generated by hub/demo.py from the hub's broker files.",
        f"user {user}",
        "per_listener_settings false",
        "allow_anonymous false",
        "persistence false",
        "log_dest stderr",
        f"password_file {broker_dir / 'passwd'}",
        f"acl_file {broker_dir / 'acl'}",
        "",
        "# observers (people, scripts): user name and password, no TLS, loopback only",
        f"listener {BROKER_PORT} 127.0.0.1",
        "",
        "# the hub and the controllers: TLS with client certificates from the district CA",
        f"listener {TLS_PORT} 127.0.0.1",
        f"cafile {broker_dir / 'ca.pem'}",
        f"certfile {broker_dir / 'server.pem'}",
        f"keyfile {broker_dir / 'server.key'}",
        f"crlfile {broker_dir / 'crl.pem'}",
        "require_certificate true",
        "use_identity_as_username true",
        "tls_version tlsv1.2",
        "",
    ]))


def embedded_broker(port: int) -> None:
    """Run amqtt on 127.0.0.1 (demo fallback only: no TLS, MQTT 3.1.1)."""
    import asyncio

    from amqtt.broker import Broker

    config = {"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
              "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}}

    async def serve() -> None:
        broker = Broker(config)
        await broker.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await broker.shutdown()

    asyncio.run(serve())



# ---------------------------------------------------------------------------- set-up (first run)
HUB_PORT = int(os.environ.get("GATEHOUSE_DEMO_HUB_PORT", "8000"))
TLS_PORT = int(os.environ.get("GATEHOUSE_DEMO_MQTT_TLS_PORT", "8883"))
_WORDS = ("maple", "harbor", "violet", "granite", "orchard", "lantern", "meadow", "copper",
          "willow", "summit", "river", "falcon", "cedar", "amber", "pebble", "thistle")


def _passphrase() -> str:
    """A fresh demo password a person can type (printed, and kept in demo.json)."""
    import secrets

    words = [secrets.choice(_WORDS) for _ in range(3)]
    return "-".join(words) + f"-{secrets.randbelow(10000):04d}"


def _hub_cli(state: Path, *args: str) -> str:
    """Run ``gatehouse-hub --config <demo hub.toml> ARGS`` exactly as an installer would."""
    proc = subprocess.run([sys.executable, "-m", "hub.cli", "--config", str(state / "hub.toml"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise DemoError(f"`gatehouse-hub {' '.join(args)}` failed:\n{proc.stderr.strip()[-1500:]}")
    return proc.stdout


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def _hub_toml(state: Path, *, tls: bool, port: int) -> str:
    hub = state / "hub"
    return "\n".join([
        "# Demo hub configuration (generated by hub/demo.py).",
        "[hub]", f'database_url = "sqlite:///{state / "hub.db"}"', f'var_dir = "{hub}"', "",
        "[secrets]", f'site_key_file = "{hub / "secrets" / "site.key"}"',
        f'vault_key_file = "{hub / "secrets" / "vault.key"}"',
        f'hub_key_file = "{hub / "secrets" / "hub-ed25519.pem"}"', f'ca_dir = "{hub / "ca"}"', "",
        "[broker]", 'host = "127.0.0.1"', f"port = {port}", f"tls = {'true' if tls else 'false'}", "",
    ])


def _controller_toml(bundle_toml: str, etc: Path, state_dir: Path, *, card_pin: bool) -> str:
    """The bundle's controller.toml, pointed at the unpacked files and the simulated clock."""
    text = bundle_toml.replace('"/etc/gatehouse/', f'"{etc}/')
    text = text.replace('state_dir = "/var/lib/gatehouse/controller"', f'state_dir = "{state_dir}"')
    extra = ["keypad = {}"] if card_pin else []
    # The demo machine's clock is trusted as it is (a Pi checks timesyncd instead).
    return text.rstrip() + "\n" + "\n".join(extra) + '\n\n[clock]\nntp = "synced"\n'


def _app(state: Path):
    from hub import config as hub_config
    from hub import create_app

    return create_app(hub_config.from_environment({"GATEHOUSE_HUB_CONFIG": str(state / "hub.toml")}))


def setup(state: Path, *, tls: bool) -> dict:
    """First run: database, CA, buildings, devices (``device add``), people, accounts, tokens.

    Later runs reuse ``setup.json`` and the database, so the demo keeps its data.
    """
    done = state / "setup.json"
    if done.exists():
        facts = json.loads(done.read_text())
        if facts.get("tls") != tls:
            raise DemoError("this demo was set up for a different broker (Mosquitto installed or removed "
                            "since); run `make demo-reset` to start over")
        _check_database(state)
        return facts
    if (state / "hub.db").exists():
        raise DemoError("a half-made demo was found (set-up was interrupted); run `make demo-reset` "
                        "and then `make demo`")
    print("first run: setting up the demo district (takes a minute)...", flush=True)
    from datetime import UTC, datetime

    from hub import demo_data
    from hub.auth import passwords, totp
    from hub.auth import services as auth
    from hub.db import get_database
    from hub.keyring import get_keyring

    (state / "hub").mkdir(parents=True, exist_ok=True)
    (state / "hub.toml").write_text(_hub_toml(state, tls=tls, port=TLS_PORT if tls else BROKER_PORT))
    _hub_cli(state, "db", "upgrade")
    _hub_cli(state, "pki", "init", "--name", "Demo District CA")
    _hub_cli(state, "pki", "broker-cert", "--out", str(state / "broker"), "127.0.0.1", "localhost")
    app = _app(state)
    db, keyring = get_database(app), get_keyring(app)
    now = datetime.now(UTC)
    with db.session() as session:
        demo_data.seed_buildings(session, now)

    doors = demo_data.door_plan()
    devices_dir = state / "devices"
    for door in doors:
        bundle = devices_dir / f"{door.device}.tar.gz"
        _hub_cli(state, "device", "add", door.device, "--kind", "controller", "--building", door.building,
                 "--door", door.device, "--out", str(bundle), "--broker-host", "127.0.0.1",
                 "--broker-port", str(TLS_PORT if tls else BROKER_PORT))
        with tarfile.open(bundle) as tar:
            tar.extractall(devices_dir, filter="data")
        etc = devices_dir / f"gatehouse-{door.device}"
        (etc / "controller.toml").write_text(_controller_toml(
            (etc / "controller.toml").read_text(), etc, state / "controllers" / door.device,
            card_pin=door.mode == "card_pin"))

    with app.app_context(), db.session() as session:
        staff = demo_data.seed(session, keyring, now)
        accounts = {}
        first_seed = totp.new_secret()
        privacy = auth.create_first_account(
            session, username="privacy", display_name="Dana Privacy (Data Privacy Team)",
            password=(privacy_pw := _passphrase()), totp_secret=first_seed, totp_step=0, now=now,
            vault=keyring.vault, operator="demo")
        accounts["privacy_team"] = {"username": "privacy", "password": privacy_pw,
                                    "totp_secret": first_seed, "buildings": []}
        actor = auth.actor_for(privacy)
        for username, display, role, buildings in (
                ("principal", "Ana Silva (Principal, Lincoln)", "principal", ["lincoln"]),
                ("frontdesk", "Front desk, Lincoln", "front_desk", ["lincoln"])):
            _, token = auth.create_invitation(session, actor, username=username, display_name=display,
                                              role=role, buildings=buildings, now=now, ttl_s=3600)
            seed, password = totp.new_secret(), _passphrase()
            passwords.require_acceptable(password, username=username, display_name=display)
            auth.activate_invitation(session, token, password_hash=passwords.hash_password(password),
                                     totp_secret=seed, totp_step=0, now=now, vault=keyring.vault)
            accounts[role] = {"username": username, "password": password,
                              "totp_secret": seed, "buildings": buildings}
        tokens = {}
        for role, buildings in (("principal", ["lincoln"]), ("privacy_team", [])):
            _, raw = auth.create_api_token(session, actor, name=f"demo-{role}", role=role, buildings=buildings,
                                           actions=None, days=30, max_days=365, now=now)
            tokens[role] = raw
    _hub_cli(state, "broker", "files", "--out", str(state / "broker"), "--observer", "observer")

    facts = {
        "tls": tls,
        "hub_url": f"http://127.0.0.1:{HUB_PORT}",
        "api_tokens": tokens,
        "accounts": accounts,
        "doors": [{"device": d.device, "name": d.name, "building": d.building, "kind": d.kind, "mode": d.mode}
                  for d in doors],
        "staff": [{"staff_id": p.staff_id, "name": p.name, "building": p.building, "card_uid": p.card_uid,
                   "pin": p.pin, "doors": p.doors, "always": p.always, "kind": p.kind, "groups": p.groups}
                  for p in staff],
    }
    _write_private(done, json.dumps(facts, indent=2))
    return facts


def _check_database(state: Path) -> None:
    import sqlite3

    db = state / "hub.db"
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        ok = conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        conn.execute("SELECT COUNT(*) FROM buildings").fetchone()
        conn.close()
    except sqlite3.DatabaseError as exc:
        raise DemoError(f"the demo database {db} is damaged ({exc}); run `make demo-reset` to start over") from None
    if not ok:
        raise DemoError(f"the demo database {db} is damaged; run `make demo-reset` to start over")

# ---------------------------------------------------------------------------- run
def write_facts(demo: Demo) -> Path:
    """Write ``var/demo/demo.json`` (0600: it holds demo passwords and tokens)."""
    path = demo.state / "demo.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(demo.facts, fh, indent=2)
    return path


def wait_http(url: str, child: Child, timeout: float = 30.0) -> None:
    """Wait until ``url`` answers (any HTTP status), or raise DemoError."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise DemoError(f"{child.name} exited with code {child.proc.returncode}; log {child.log}:\n"
                            f"{tail(child.log)}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise DemoError(f"{child.name} did not answer {url} within {timeout:.0f} s; see {child.log}")


def start_system(demo: Demo, facts: dict) -> None:
    """The hub (web + API), its bridge and one simulated controller per door, as processes."""
    env = {"GATEHOUSE_HUB_CONFIG": str(demo.state / "hub.toml"), "PYTHONUNBUFFERED": "1"}
    hub = demo.spawn("hub", [sys.executable, "-m", "hub.cli", "serve", "--host", "127.0.0.1",
                             "--port", str(HUB_PORT)], env=env)
    demo.spawn("bridge", [sys.executable, "-m", "hub.cli", "bridge"], env=env)
    wait_http(f"http://127.0.0.1:{HUB_PORT}/api/v1/openapi.json", hub)
    if not facts["tls"]:
        return  # the controllers speak MQTT 5 only; the embedded broker cannot carry them
    for door in facts["doors"]:
        etc = demo.state / "devices" / f"gatehouse-{door['device']}"
        demo.spawn(f"controller-{door['device']}",
                   [sys.executable, "-m", "controller.cli", "--config", str(etc / "controller.toml"), "--simulate"],
                   env={"PYTHONUNBUFFERED": "1"})


def print_summary(demo: Demo, facts_path: Path) -> None:
    """What a person needs to try the demo."""
    f = demo.facts
    broker = f["broker"]
    obs = broker["observer"]
    mq = f"-h 127.0.0.1 -p {broker['port']} -u observer -P {obs['password']}"
    print("\nGatehouse demo is running. Started:")
    for child in demo.children:
        print(f"  {child.name:<28} pid {child.proc.pid:<7} log {child.log.relative_to(demo.state.parent.parent) if demo.state.is_relative_to(ROOT) else child.log}")
    print(f"  broker: {broker['kind']}; observers on 127.0.0.1:{broker['port']}, devices on 127.0.0.1:{broker['device_port']}")
    if not f["tls"]:
        print("  NOTE: without Mosquitto the door controllers are not started (they need MQTT 5);"
              " install it: sudo apt-get install mosquitto")
    print(f"\nHub web UI and API: {f['hub_url']}  (OpenAPI: {f['hub_url']}/api/v1/openapi.json)")
    print("Accounts (password, then the 6-digit code from an authenticator app with this secret):")
    for role, acc in f["accounts"].items():
        where = ", ".join(acc["buildings"]) or "district-wide"
        print(f"  {role:<13} user {acc['username']:<10} password '{acc['password']}'  TOTP secret {acc['totp_secret']}  ({where})")
    print("Staff to try (card UID, PIN):")
    shown = [p for p in f["staff"] if p["building"] == "lincoln" and p["kind"] == "staff"][:5]
    for p in shown:
        print(f"  {p['staff_id']:<6} {p['name']:<18} card {p['card_uid']}  pin {p['pin'] or '-':<5} doors {', '.join(p['doors'])}"
              f"{'  (24/7)' if p['always'] else ''}")
    door = "lincoln-office"
    someone = next((p for p in f["staff"] if door in p["doors"] and p["always"]), shown[0])
    print("\nTry it (in another terminal):")
    print(f"  watch everything:  mosquitto_sub {mq} -t 'gatehouse/v1/#' -v")
    print(f"  tap a card:        mosquitto_pub {mq} -t gatehouse/v1/sim/{door}/tap -m '{{\"uid\": \"{someone['card_uid']}\"}}'")
    print(f"  open the door:     mosquitto_pub {mq} -t gatehouse/v1/sim/{door}/contact -m '{{\"open\": true}}'")
    print(f"  close it:          mosquitto_pub {mq} -t gatehouse/v1/sim/{door}/contact -m '{{\"open\": false}}'")
    print(f"  PIN (card+PIN doors): mosquitto_pub {mq} -t gatehouse/v1/sim/lincoln-records/pin -m '{{\"digits\": \"1234#\"}}'")
    print(f"Then sign in as the principal at {f['hub_url']}, open a person and terminate them: every door confirms.")
    print(f"\nEverything above, for scripts: {facts_path}")
    print("Stop with Ctrl-C (every process stops). `make demo` again keeps the data; `make demo-reset` starts over.",
          flush=True)


def run(state: Path | None = None) -> int:
    """Set up (first run), start every process, print how to use it, wait for Ctrl-C / SIGTERM."""
    state = state or DEMO_DIR
    state.mkdir(parents=True, exist_ok=True)
    pid_file = claim_pid_file(state)
    demo = Demo(state)
    stopping = {"flag": False}

    def on_signal(signum, frame) -> None:
        stopping["flag"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        mosquitto = find_mosquitto()
        if mosquitto is None:
            print("mosquitto is not installed: falling back to the embedded Python broker (amqtt)")
        check_ports(mosquitto=mosquitto)
        facts = setup(state, tls=mosquitto is not None)
        start_broker(demo, mosquitto=mosquitto)
        start_system(demo, facts)
        demo.facts.update({k: v for k, v in facts.items() if k != "tls"})
        demo.facts["tls_devices"] = facts["tls"]
        facts_path = write_facts(demo)
        demo.facts["tls"] = facts["tls"]
        print_summary(demo, facts_path)
        while not stopping["flag"]:
            for child in demo.children:
                if child.proc.poll() is not None:
                    raise DemoError(f"{child.name} stopped unexpectedly (code {child.proc.returncode}); "
                                    f"log {child.log}:\n{tail(child.log)}")
            time.sleep(0.5)
        print("\nstopping the demo...")
        return 0
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    finally:
        demo.stop_all()
        pid_file.unlink(missing_ok=True)


def reset(state: Path = DEMO_DIR) -> int:
    """Delete the demo's state so the next run starts over."""
    pid_file = state / "demo.pid"
    if pid_file.exists():
        try:
            pid = int(pid_file.read_text().strip())
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError):
            pass
        else:
            print(f"demo: stop the running demo first (pid {pid})", file=sys.stderr)
            return 1
    shutil.rmtree(state, ignore_errors=True)
    print(f"removed {state}; `make demo` starts over")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m hub.demo {run,reset,embedded-broker}``."""
    parser = argparse.ArgumentParser(prog="python -m hub.demo", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start the demo and wait for Ctrl-C")
    sub.add_parser("reset", help="delete the demo's state")
    emb = sub.add_parser("embedded-broker", help=argparse.SUPPRESS)
    emb.add_argument("--port", type=int, default=BROKER_PORT)
    args = parser.parse_args(argv)
    if args.command == "run":
        try:
            return run()
        except DemoError as exc:
            print(f"demo: {exc}", file=sys.stderr)
            return 1
    if args.command == "reset":
        return reset()
    embedded_broker(args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
