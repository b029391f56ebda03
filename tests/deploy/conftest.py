"""Helpers for the deploy/ tests: unit-file parsing, the installed console scripts, and a hub
set up exactly as docs/install.md does it (through ``gatehouse-hub``) in a temporary directory."""

from __future__ import annotations

import shutil
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from hub import cli

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
DOCS = REPO / "docs"
#: where the units expect the checkout and its virtual environment
OPT_VENV = "/opt/gatehouse/.venv"
VENV = Path(sys.executable).parent.parent


def script(name: str) -> Path:
    """The installed console script ``name`` of this checkout's virtual environment."""
    path = VENV / "bin" / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make venv`")
    return path


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit file as {section: [(key, value), ...]}, repeated keys kept in order."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        if current is None or "=" not in line:
            raise AssertionError(f"{path.name}:{number}: not a key=value line: {raw!r}")
        key, value = line.split("=", 1)
        current.append((key.strip(), value.strip()))
    return sections


def values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    """Every value of ``key`` in ``section`` (systemd allows repeats)."""
    return [v for k, v in unit.get(section, []) if k == key]


def unit_files() -> list[Path]:
    """Every systemd unit shipped in deploy/."""
    return sorted([*DEPLOY.glob("*.service"), *(DEPLOY / "systemd").glob("*.service"),
                   *(DEPLOY / "systemd").glob("*.timer")])


@dataclass(frozen=True)
class HubSite:
    """A hub provisioned through its CLI, with two controller bundles unpacked."""

    root: Path
    config: Path
    ca_dir: Path
    broker_dir: Path
    devices: dict[str, Path]

    def run(self, *argv: str) -> int:
        """``gatehouse-hub --config <hub.toml> ARGV`` in this process."""
        return cli.main(["--config", str(self.config), *argv])


def make_hub_site(root: Path, *, broker_port: int = 8883) -> HubSite:
    """db upgrade, pki init, pki broker-cert, building add, device add x2, broker files."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "hub.toml"
    config.write_text(f"""
[hub]
database_url = "sqlite:///{root}/hub.db"
var_dir = "{root}"

[secrets]
site_key_file = "{root}/secrets/site.key"
vault_key_file = "{root}/secrets/vault.key"
hub_key_file = "{root}/secrets/hub-ed25519.pem"
ca_dir = "{root}/ca"

[broker]
host = "127.0.0.1"
port = {broker_port}
tls = true

[auth]
trusted_proxies = 1
""")
    site = HubSite(root, config, root / "ca", root / "mosquitto", {})
    steps = [
        ("db", "upgrade"),
        ("pki", "init", "--name", "Test District CA"),
        ("pki", "broker-cert", "127.0.0.1", "localhost", "--out", str(site.broker_dir)),
        ("building", "add", "lincoln", "--name", "Lincoln High", "--tz", "America/New_York"),
    ]
    for device in ("lincoln-ctl-1", "lincoln-ctl-2"):
        steps.append(("device", "add", device, "--kind", "controller", "--building", "lincoln",
                      "--out", str(root / "bundles" / f"gatehouse-{device}.tar.gz")))
    steps.append(("broker", "files", "--out", str(site.broker_dir)))
    for argv in steps:
        assert site.run(*argv) == 0, argv
    for device in ("lincoln-ctl-1", "lincoln-ctl-2"):
        with tarfile.open(root / "bundles" / f"gatehouse-{device}.tar.gz") as tar:
            tar.extractall(root / "devices", filter="data")
        site.devices[device] = root / "devices" / f"gatehouse-{device}"
    return site


@pytest.fixture(scope="module")
def hub_site(tmp_path_factory: pytest.TempPathFactory) -> HubSite:
    """A provisioned hub in a temporary directory (one per test module)."""
    return make_hub_site(tmp_path_factory.mktemp("hub"))


def need(binary: str) -> str:
    """The path of ``binary``, or skip (fail under GATEHOUSE_REQUIRE_SERVICES=1)."""
    from tests.conftest import need_service

    found = shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}") if Path(p).exists()), None)
    if found is None:
        need_service(binary)
    return str(found)
