"""The systemd units in deploy/: systemd accepts them, their commands are real, and they agree
with the code about users, paths and the configuration each program reads."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tomllib
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import need_service
from cryptography import x509

from hub import cli as hub_cli
from hub import config as hub_config
from hub import pki
from tests.deploy.conftest import (
    DEPLOY,
    OPT_VENV,
    REPO,
    VENV,
    parse_unit,
    script,
    unit_files,
    values,
)

UNITS = unit_files()
SERVICES = [p for p in UNITS if p.suffix == ".service"]
HUB_UNITS = [DEPLOY / "systemd" / n for n in
             ("gatehouse-hub.service", "gatehouse-hub-bridge.service",
              "gatehouse-broker-files.service")]
CONSOLE_SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def test_every_expected_unit_is_shipped() -> None:
    names = {p.name for p in UNITS}
    assert {"gatehouse-hub.service", "gatehouse-hub-bridge.service", "gatehouse-broker-files.service",
            "gatehouse-broker-files.timer", "gatehouse-controller.service",
            "gatehouse-kiosk.service"} <= names


@pytest.mark.parametrize("unit", UNITS, ids=_ids(UNITS))
def test_systemd_analyze_verify_is_silent(unit: Path, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        need_service("systemd-analyze")
    # verify also checks that each ExecStart= binary exists: point /opt/gatehouse at this venv.
    for other in UNITS:  # a timer is verified together with the service it starts
        (tmp_path / other.name).write_text(other.read_text().replace(OPT_VENV, str(VENV)))
    targets = [str(tmp_path / unit.name)]
    if unit.suffix == ".timer":
        targets.append(str(tmp_path / unit.with_suffix(".service").name))
    proc = subprocess.run([analyze, "verify", *targets], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    # unknown keys and unparsable values are only warnings (exit 0): none may appear
    assert proc.stderr.strip() == "", proc.stderr


def test_the_verify_check_catches_a_bad_key(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        need_service("systemd-analyze")
    bad = tmp_path / "bad.service"
    bad.write_text("[Service]\nExecStart=/bin/true\nRestrat=on-failure\n")
    proc = subprocess.run([analyze, "verify", str(bad)], capture_output=True, text=True, timeout=60)
    assert "Restrat" in proc.stderr


def _commands(unit: dict) -> list[list[str]]:
    cmds = []
    for key in ("ExecStartPre", "ExecStart", "ExecStartPost", "ExecReload", "ExecStop"):
        for value in values(unit, "Service", key):
            cmds.append(shlex.split(value.lstrip("+-@:!")))
    return cmds


def _gatehouse_commands(path: Path) -> list[list[str]]:
    return [c for c in _commands(parse_unit(path)) if c[0].startswith(f"{OPT_VENV}/bin/")]


@pytest.mark.parametrize("unit", SERVICES, ids=_ids(SERVICES))
def test_exec_lines_name_real_console_scripts(unit: Path) -> None:
    cmds = _commands(parse_unit(unit))
    assert cmds, "a service without ExecStart"
    for cmd in cmds:
        if cmd[0].startswith(f"{OPT_VENV}/bin/"):
            name = Path(cmd[0]).name
            assert name in CONSOLE_SCRIPTS, f"{name} is not a console script of pyproject.toml"
            assert subprocess.run([str(script(name)), "--help"], capture_output=True,
                                  timeout=60).returncode == 0
        else:
            assert Path(cmd[0]).is_absolute(), cmd


def _environment(unit: dict) -> dict[str, str]:
    env = {}
    for value in values(unit, "Service", "Environment"):
        for item in shlex.split(value):
            key, _, val = item.partition("=")
            env[key] = val
    return env


@pytest.mark.parametrize("unit", SERVICES, ids=_ids(SERVICES))
def test_exec_start_arguments_parse_and_reach_the_named_config(unit: Path, tmp_path: Path) -> None:
    """Run each ExecStart for real with the unit's environment, its /etc paths moved to an
    empty directory: argument parsing must succeed and the program must stop on the missing
    configuration file the unit names (exit 2), not on a usage error."""
    parsed = parse_unit(unit)
    env = {**os.environ, **_environment(parsed)}
    etc = tmp_path / "etc"
    for cmd in _gatehouse_commands(unit):
        argv = [str(script(Path(cmd[0]).name))] + [a.replace("/etc/", f"{etc}/") for a in cmd[1:]]
        run_env = {k: v.replace("/etc/", f"{etc}/") for k, v in env.items()}
        proc = subprocess.run(argv, capture_output=True, text=True, env=run_env, timeout=60,
                              cwd=tmp_path)
        assert "usage:" not in proc.stderr and "unrecognized" not in proc.stderr, proc.stderr
        assert proc.returncode == 2, (argv, proc.returncode, proc.stderr)
        assert str(etc) in proc.stderr, proc.stderr


@pytest.mark.parametrize("unit", HUB_UNITS, ids=_ids(HUB_UNITS))
def test_hub_exec_lines_parse_with_the_hub_parser(unit: Path) -> None:
    parser = hub_cli.build_parser()
    for cmd in _gatehouse_commands(unit):
        assert Path(cmd[0]).name == "gatehouse-hub"
        parser.parse_args(cmd[1:])  # SystemExit(2) on an unknown command or flag


@pytest.mark.parametrize("unit", HUB_UNITS, ids=_ids(HUB_UNITS))
def test_hub_units_are_hardened(unit: Path) -> None:
    u = parse_unit(unit)

    def one(key: str) -> str:
        found = values(u, "Service", key)
        assert len(found) == 1, f"{unit.name}: {key} appears {len(found)} times"
        return found[0]

    assert one("User") == "gatehouse" and one("Group") == "gatehouse"
    assert not values(u, "Service", "DynamicUser")  # state must persist
    assert one("ProtectSystem") == "strict"
    assert "/var/lib/gatehouse" in one("ReadWritePaths").split()
    for key in ("NoNewPrivileges", "PrivateTmp", "MemoryDenyWriteExecute", "ProtectHome",
                "RestrictSUIDSGID", "LockPersonality"):
        assert one(key) == "yes", key
    assert one("CapabilityBoundingSet") == ""
    assert set(one("RestrictAddressFamilies").split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    env = _environment(u)
    assert env["GATEHOUSE_HUB_CONFIG"] == "/etc/gatehouse/hub.toml"
    if one("Type") != "oneshot":
        assert one("Restart") == "on-failure"


def test_the_config_variable_is_the_one_the_hub_reads(tmp_path: Path) -> None:
    toml = tmp_path / "hub.toml"
    toml.write_text('[hub]\nkey_return_days = 9\n[auth]\ntrusted_proxies = 1\n')
    env = _environment(parse_unit(HUB_UNITS[0]))
    (name,) = [k for k in env if k.startswith("GATEHOUSE_")]
    loaded = hub_config.from_environment({name: str(toml)})
    assert loaded["KEY_RETURN_DAYS"] == 9
    assert loaded["AUTH_TRUSTED_PROXIES"] == 1  # what deploy/nginx/gatehouse-hub.conf needs


def test_serve_listens_where_nginx_proxies() -> None:
    (cmd,) = _gatehouse_commands(DEPLOY / "systemd" / "gatehouse-hub.service")
    args = hub_cli.build_parser().parse_args(cmd[1:])
    assert (args.command, args.host, args.port, args.bridge) == ("serve", "127.0.0.1", 8000, False)
    nginx = (DEPLOY / "nginx" / "gatehouse-hub.conf").read_text()
    assert re.search(r"^\s*proxy_pass http://127\.0\.0\.1:8000;", nginx, re.M)


def test_broker_files_unit_writes_where_mosquitto_reads() -> None:
    u = parse_unit(DEPLOY / "systemd" / "gatehouse-broker-files.service")
    (cmd,) = _gatehouse_commands(DEPLOY / "systemd" / "gatehouse-broker-files.service")
    out = hub_cli.build_parser().parse_args(cmd[1:]).out
    conf = (DEPLOY / "mosquitto" / "gatehouse.conf").read_text()
    for key in ("acl_file", "password_file", "crlfile"):
        (path,) = re.findall(rf"^{key} (\S+)$", conf, re.M)
        assert Path(path).parent == Path(out), key
    assert out in values(u, "Service", "ReadWritePaths")[0].split()
    # the passwd file must become readable by group mosquitto, or the broker will not start
    posts = values(u, "Service", "ExecStartPost")
    assert f"/usr/bin/chmod 0640 {out}/passwd" in posts
    assert any(p.startswith("+") and "reload" in p and "mosquitto" in p for p in posts)


def test_timer_refreshes_the_crl_well_before_it_expires(tmp_path: Path) -> None:
    """The hub's CRL has a nextUpdate; past it Mosquitto refuses every device (see
    test_mosquitto_conf). The timer must run at least twice within that validity."""
    ca = pki.DistrictCA.create(tmp_path / "ca")
    files = pki.write_broker_files(ca, tmp_path / "out", revoked=[])
    crl = x509.load_pem_x509_crl(files.crl.read_bytes())
    validity = crl.next_update_utc - crl.last_update_utc
    timer = parse_unit(DEPLOY / "systemd" / "gatehouse-broker-files.timer")
    (calendar,) = values(timer, "Timer", "OnCalendar")
    assert values(timer, "Timer", "Persistent") == ["true"]
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        need_service("systemd-analyze")
    out = subprocess.run([analyze, "calendar", "--iterations=2", calendar], capture_output=True,
                         text=True, timeout=30, env={**os.environ, "TZ": "UTC"}).stdout
    stamps = re.findall(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", out)
    first, second = (datetime.fromisoformat(s) for s in stamps[:2])
    period = second - first
    assert 2 * period < validity, (period, validity)


@pytest.mark.parametrize("kind", ["controller", "kiosk"])
def test_device_units_match_the_bundle_the_hub_writes(kind: str) -> None:
    """The config path and state directory of each device unit are the ones the hub's
    ``device add`` bundle uses (pki.device_toml)."""
    u = parse_unit(DEPLOY / f"gatehouse-{kind}.service")
    (cmd,) = _gatehouse_commands(DEPLOY / f"gatehouse-{kind}.service")
    config_path = cmd[cmd.index("--config") + 1]
    assert config_path == f"/etc/gatehouse/{kind}.toml"
    toml = tomllib.loads(pki.device_toml(device_id="x-1", kind=kind, broker_host="h",
                                         broker_port=8883, door_ids=["d-1"]))
    section = "device" if kind == "controller" else "kiosk"
    state_dir = toml[section]["state_dir"]
    assert values(u, "Service", "StateDirectory") == [state_dir.removeprefix("/var/lib/")]
    assert values(u, "Service", "User") == ["gatehouse"]
    assert values(u, "Service", "CapabilityBoundingSet") == [""]
    assert values(u, "Service", "Restart") == ["on-failure"]


@pytest.mark.parametrize("unit", HUB_UNITS, ids=_ids(HUB_UNITS))
def test_hub_units_score_low_in_systemd_security(unit: Path, tmp_path: Path) -> None:
    """`systemd-analyze security` rates the hub units' exposure at most 2.5 of 10 (they score
    1.8 today; the door controller, which must reach GPIO and SPI, scores 4.6)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        need_service("systemd-analyze")
    copy = tmp_path / unit.name
    copy.write_text(unit.read_text().replace(OPT_VENV, str(VENV)))
    proc = subprocess.run([analyze, "security", "--offline=true", "--threshold=25", str(copy)],
                          capture_output=True, text=True, timeout=60)
    if "Unknown option" in proc.stderr or "unrecognized option" in proc.stderr:
        pytest.skip("this systemd-analyze has no offline security check")
    assert proc.returncode == 0, proc.stdout[-1500:]
