"""gatehouse-kiosk: config errors, --list-devices, and the simulated kiosk as a real process."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from kiosk.cli import main
from tests.support.mosquitto import free_port


def test_needs_config_or_simulate(capsys) -> None:
    assert main([]) == 2
    assert "--config" in capsys.readouterr().err


def test_bad_config_names_key_and_line(tmp_path, capsys) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text('[kiosk]\nid = "kiosk-1"\nidle = 5\n[camera]\ntype = "sim"\nsource = "x"\n[printer]\ntype = "dummy"\n')
    assert main(["--config", str(path)]) == 2
    assert "kiosk.idle (line 3)" in capsys.readouterr().err


def test_list_devices_simulated(tmp_path, capsys, fixtures_dir) -> None:
    assert main(["--simulate", "--list-devices", "--state-dir", str(tmp_path),
                 "--camera-source", str(fixtures_dir / "camera")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    camera, printer = lines
    assert camera["role"] == "camera" and camera["driver"] == "sim" and camera["frame"][2] == 3
    assert printer["role"] == "printer" and printer["paper"] == "ok"


def test_list_devices_missing_camera(tmp_path, capsys) -> None:
    assert main(["--simulate", "--list-devices", "--state-dir", str(tmp_path),
                 "--camera-source", str(tmp_path / "nothing")]) == 1
    assert "error" in capsys.readouterr().out


def test_simulated_kiosk_serves_and_stops(tmp_path, fixtures_dir) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "--simulate", "--state-dir", str(tmp_path), "--port", str(port),
         "--camera-source", str(fixtures_dir / "camera")],
        cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        status = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=2) as resp:
                    status = json.loads(resp.read())
                    break
            except OSError:
                time.sleep(0.2)
        assert status is not None, proc.stderr.read1().decode() if proc.poll() is not None else "no answer"
        assert status["hub_connected"] is False
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/?lang=pt", timeout=2) as resp:
            assert "Registrar saída" in resp.read().decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        proc.stdout.close()
        proc.stderr.close()
