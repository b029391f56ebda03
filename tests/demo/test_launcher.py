"""The demo launcher's answers to a busy port, a stale pid file and a second start."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.mosquitto import free_port

ROOT = Path(__file__).parents[2]


def launch(tmp_path: Path, port: int) -> subprocess.Popen:
    # every port of its own: a demo someone runs on this machine must not make the test fail
    env = {**os.environ, "GATEHOUSE_DEMO_DIR": str(tmp_path / "demo"), "GATEHOUSE_DEMO_MQTT_PORT": str(port),
           "GATEHOUSE_DEMO_MQTT_TLS_PORT": str(free_port()), "GATEHOUSE_DEMO_HUB_PORT": str(free_port())}
    return subprocess.Popen([sys.executable, "-m", "hub.demo", "run"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_busy_port_is_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = launch(tmp_path, port)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert f"port {port}" in err and "GATEHOUSE_DEMO_MQTT_PORT" in err
    assert "Traceback" not in err


def test_stale_pid_file_is_cleared_and_sigterm_stops_everything(tmp_path: Path) -> None:
    state = tmp_path / "demo"
    state.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (state / "demo.pid").write_text(str(dead.pid))
    port = free_port()
    proc = launch(tmp_path, port)
    deadline = time.monotonic() + 60
    while not (state / "demo.json").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert (state / "demo.json").exists(), proc.communicate()[1]
    assert oct((state / "demo.json").stat().st_mode & 0o777) == "0o600"

    second = launch(tmp_path, free_port())
    _, err2 = second.communicate(timeout=30)
    assert second.returncode == 1 and "already running" in err2 and "Traceback" not in err2

    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stale pid file" in out
    assert not (state / "demo.pid").exists()
    with socket.socket() as sock:  # the broker is gone too
        sock.bind(("127.0.0.1", port))

    # A damaged demo database: a clear way forward, no traceback, nothing started.
    db = state / "hub.db"
    db.write_bytes(b"\x00garbage" * 512)
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    third = launch(tmp_path, free_port())
    _, err3 = third.communicate(timeout=60)
    assert third.returncode == 1
    assert "damaged" in err3 and "make demo-reset" in err3 and "Traceback" not in err3
