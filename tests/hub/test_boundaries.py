"""The hub imports link only; its services import neither Flask nor paho."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HUB = Path(__file__).resolve().parents[2] / "hub"
# hub.auth, hub.security and hub.visitors have owners of their own; the demo launcher may start
# controllers and kiosks (DESIGN.md's one exception).
MINE = [p for p in HUB.rglob("*.py")
        if p.relative_to(HUB).parts[0] not in ("auth", "security", "visitors")
        and not p.name.startswith("demo")]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


@pytest.mark.parametrize("path", MINE, ids=lambda p: str(p.relative_to(HUB)))
def test_hub_never_imports_device_packages(path: Path) -> None:
    bad = {m for m in _imports(path) if m.split(".")[0] in ("hardware", "controller", "kiosk")}
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", sorted((HUB / "services").glob("*.py")), ids=lambda p: p.name)
def test_services_stay_free_of_web_and_mqtt(path: Path) -> None:
    bad = {m for m in _imports(path) if m.split(".")[0] in ("flask", "paho", "werkzeug")}
    assert not bad, f"{path.name} imports {bad}"
    assert "datetime.now(" not in path.read_text(), f"{path.name} reads the clock itself"
