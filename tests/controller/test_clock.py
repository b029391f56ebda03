"""Clock trust: the pure rule and the systemd probe."""

from __future__ import annotations

import ast
import pathlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import controller
from controller.clock import is_trusted, ntp_probe, systemd_ntp_synced

T = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("now, last, synced, tolerance, expected", [
    (T, None, True, 0, True),
    (T, None, False, 0, False),
    (T, T - timedelta(hours=1), True, 0, True),
    (T, T + timedelta(seconds=1), True, 0, False),
    (T, T + timedelta(seconds=100), True, 120, True),
    (T, T + timedelta(days=30), True, 120, False),
    (T, T - timedelta(hours=1), False, 0, False),
], ids=["first boot synced", "never synced", "ahead of anchor", "behind anchor",
        "behind within tolerance", "a month behind", "synced flag missing"])
def test_is_trusted(now, last, synced, tolerance, expected) -> None:
    """NTP synced since boot and not behind the last trusted time."""
    assert is_trusted(now, last, synced, tolerance) is expected


def test_systemd_flag_file(tmp_path: Path) -> None:
    """timesyncd's flag file means synchronised."""
    flag = tmp_path / "synchronized"
    flag.write_text("")
    assert systemd_ntp_synced(flag=flag) is True


def test_systemd_probe_without_flag_asks_timedatectl(tmp_path: Path) -> None:
    """Without the flag the answer comes from timedatectl (False here: no systemd in CI)."""
    assert systemd_ntp_synced(flag=tmp_path / "absent", timeout_s=5) in (True, False)


def test_fixed_probes() -> None:
    """Simulation modes pin the answer."""
    assert ntp_probe("synced")() is True and ntp_probe("never")() is False
    assert ntp_probe("systemd") is systemd_ntp_synced


def test_controller_imports_only_hardware_and_link() -> None:
    """No controller module imports hub or kiosk."""
    root = pathlib.Path(controller.__file__).parent
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                    else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for mod in mods:
                assert mod.split(".")[0] not in ("hub", "kiosk"), f"{path.name} imports {mod}"


def test_controller_does_not_load_the_kiosk_stacks() -> None:
    """numpy, OpenCV, Pillow and escpos (~15 MB) stay out of a door controller's process."""
    import subprocess
    import sys

    code = ("import sys, controller.cli, controller.service, controller.hw, link.device; "
            "print(','.join(m for m in ('numpy', 'cv2', 'PIL', 'escpos') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=pathlib.Path(controller.__file__).parents[1])
    assert out.stdout.strip() == ""
