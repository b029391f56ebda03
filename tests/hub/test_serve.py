"""``gatehouse-hub serve``: the production server (Waitress) really started, asked and stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.hub.test_pki_cli import _toml, run
from tests.support.mosquitto import free_port

ROOT = Path(__file__).resolve().parents[2]


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.fixture
def hub_cfg(tmp_path):
    cfg = _toml(tmp_path, f"sqlite:///{tmp_path}/hub.db")
    assert run(cfg, "db", "upgrade") == 0
    return cfg


def _start(cfg: Path, port: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "hub.cli", "--config", str(cfg), "serve", "--host",
                             "127.0.0.1", "--port", str(port), *extra], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_up(proc: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("serve did not listen")


def test_serves_pages_and_api_then_stops_cleanly_on_sigterm(hub_cfg) -> None:
    port = free_port()
    proc = _start(hub_cfg, port, "--threads", "4")
    try:
        _wait_up(proc, port)
        status, headers, body = _get(f"http://127.0.0.1:{port}/auth/login")
        assert status == 200 and b"<form" in body
        assert "waitress" not in headers.get("Server", "").lower()
        assert "Content-Security-Policy" in headers
        status, _, body = _get(f"http://127.0.0.1:{port}/api/v1/people")
        assert status == 401 and b'"error"' in body
        status, _, _ = _get(f"http://127.0.0.1:{port}/api/v1/openapi.json")
        assert status == 200
        # no proxy is trusted by default: a forged X-Forwarded-Proto does not make it "HTTPS"
        forged = urllib.request.Request(f"http://127.0.0.1:{port}/auth/login",
                                        headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.9.9.9"})
        with urllib.request.urlopen(forged, timeout=5) as r:
            assert r.status == 200 and "Strict-Transport-Security" not in r.headers
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert f"serving on http://127.0.0.1:{port}" in out


def test_a_busy_port_is_a_clear_error(hub_cfg) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _start(hub_cfg, port)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "Address already in use" in err or "in use" in err


@pytest.mark.parametrize("threads", ["0", "65"])
def test_thread_count_is_bounded(hub_cfg, threads) -> None:
    proc = _start(hub_cfg, free_port(), "--threads", threads)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "--threads must be from 1 to 64" in err
