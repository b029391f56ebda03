"""The district CA, device bundles, broker files and the ``gatehouse-hub`` command line."""

from __future__ import annotations

import os
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
from cryptography import x509

from link import keys as link_keys
from hub import cli, pki
from hub.config import ConfigError, load_toml
from tests.support.mosquitto import find_mosquitto, free_port


def _toml(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(f"""
[hub]
database_url = "{db_url}"
var_dir = "{tmp_path}/var"

[secrets]
site_key_file = "{tmp_path}/s/site.key"
vault_key_file = "{tmp_path}/s/vault.key"
hub_key_file = "{tmp_path}/s/hub.pem"
ca_dir = "{tmp_path}/ca"

[broker]
host = "broker.lincoln.example"
port = 8883
""")
    return path


def run(cfg: Path, *argv: str) -> int:
    return cli.main(["--config", str(cfg), *argv])


def _bundle(path: Path) -> dict[str, tarfile.TarInfo | bytes]:
    out: dict = {}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar.getmembers():
            out[member.name.split("/", 1)[1]] = (member, tar.extractfile(member).read())
    return out


def test_provision_controller_and_kiosk_then_revoke(db_url, tmp_path, capsys) -> None:
    cfg = _toml(tmp_path, db_url)
    assert run(cfg, "db", "upgrade") == 0
    assert run(cfg, "pki", "init") == 0
    assert run(cfg, "building", "add", "lincoln", "--name", "Lincoln High") == 0
    assert run(cfg, "door", "add", "lincoln-rr", "--building", "lincoln", "--name", "Records",
               "--kind", "records_room") == 0
    out = tmp_path / "ctl.tar.gz"
    assert run(cfg, "device", "add", "lincoln-ctl-1", "--kind", "controller", "--building",
               "lincoln", "--door", "lincoln-rr", "--out", str(out)) == 0
    files = _bundle(out)
    assert {"controller.toml", "ca.pem", "lincoln-ctl-1.pem", "lincoln-ctl-1.key",
            "lincoln-ctl-1.ed25519", "hub.pub", "site.key"} <= set(files)
    assert files["lincoln-ctl-1.key"][0].mode == 0o600 and files["site.key"][0].mode == 0o600
    assert os.stat(out).st_mode & 0o777 == 0o600
    # the TOML is what the controller itself accepts
    from controller import config as controller_config

    parsed = controller_config.parse(files["controller.toml"][1].decode(), environ={})
    assert parsed.device.id == "lincoln-ctl-1" and [d.id for d in parsed.doors] == ["lincoln-rr"]
    assert parsed.broker.host == "broker.lincoln.example"
    cert = x509.load_pem_x509_certificate(files["lincoln-ctl-1.pem"][1])
    assert cert.subject.rfc4514_string() == "CN=lincoln-ctl-1"
    ca = pki.DistrictCA(tmp_path / "ca")
    cert.verify_directly_issued_by(ca.cert)
    # the registered key is the bundle's key
    from hub.db import Database
    from hub.models import Device

    db = Database(db_url)
    with db.session() as s:
        dev = s.get(Device, "lincoln-ctl-1")
        key = link_keys.parse_public(dev.public_key_pem.encode())
        private = link_keys.load_private(_write(tmp_path / "k.pem", files["lincoln-ctl-1.ed25519"][1]))
        assert link_keys.public_pem(key) == link_keys.public_pem(private.public_key())
        assert dev.doors[0].id == "lincoln-rr"
    kiosk_out = tmp_path / "kiosk.tar.gz"
    assert run(cfg, "device", "add", "lincoln-kiosk", "--kind", "kiosk", "--building", "lincoln",
               "--out", str(kiosk_out)) == 0
    kfiles = _bundle(kiosk_out)
    assert "site.key" not in kfiles
    from kiosk import config as kiosk_config

    assert kiosk_config.parse(kfiles["kiosk.toml"][1].decode()).link.host == "broker.lincoln.example"
    # revoke: the serial lands on the CRL
    assert run(cfg, "device", "revoke", "lincoln-ctl-1") == 0
    crl = x509.load_pem_x509_crl((tmp_path / "ca" / "crl.pem").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
    with db.session() as s:
        assert s.get(Device, "lincoln-ctl-1").status == "revoked"
    db.dispose()
    # bad input: one clear line, exit 2
    capsys.readouterr()
    assert run(cfg, "device", "add", "Bad_Id", "--kind", "kiosk", "--building", "lincoln",
               "--out", str(tmp_path / "x.tgz")) == 2
    assert "invalid id" in capsys.readouterr().err
    assert run(cfg, "device", "add", "lincoln-ctl-9", "--kind", "controller", "--building",
               "nowhere", "--out", str(tmp_path / "y.tgz")) == 2
    assert run(cfg, "device", "revoke", "lincoln-ctl-1") == 2
    assert run(cfg, "pki", "init") == 2  # never replaces a CA


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_hub_toml_is_strict(tmp_path) -> None:
    bad = tmp_path / "hub.toml"
    bad.write_text('[hub]\ndatabase_url = "sqlite:///x.db"\ndatabse = 1\n')
    with pytest.raises(ConfigError) as exc:
        load_toml(bad)
    assert "hub.databse" in str(exc.value) and "line 3" in str(exc.value)
    bad.write_text('[broker]\nport = "8883"\n')
    with pytest.raises(ConfigError, match="broker.port"):
        load_toml(bad)


def test_password_line_matches_mosquitto_passwd() -> None:
    line = pki.mosquitto_password_line("alice", "secret", salt=b"3\x20\xd1M\n~t}\n\x04,\x91")
    assert line == ("alice:$7$101$MyDRTQp+dH0KBCyR$zj0bozBV8cFog9ixjBOxO/3hQzN8xCsSWPbNGDJWB5aAjX"
                    "ysls0OoKuLD3gsWPCwL39zVUwDC9K2u8kzWL415Q==")


@pytest.mark.broker
def test_generated_broker_files_work_in_mosquitto(tmp_path) -> None:
    """Mosquitto loads the generated ACL, password file, CRL and certificates; the ACL holds."""
    if find_mosquitto() is None:
        from tests.conftest import need_service

        need_service("mosquitto")
    ca = pki.DistrictCA.create(tmp_path / "ca")
    server = ca.issue_server(["127.0.0.1", "localhost"])
    broker = tmp_path / "broker"
    files = pki.write_broker_files(ca, broker, revoked=[], observers=["observer"])
    pki._write(broker / "server.pem", server.cert_pem)
    pki._write(broker / "server.key", server.key_pem, 0o600)
    pki._write(broker / "ca.pem", ca.ca_pem)
    port, plain = free_port(), free_port()
    import pwd

    user = pwd.getpwuid(os.geteuid()).pw_name
    (broker / "mosquitto.conf").write_text("\n".join([
        f"user {user}", "per_listener_settings true", "persistence false",
        f"listener {port} 127.0.0.1", "allow_anonymous false", f"cafile {broker}/ca.pem",
        f"certfile {broker}/server.pem", f"keyfile {broker}/server.key",
        f"crlfile {files.crl}", "require_certificate true", "use_identity_as_username true",
        f"acl_file {files.acl}",
        f"listener {plain} 127.0.0.1", "allow_anonymous false", f"password_file {files.passwd}",
        f"acl_file {files.acl}", ""]))
    proc = subprocess.Popen([find_mosquitto(), "-c", str(broker / "mosquitto.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import socket

        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", plain), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        from link.client import BrokerConfig, LinkClient
        from link import topics

        password = files.passwords["observer"].read_text()
        obs = LinkClient(BrokerConfig(host="127.0.0.1", port=plain, client_id="observer",
                                      username="observer", password=password))
        obs.start()
        assert obs.wait_connected(5)
        assert obs.publish(topics.sim("door-1", "tap"), b'{"uid":"04A1B2C3"}').wait(5)
        assert not obs.publish(topics.events("door-1"), b"{}").wait(5)
        obs.stop()
        wrong = LinkClient(BrokerConfig(host="127.0.0.1", port=plain, client_id="x",
                                        username="observer", password="wrong"))
        wrong.start()
        deadline = time.monotonic() + 5
        while wrong.fatal_error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert wrong.fatal_error is not None and not wrong.connected.is_set()
        wrong.stop()
        issued = ca.issue_client("door-1")
        pki._write(tmp_path / "door.pem", issued.cert_pem)
        pki._write(tmp_path / "door.key", issued.key_pem, 0o600)
        dev = LinkClient(BrokerConfig(host="127.0.0.1", port=port, client_id="door-1",
                                      ca_file=broker / "ca.pem", cert_file=tmp_path / "door.pem",
                                      key_file=tmp_path / "door.key"))
        dev.start()
        assert dev.wait_connected(5)
        assert dev.publish(topics.events("door-1"), b"{}").wait(5)
        assert not dev.publish(topics.events("door-2"), b"{}").wait(5)
        dev.stop()
    finally:
        proc.terminate()
        proc.wait(10)
