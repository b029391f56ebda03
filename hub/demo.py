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


def start_broker(demo: Demo) -> None:
    """Mosquitto on 127.0.0.1 when installed; otherwise the embedded amqtt broker (says so)."""
    if not port_free(BROKER_PORT):
        raise DemoError(f"port {BROKER_PORT} on 127.0.0.1 is in use (another MQTT broker?). Stop it "
                        "(e.g. `sudo systemctl stop mosquitto`) or choose another port with "
                        "GATEHOUSE_DEMO_MQTT_PORT=11883 make demo")
    broker_dir = demo.state / "broker"
    broker_dir.mkdir(parents=True, exist_ok=True)
    observer_password = _observer_password(broker_dir)
    mosquitto = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if mosquitto:
        _write_mosquitto_files(broker_dir, observer_password)
        child = demo.spawn("broker", [mosquitto, "-c", str(broker_dir / "mosquitto.conf")])
        kind = "mosquitto"
        mqtt_version = 5
    else:
        child = demo.spawn("broker", [sys.executable, "-m", "hub.demo", "embedded-broker",
                                      "--port", str(BROKER_PORT)])
        kind = "embedded (amqtt, MQTT 3.1.1; install mosquitto for the real broker)"
        mqtt_version = 4
    wait_listening(BROKER_PORT, child)
    demo.facts["broker"] = {"host": "127.0.0.1", "port": BROKER_PORT, "tls": None, "kind": kind,
                            "mqtt_version": mqtt_version,
                            "observer": {"username": "observer", "password": observer_password}}


def _observer_password(broker_dir: Path) -> str:
    path = broker_dir / "observer.secret"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(os.urandom(12).hex())
    return path.read_text().strip()


def _write_mosquitto_files(broker_dir: Path, observer_password: str) -> None:
    from link.broker_acl import mosquitto_acl

    passwd = broker_dir / "passwd"
    passwd.unlink(missing_ok=True)
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    subprocess.run([tool, "-c", "-b", str(passwd), "observer", observer_password], check=True,
                   capture_output=True)
    (broker_dir / "acl").write_text(mosquitto_acl(observers=("observer",)))
    user = __import__("pwd").getpwuid(os.geteuid()).pw_name
    (broker_dir / "mosquitto.conf").write_text("\n".join([
        "# Demo broker: loopback only. Generated by hub/demo.py.",
        f"user {user}",
        "persistence false",
        "log_dest stderr",
        f"listener {BROKER_PORT} 127.0.0.1",
        "allow_anonymous false",
        f"password_file {passwd}",
        f"acl_file {broker_dir / 'acl'}",
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


# ---------------------------------------------------------------------------- run
def write_facts(demo: Demo) -> Path:
    """Write ``var/demo/demo.json`` (0600: it holds demo passwords and tokens)."""
    path = demo.state / "demo.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(demo.facts, fh, indent=2)
    return path


def run(state: Path | None = None) -> int:
    """Start the demo and wait for Ctrl-C / SIGTERM."""
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
        start_broker(demo)
        facts_path = write_facts(demo)
        broker = demo.facts["broker"]
        print("Gatehouse demo is running. Started:")
        print(f"  broker     {broker['kind']} on {broker['host']}:{broker['port']} (loopback only)")
        print("  not yet started: hub, door controllers, kiosk (their services are not in this "
              "checkout yet; see README)")
        print(f"Facts for scripts: {facts_path}")
        print(f"Watch everything:  mosquitto_sub -h 127.0.0.1 -p {broker['port']} -u observer "
              f"-P {broker['observer']['password']} -t 'gatehouse/v1/#' -v")
        print("Stop with Ctrl-C.", flush=True)
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
