"""hardware imports nothing of link, controller, kiosk or hub, and mfrc522 only lazily."""

import ast
import subprocess
import sys
from pathlib import Path

import hardware

PACKAGE = Path(hardware.__file__).parent
FORBIDDEN = {"link", "controller", "kiosk", "hub"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_module_imports_another_part() -> None:
    offenders = {p.name: imported_roots(p) & FORBIDDEN for p in PACKAGE.glob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_every_module_does_not_load_the_pi_libraries() -> None:
    code = (
        "import sys, hardware.reader, hardware.devices, hardware.mfrc522_sim, hardware.camera, "
        "hardware.printer, hardware.door, hardware.keypad\n"
        "from hardware.reader import SimReader\n"
        "r = SimReader(); r.close()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('RPi', 'spidev', 'mfrc522', 'link', "
        "'controller', 'kiosk', 'hub'))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
