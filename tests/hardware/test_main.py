"""python -m hardware: the device listing an installer runs."""

from pathlib import Path

import pytest

from hardware.__main__ import main


def test_simulated_controller_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--simulate", "controller"]) == 0
    out = capsys.readouterr().out
    assert "reader reader0" in out and "door door0" in out and "keypad keypad0" in out


def test_simulated_kiosk_without_a_camera_source_says_so(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["--simulate", "kiosk", "--camera-source", str(tmp_path / "none")]) == 1
    assert "unavailable=no camera source" in capsys.readouterr().out


def test_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "controller.toml"
    path.write_text('[service]\nid = "door-1"\n\n[[hardware.readers]]\ntype = "sim"\nname = "front"\n'
                    '\n[[hardware.doors]]\ntype = "sim"\n')
    assert main(["--config", str(path)]) == 0
    assert "reader front" in capsys.readouterr().out


@pytest.mark.parametrize(("text", "needle"), [
    ('[[hardware.doors]]\ntype = "sim"\nrelay_pn = 4\n', "relay_pn"),
    ("[[hardware.doors]\n", "invalid"),
])
def test_bad_config_file_exits_2_naming_the_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     text: str, needle: str) -> None:
    path = tmp_path / "controller.toml"
    path.write_text(text)
    assert main(["--config", str(path)]) == 2
    assert needle in capsys.readouterr().err


def test_missing_config_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "nope.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err
