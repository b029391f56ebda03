"""docs/install.md and docs/operations.md say only what the code accepts: every quoted
``gatehouse-hub`` command line parses, the controller and kiosk lines parse, the example
``hub.toml`` loads, every unit and file they name exists, and the firewall ruleset is valid."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import need_service

from hub import cli as hub_cli
from hub import config as hub_config
from tests.deploy.conftest import DEPLOY, DOCS, REPO, parse_unit, script, values

PAGES = [DOCS / "install.md", DOCS / "operations.md"]
SYSTEM_UNITS = {"mosquitto", "nginx", "nftables"}


def fenced(path: Path, lang: str) -> list[str]:
    """The bodies of the ```lang blocks of a Markdown page."""
    return re.findall(rf"^\s*```{lang}\n(.*?)^\s*```", path.read_text(), re.M | re.S)


def shell_lines(path: Path) -> list[str]:
    """Every command line of the page's ```sh blocks (comments and blank lines dropped)."""
    lines = []
    for block in fenced(path, "sh"):
        for raw in block.splitlines():
            line = raw.strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def command(line: str, program: str) -> list[str] | None:
    """The argv of ``program`` when the line runs it (optionally through ``sudo -u gatehouse``)."""
    words = shlex.split(line, comments=True)
    if words[:3] == ["sudo", "-u", "gatehouse"]:
        words = words[3:]
    if words and (words[0] == program or words[0].endswith(f"/bin/{program}")):
        return words
    return None


def hub_lines(path: Path) -> list[tuple[str, list[str]]]:
    return [(line, argv) for line in shell_lines(path)
            if (argv := command(line, "gatehouse-hub")) is not None]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_gatehouse_hub_line_parses(page: Path) -> None:
    found = hub_lines(page)
    assert len(found) >= 5, f"{page.name}: expected gatehouse-hub commands"
    parser = hub_cli.build_parser()
    for line, argv in found:
        try:
            args = parser.parse_args(argv[1:])
        except SystemExit:
            pytest.fail(f"{page.name}: does not parse: {line}")
        # the same file the units name in GATEHOUSE_HUB_CONFIG
        assert args.config == "/etc/gatehouse/hub.toml", line


def test_the_parse_check_rejects_an_invented_flag() -> None:
    argv = command("sudo -u gatehouse gatehouse-hub --config /etc/gatehouse/hub.toml "
                   "device revoke lincoln-ctl-1 --kick-now", "gatehouse-hub")
    assert argv is not None
    with pytest.raises(SystemExit):
        hub_cli.build_parser().parse_args(argv[1:])


def test_install_covers_the_whole_set_up() -> None:
    commands = {" ".join(a[3:5]) if a[3:4] else "" for _, a in hub_lines(DOCS / "install.md")}
    for expected in ("db upgrade", "pki init", "pki broker-cert", "init", "building add",
                     "door add", "device add", "device list", "audit verify"):
        assert any(c.startswith(expected) for c in commands), expected
    text = (DOCS / "install.md").read_text()
    assert "broker files --out /etc/mosquitto/gatehouse" in text


@pytest.mark.parametrize("program", ["gatehouse-controller", "gatehouse-kiosk"])
def test_device_command_lines_parse(program: str, tmp_path: Path) -> None:
    lines = [(line, argv) for page in PAGES for line in shell_lines(page)
             if (argv := command(line, program)) is not None]
    inline = [shlex.split(m) for page in PAGES
              for m in re.findall(rf"`({program} [^`]+)`", page.read_text())]
    runs = [argv for _, argv in lines] + inline
    if program == "gatehouse-controller":
        assert runs, "install.md shows how to check a controller's devices"
    for argv in runs:
        real = [str(script(program))] + [a.replace("/etc/", f"{tmp_path}/etc/") for a in argv[1:]]
        proc = subprocess.run(real, capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert "usage:" not in proc.stderr, (argv, proc.stderr)
        assert proc.returncode == 2 and f"{tmp_path}/etc/" in proc.stderr, (argv, proc.stderr)


def test_example_hub_toml_loads_and_matches_the_units(tmp_path: Path) -> None:
    (block,) = fenced(DOCS / "install.md", "toml")
    path = tmp_path / "hub.toml"
    path.write_text(block)
    cfg = hub_config.load_toml(path)
    assert cfg["AUTH_TRUSTED_PROXIES"] == 1
    assert cfg["BROKER_TLS"] is True and cfg["BROKER_PORT"] == 8883
    state = "/var/lib/gatehouse"
    assert cfg["VAR_DIR"] == state and cfg["DATABASE_URL"] == f"sqlite:///{state}/hub.db"
    for key in ("SITE_KEY_FILE", "VAULT_KEY_FILE", "HUB_KEY_FILE", "CA_DIR"):
        assert cfg[key].startswith(f"{state}/"), key  # writable under ProtectSystem=strict
    unit = parse_unit(DEPLOY / "systemd" / "gatehouse-hub.service")
    assert values(unit, "Service", "ReadWritePaths") == [state]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_units_and_files_named_exist(page: Path) -> None:
    text = page.read_text()
    shipped = {p.name.removesuffix(".service") for p in DEPLOY.rglob("*.service")}
    shipped |= {p.name for p in DEPLOY.rglob("*.service")} | {p.name for p in DEPLOY.rglob("*.timer")}
    for line in shell_lines(page):
        words = shlex.split(line, comments=True)
        if "systemctl" in words:
            verb_at = words.index("systemctl") + 1
            for name in words[verb_at + 1:]:
                if name.startswith("-"):
                    continue
                assert name in shipped or name.removesuffix(".service") in SYSTEM_UNITS, line
    named = re.findall(r"(?<![\w/])(deploy/[\w./{},-]+[\w}])", text)
    named += re.findall(r"/opt/gatehouse/(deploy/[\w./{},-]+[\w}])", text)
    assert named or page.name != "install.md", "install.md names no deploy/ file"
    for rel in set(named):
        if "{" in rel:  # deploy/systemd/gatehouse-broker-files.{service,timer}
            stem, alts = re.match(r"(.*)\{(.*)\}", rel).groups()
            paths = [stem + alt for alt in alts.split(",")]
        else:
            paths = [rel]
        for p in paths:
            assert (REPO / p).exists(), f"{page.name} names {p}, which is not in the repo"
    for link in re.findall(r"\]\(([\w.-]+\.md)(?:#[\w-]+)?\)", text):
        assert (DOCS / link).exists(), link


def test_anchors_linked_between_the_pages_exist() -> None:
    def anchors(path: Path) -> set[str]:
        heads = re.findall(r"^#+ (.+)$", path.read_text(), re.M)
        return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in heads}

    for page in [*PAGES, DOCS / "visitors.md"]:
        for target, anchor in re.findall(r"\]\(([\w.-]+\.md)#([\w-]+)\)", page.read_text()):
            assert anchor in anchors(DOCS / target), f"{page.name} -> {target}#{anchor}"


def test_nftables_ruleset_is_valid() -> None:
    nft = shutil.which("nft") or ("/usr/sbin/nft" if Path("/usr/sbin/nft").exists() else None)
    if nft is None:
        need_service("nft")
    proc = subprocess.run([nft, "-c", "-f", str(DEPLOY / "nftables" / "gatehouse.nft")],
                          capture_output=True, text=True, timeout=30)
    if proc.returncode != 0 and "Operation not permitted" in proc.stderr:
        pytest.skip("nft -c needs CAP_NET_ADMIN here")
    assert proc.returncode == 0, proc.stderr
    text = (DEPLOY / "nftables" / "gatehouse.nft").read_text()
    # the broker's port is the one the Mosquitto config listens on
    assert re.search(r"^listener 8883$", (DEPLOY / "mosquitto" / "gatehouse.conf").read_text(), re.M)
    assert "tcp dport 8883 drop" in text and 'iifname "lo" accept' in text


def test_a_typo_in_the_auth_table_stops_the_hub_with_key_and_line(tmp_path: Path) -> None:
    (block,) = fenced(DOCS / "install.md", "toml")
    path = tmp_path / "hub.toml"
    path.write_text(block.replace("trusted_proxies = 1", "trusted_proxy = 1"))
    with pytest.raises(hub_config.ConfigError) as err:
        hub_config.load_toml(path)
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1)
                if text.startswith("trusted_proxy "))
    assert "auth.trusted_proxy" in str(err.value) and f"(line {line})" in str(err.value)
    path.write_text(block.replace("trusted_proxies = 1", 'trusted_proxies = "1"'))
    with pytest.raises(hub_config.ConfigError, match="auth.trusted_proxies"):
        hub_config.load_toml(path)
