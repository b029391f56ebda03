"""The accounts layer's import boundaries: hub.auth never reaches into the rest of the hub's
use-cases or pages, nor into device packages; its decision cores import no I/O libraries."""

from __future__ import annotations

import ast
from pathlib import Path

import hub.auth

ROOT = Path(hub.auth.__file__).parent
FORBIDDEN = ("hub.services", "hub.web", "hub.api", "hub.bridge", "hub.cli", "hardware",
             "controller", "kiosk")
PURE = {"permissions.py": ("flask", "sqlalchemy", "hub.db"),
        "passwords.py": ("flask", "sqlalchemy", "hub.db"),
        "totp.py": ("flask", "sqlalchemy", "hub.db"),
        "clock.py": ("flask", "sqlalchemy", "hub.db"),
        "seeds.py": ("flask", "sqlalchemy", "hub.db")}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_module_imports_outside_its_boundary() -> None:
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_decision_cores_do_no_io() -> None:
    offenders = []
    for filename, banned in PURE.items():
        for name in _imports(ROOT / filename):
            if any(name == b or name.startswith(b + ".") for b in banned):
                offenders.append(f"{filename} imports {name}")
    assert offenders == []


def test_no_core_reads_the_wall_clock() -> None:
    for filename in ("permissions.py", "passwords.py", "totp.py", "throttle.py", "sessions.py",
                     "audit.py", "services.py"):
        text = (ROOT / filename).read_text(encoding="utf-8")
        assert "datetime.now(" not in text and "utcnow(" not in text, filename
