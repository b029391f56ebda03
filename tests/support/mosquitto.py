"""Start a real Mosquitto on a free loopback port, with TLS and the contract's ACL."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from link.broker_acl import mosquitto_acl
from tests.support.pki import TestPki


def find_mosquitto() -> str | None:
    """The mosquitto binary, or None."""
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mosquitto:
    """One broker process; ``stop()``/``start()`` keep the port so clients can reconnect."""

    def __init__(self, root: Path, pki: TestPki, *, observers: tuple[str, ...] = ("observer",)) -> None:
        self.binary = find_mosquitto()
        if self.binary is None:
            raise FileNotFoundError("mosquitto is not installed (apt-get install mosquitto)")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.pki = pki
        self.host = "127.0.0.1"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_file = self.root / "mosquitto.log"
        (self.root / "acl").write_text(mosquitto_acl(observers=observers))
        user = pwd.getpwuid(os.geteuid()).pw_name
        (self.root / "mosquitto.conf").write_text("\n".join([
            f"user {user}",
            "per_listener_settings false",
            "allow_anonymous false",
            "persistence false",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            f"acl_file {self.root / 'acl'}",
            f"listener {self.port} 127.0.0.1",
            "protocol mqtt",
            f"cafile {pki.ca_file}",
            f"certfile {pki.server.cert}",
            f"keyfile {pki.server.key}",
            f"crlfile {pki.crl_file}",
            "require_certificate true",
            "use_identity_as_username true",
            "tls_version tlsv1.2",
            "",
        ]))

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker and wait until it accepts connections."""
        log = open(self.log_file, "ab")
        self.proc = subprocess.Popen([self.binary, "-c", str(self.root / "mosquitto.conf")],
                                     stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log_file.read_text()[-2000:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"mosquitto did not listen on {self.port}")

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL)."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def reload(self) -> None:
        """SIGHUP: re-read the ACL and certificate files."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGHUP)
