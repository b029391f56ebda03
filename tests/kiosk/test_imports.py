"""Package boundaries: kiosk imports hardware and link only; hub.visitors imports hub and link only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = {"hardware", "link", "kiosk", "hub", "controller"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & FIRST_PARTY


@pytest.mark.parametrize(("package", "allowed"), [
    ("kiosk", {"kiosk", "hardware", "link"}),
    ("hub/visitors", {"hub", "link"}),
])
def test_boundaries(package: str, allowed: set[str]) -> None:
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = _imports(path) - allowed
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("module", ["kiosk/aamva.py", "kiosk/text.py", "kiosk/flow.py", "kiosk/screening.py",
                                    "hub/visitors/screening.py"])
def test_cores_are_pure(module: str) -> None:
    source = (ROOT / module).read_text(encoding="utf-8")
    tree = ast.parse(source)
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not names & {"flask", "sqlalchemy", "paho", "cv2", "escpos", "hardware", "sqlite3", "requests"}
    assert "datetime.now(" not in source and ".now()" not in source
