"""``gatehouse-controller``: exit codes and messages for each kind of bad start, and a clean run."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from controller.cli import EXIT_CACHE, EXIT_CONFIG, main
from link import keys
from tests.controller.acl import SITE_KEY


@pytest.fixture(autouse=True)
def keep_logging():
    """main() points the root logger at this test's stderr; put it back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def write_setup(tmp_path: Path, *, extra_door: str = "", port: int = 9) -> Path:
    """Key files and a simulated controller.toml pointing at a broker nobody runs."""
    keys.generate(tmp_path / "device.key", tmp_path / "device.pub")
    keys.generate(tmp_path / "hub.key", tmp_path / "hub.pub")
    (tmp_path / "site.key").write_text(SITE_KEY.hex())
    path = tmp_path / "controller.toml"
    path.write_text(f"""
[device]
id = "rr-ctl-9"
state_dir = "{tmp_path / 'state'}"

[broker]
host = "127.0.0.1"
port = {port}
backoff_max_s = 1

[keys]
device_key = "{tmp_path / 'device.key'}"
hub_public_key = "{tmp_path / 'hub.pub'}"
site_key_file = "{tmp_path / 'site.key'}"

[clock]
ntp = "synced"

[[doors]]
id = "rr-1"
{extra_door}
""")
    return path


def test_list_devices_simulated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--simulate --list-devices prints the simulated devices, their state, and who uses what."""
    path = write_setup(tmp_path, extra_door="""
[[doors]]
id = "rr-2"
keypad = "keypad0"
""")
    assert main(["--config", str(path), "--simulate", "--list-devices"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any(line.startswith("reader reader0") and "[sim]" in line for line in lines)
    assert any(line.startswith("door door0") and "strike=locked" in line
               and "door=closed" in line for line in lines)
    assert any(line.startswith("keypad keypad0") for line in lines)
    assert "door rr-1: reader=reader0 io=door0 keypad=-" in lines
    assert "door rr-2: reader=reader1 io=door1 keypad=keypad0" in lines
    assert lines[-1].startswith("acl none")


def test_no_hardware_table_needs_simulate(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Without a [hardware] table only --simulate can run."""
    path = write_setup(tmp_path)
    assert main(["--config", str(path), "--list-devices"]) == EXIT_CONFIG
    assert "no [hardware] table" in capsys.readouterr().err


def test_bad_config_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown key stops the start with its name and line."""
    path = write_setup(tmp_path, extra_door='io = "door0"\nrex_pn = 4')
    assert main(["--config", str(path), "--simulate"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "doors.0.rex_pn" in err and "line" in err and "unknown key" in err


def test_missing_key_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing key file is named."""
    path = write_setup(tmp_path)
    (tmp_path / "hub.pub").unlink()
    assert main(["--config", str(path), "--simulate"]) == EXIT_CONFIG
    assert "hub.pub" in capsys.readouterr().err


def test_short_site_key_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A site key under 16 bytes is refused."""
    path = write_setup(tmp_path)
    (tmp_path / "site.key").write_text("abcd")
    assert main(["--config", str(path), "--simulate"]) == EXIT_CONFIG
    assert "at least 16 bytes" in capsys.readouterr().err


def test_corrupt_cache_exit_3_and_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A corrupt cache file stops the start, says so, and is left untouched."""
    path = write_setup(tmp_path)
    cache = tmp_path / "state" / "acl.db"
    cache.parent.mkdir(parents=True)
    junk = b"SQLite format 3\x00" + b"\x13" * 5000
    cache.write_bytes(junk)
    assert main(["--config", str(path), "--simulate"]) == EXIT_CACHE
    err = capsys.readouterr().err
    assert "acl.db" in err and "kept" in err
    assert cache.read_bytes() == junk


def test_runs_offline_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """The real console entry point runs with no broker and exits 0 on SIGTERM."""
    path = write_setup(tmp_path)
    with subprocess.Popen([sys.executable, "-m", "controller.cli", "--config", str(path),
                           "--simulate"], stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stderr is not None
            seen = []
            for line in proc.stderr:
                seen.append(line)
                if "event=started" in line:
                    break
            assert proc.poll() is None
            proc.send_signal(signal.SIGTERM)
            _, rest = proc.communicate(timeout=30)
            err = "".join(seen) + rest
            assert proc.returncode == 0, err
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert "event=started" in err and "event=stopped" in err and "level=" in err


def test_corrupt_outbox_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A damaged outbox (events not yet at the hub) stops the start too, and is kept."""
    path = write_setup(tmp_path)
    outbox = tmp_path / "state" / "outbox.db"
    outbox.parent.mkdir(parents=True)
    outbox.write_bytes(b"not an outbox" * 100)
    assert main(["--config", str(path), "--simulate"]) == EXIT_CACHE
    assert "outbox.db" in capsys.readouterr().err
    assert outbox.read_bytes() == b"not an outbox" * 100


def test_real_hardware_missing_exit_4(tmp_path: Path) -> None:
    """Off a Pi, the real drivers cannot open their pins: a clear message and exit 4."""
    path = write_setup(tmp_path, extra_door="""
[[hardware.readers]]
type = "mfrc522"
name = "reader0"

[[hardware.doors]]
type = "gpio"
name = "door0"
""")
    proc = subprocess.run([sys.executable, "-W", "ignore", "-m", "controller.cli", "--config",
                           str(path), "--list-devices"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 4
    assert "hardware:" in proc.stderr and "Traceback" not in proc.stderr
