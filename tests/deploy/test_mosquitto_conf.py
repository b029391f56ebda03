"""deploy/mosquitto/gatehouse.conf on the real Mosquitto, with the files ``gatehouse-hub``
generates: TLS client certificates, the per-device ACL, the packet size limit, client ids tied
to certificates, and what a reload does (and does not do) after ``device revoke``."""

from __future__ import annotations

import datetime as dt
import os
import pwd
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from hub import pki
from link import topics
from link.envelope import MAX_PAYLOAD_BYTES
from tests.deploy.conftest import DEPLOY, HubSite, make_hub_site, need
from tests.support.mosquitto import free_port

CONF = DEPLOY / "mosquitto" / "gatehouse.conf"
PROD_DIR = "/etc/mosquitto/gatehouse"


def render(conf_text: str, broker_dir: Path, port: int) -> str:
    """The shipped file with the production directory and port swapped for the test's."""
    text = conf_text.replace(f"{PROD_DIR}/", f"{broker_dir}/")
    assert re.search(r"^listener 8883$", text, re.M), "the device listener moved"
    return re.sub(r"^listener 8883$", f"listener {port} 127.0.0.1", text, flags=re.M)


@dataclass
class Broker:
    """Mosquitto run like Debian runs it: a main file that includes conf.d/."""

    root: Path
    port: int
    proc: subprocess.Popen | None = None

    @property
    def log(self) -> str:
        """The broker's output so far."""
        return (self.root / "mosquitto.log").read_text(errors="replace")

    def start(self) -> None:
        """Start it and wait until the device listener accepts connections."""
        log = open(self.root / "mosquitto.log", "ab")
        self.proc = subprocess.Popen([need("mosquitto"), "-c", str(self.root / "mosquitto.conf")],
                                     stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"mosquitto exited {self.proc.returncode}:\n{self.log}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"mosquitto did not listen:\n{self.log}")

    def reload(self) -> None:
        """What `systemctl reload mosquitto` does (ExecReload=/bin/kill -HUP $MAINPID)."""
        count = self.log.count("Reloading config")
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while self.log.count("Reloading config") == count and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM, as `systemctl stop mosquitto` does."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


def make_broker(root: Path, site: HubSite) -> Broker:
    """A broker on a free port using the shipped conf.d file and ``site``'s broker files."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "conf.d").mkdir(exist_ok=True)
    port = free_port()
    user = pwd.getpwuid(os.geteuid()).pw_name
    # Debian's /etc/mosquitto/mosquitto.conf, pointed at the test directory.
    (root / "mosquitto.conf").write_text("\n".join([
        f"user {user}",
        f"pid_file {root}/mosquitto.pid",
        "persistence true",
        f"persistence_location {root}/",
        "log_dest stderr",
        f"include_dir {root}/conf.d",
        "",
    ]))
    (root / "conf.d" / "gatehouse.conf").write_text(render(CONF.read_text(), site.broker_dir, port))
    return Broker(root, port)


@dataclass
class Client:
    """A paho MQTT 5 client with the certificate of one identity."""

    name: str
    mqttc: mqtt.Client
    connected: threading.Event = field(default_factory=threading.Event)
    refused: threading.Event = field(default_factory=threading.Event)
    lost: threading.Event = field(default_factory=threading.Event)
    received: list[tuple[str, bytes]] = field(default_factory=list)
    got: threading.Event = field(default_factory=threading.Event)

    def stop(self) -> None:
        """Disconnect cleanly and stop paho's thread."""
        self.mqttc.disconnect()
        self.mqttc.loop_stop()


def connect(port: int, ca: Path, cert: Path, key: Path, *, client_id: str,
            subscribe: str | None = None, timeout: float = 5.0) -> Client:
    """Connect and wait for the CONNACK (``connected``) or a refusal (``refused``)."""
    mqttc = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
                        protocol=MQTTProtocolVersion.MQTTv5)
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.load_cert_chain(str(cert), str(key))
    mqttc.tls_set_context(ctx)
    client = Client(client_id, mqttc)

    def on_connect(_c, _u, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            client.refused.set()
            return
        if subscribe:
            mqttc.subscribe(subscribe, qos=1)
        client.connected.set()

    def on_disconnect(_c, _u, _flags, _reason_code, _props) -> None:
        if not client.connected.is_set():
            client.refused.set()
        client.lost.set()

    def on_message(_c, _u, msg) -> None:
        client.received.append((msg.topic, msg.payload))
        client.got.set()

    mqttc.on_connect, mqttc.on_disconnect, mqttc.on_message = on_connect, on_disconnect, on_message
    mqttc.reconnect_delay_set(30, 30)  # a refused client must not come back during the test
    try:
        mqttc.connect("127.0.0.1", port, keepalive=30)
    except (OSError, ssl.SSLError):
        client.refused.set()
        return client
    mqttc.loop_start()
    deadline = time.monotonic() + timeout
    while not (client.connected.is_set() or client.refused.is_set()) and time.monotonic() < deadline:
        time.sleep(0.02)
    if subscribe and client.connected.is_set():
        time.sleep(0.3)  # let the SUBACK arrive
    return client


@pytest.fixture
def site(tmp_path: Path) -> HubSite:
    return make_hub_site(tmp_path / "hub")


@pytest.fixture
def broker(tmp_path: Path, site: HubSite) -> Iterator[Broker]:
    b = make_broker(tmp_path / "broker", site)
    b.start()
    yield b
    b.stop()


def hub_client(site: HubSite, broker: Broker, **kw) -> Client:
    return connect(broker.port, site.ca_dir / "ca.pem", site.ca_dir / "hub.pem",
                   site.ca_dir / "hub.key", client_id="hub", **kw)


def device_client(site: HubSite, broker: Broker, device: str, *, client_id: str | None = None,
                  **kw) -> Client:
    d = site.devices[device]
    return connect(broker.port, d / "ca.pem", d / f"{device}.pem", d / f"{device}.key",
                   client_id=client_id or device, **kw)


def test_shipped_file_is_what_the_design_asks_for() -> None:
    text = CONF.read_text()
    lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in text.splitlines()
             if line and not line.startswith("#")}
    assert lines["allow_anonymous"] == "false"
    assert lines["require_certificate"] == "true"
    assert lines["use_identity_as_username"] == "true"
    assert lines["tls_version"] == "tlsv1.2"  # the minimum; 1.3 is negotiated when both can
    assert lines["persistence"] == "true"
    for key in ("acl_file", "password_file", "crlfile", "cafile", "certfile", "keyfile"):
        assert lines[key].startswith(f"{PROD_DIR}/"), key
    # the broker must carry the largest payload the contract allows, and not much more
    assert MAX_PAYLOAD_BYTES < int(lines["max_packet_size"]) <= MAX_PAYLOAD_BYTES + 128 * 1024


def test_broker_starts_with_the_shipped_config_and_generated_files(broker: Broker) -> None:
    assert "Error" not in broker.log, broker.log
    assert "mosquitto version" in broker.log and "running" in broker.log


def test_devices_reach_only_their_own_topics(site: HubSite, broker: Broker) -> None:
    hub = hub_client(site, broker, subscribe=topics.all_events())
    one = device_client(site, broker, "lincoln-ctl-1")
    try:
        assert hub.connected.is_set() and one.connected.is_set(), broker.log
        one.mqttc.publish(topics.events("lincoln-ctl-2"), b"spoofed", qos=1).wait_for_publish(5)
        one.mqttc.publish(topics.events("lincoln-ctl-1"), b"mine", qos=1).wait_for_publish(5)
        assert hub.got.wait(5)
        time.sleep(0.3)
        assert hub.received == [(topics.events("lincoln-ctl-1"), b"mine")]
    finally:
        hub.stop()
        one.stop()


def test_anonymous_and_foreign_certificates_are_refused(site: HubSite, broker: Broker,
                                                        tmp_path: Path) -> None:
    other = pki.DistrictCA.create(tmp_path / "other-ca")
    issued = other.issue_client("lincoln-ctl-1")
    cert, key = tmp_path / "x.pem", tmp_path / "x.key"
    cert.write_bytes(issued.cert_pem)
    key.write_bytes(issued.key_pem)
    foreign = connect(broker.port, site.ca_dir / "ca.pem", cert, key, client_id="lincoln-ctl-1")
    assert foreign.refused.is_set() and not foreign.connected.is_set()
    plain = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="anon",
                        protocol=MQTTProtocolVersion.MQTTv5)
    with pytest.raises((OSError, mqtt.WebsocketConnectionError)):
        # no TLS at all: the TLS listener drops the MQTT CONNECT
        plain.connect("127.0.0.1", broker.port, keepalive=5)
        for _ in range(50):
            if plain.loop(0.05) != mqtt.MQTT_ERR_SUCCESS:
                raise ConnectionError("dropped")
        raise AssertionError("a plain TCP client stayed connected")


def test_the_largest_contract_payload_gets_through(site: HubSite, broker: Broker) -> None:
    one = device_client(site, broker, "lincoln-ctl-1", subscribe=topics.acl("lincoln-ctl-1"))
    hub = hub_client(site, broker)
    try:
        payload = b"x" * MAX_PAYLOAD_BYTES
        hub.mqttc.publish(topics.acl("lincoln-ctl-1"), payload, qos=1).wait_for_publish(10)
        assert one.got.wait(10), broker.log
        assert one.received[0][1] == payload
        # past max_packet_size the broker disconnects the sender
        hub.mqttc.publish(topics.acl("lincoln-ctl-1"), b"x" * (MAX_PAYLOAD_BYTES + 128 * 1024),
                          qos=1)
        assert hub.lost.wait(10)
    finally:
        hub.stop()
        one.stop()


def test_a_device_cannot_knock_another_off_with_its_client_id(site: HubSite,
                                                              broker: Broker) -> None:
    two = device_client(site, broker, "lincoln-ctl-2")
    one_as_two = device_client(site, broker, "lincoln-ctl-1", client_id="lincoln-ctl-2")
    try:
        assert two.connected.is_set() and one_as_two.connected.is_set()
        time.sleep(0.5)
        assert not two.lost.is_set(), "use_username_as_clientid should keep ctl-2 connected"
        # the same certificate twice: the newer session takes over, as MQTT requires
        again = device_client(site, broker, "lincoln-ctl-2", client_id="whatever")
        assert again.connected.is_set() and two.lost.wait(5)
        again.stop()
    finally:
        two.stop()
        one_as_two.stop()


def test_revoke_then_reload_refuses_new_connections_and_restart_cuts_live_ones(
        site: HubSite, broker: Broker) -> None:
    """docs/operations.md, stolen Pi: `device revoke`, broker files, reload, then restart."""
    live = device_client(site, broker, "lincoln-ctl-2")
    assert live.connected.is_set()
    assert site.run("device", "revoke", "lincoln-ctl-2") == 0
    assert site.run("broker", "files", "--out", str(site.broker_dir)) == 0

    broker.reload()
    assert "Error" not in broker.log.split("Reloading config")[-1], broker.log
    again = device_client(site, broker, "lincoln-ctl-2")
    assert again.refused.is_set() and not again.connected.is_set()
    assert "certificate revoked" in broker.log or "certificate verify failed" in broker.log
    # SIGHUP does not re-check sessions that are already open
    time.sleep(0.5)
    assert not live.lost.is_set()
    still = device_client(site, broker, "lincoln-ctl-1")
    assert still.connected.is_set()
    still.stop()

    broker.stop()
    broker.start()
    assert live.lost.wait(5)
    assert device_client(site, broker, "lincoln-ctl-2").refused.is_set()
    back = device_client(site, broker, "lincoln-ctl-1")
    assert back.connected.is_set()
    back.stop()
    live.stop()


def test_an_expired_crl_locks_every_device_out(site: HubSite, broker: Broker) -> None:
    """Why gatehouse-broker-files.timer exists: the hub's CRLs are valid for 30 days."""
    ca = pki.DistrictCA(site.ca_dir)
    ca.write_crl([], now=dt.datetime.now(dt.UTC) - dt.timedelta(days=31))
    (site.broker_dir / "crl.pem").write_bytes((site.ca_dir / "crl.pem").read_bytes())
    broker.reload()
    assert device_client(site, broker, "lincoln-ctl-1").refused.is_set()
    # the timer's job, `broker files`, signs a fresh CRL: devices are back after a reload
    assert site.run("broker", "files", "--out", str(site.broker_dir)) == 0
    broker.reload()
    fresh = device_client(site, broker, "lincoln-ctl-1")
    assert fresh.connected.is_set()
    fresh.stop()


def _server_serial(port: int, ca: Path) -> int:
    """The serial of the certificate the broker presents (no client certificate needed)."""
    from cryptography import x509

    pem = ssl.get_server_certificate(("127.0.0.1", port), ca_certs=str(ca))
    return x509.load_pem_x509_certificate(pem.encode()).serial_number


def test_rotating_the_broker_certificate_takes_effect_on_reload(site: HubSite,
                                                                broker: Broker) -> None:
    """docs/operations.md: `pki broker-cert` into the broker's directory, then reload."""
    ca = site.ca_dir / "ca.pem"
    before = _server_serial(broker.port, ca)
    assert site.run("pki", "broker-cert", "127.0.0.1", "localhost",
                    "--out", str(site.broker_dir)) == 0
    assert _server_serial(broker.port, ca) == before  # not before the reload
    broker.reload()
    after = _server_serial(broker.port, ca)
    assert after != before
    fresh = device_client(site, broker, "lincoln-ctl-1")
    assert fresh.connected.is_set()
    fresh.stop()


def test_the_s_client_check_in_the_runbook_works(site: HubSite, broker: Broker) -> None:
    openssl = need("openssl")
    d = site.devices["lincoln-ctl-1"]
    proc = subprocess.run([openssl, "s_client", "-connect", f"127.0.0.1:{broker.port}",
                           "-CAfile", str(d / "ca.pem"), "-cert", str(d / "lincoln-ctl-1.pem"),
                           "-key", str(d / "lincoln-ctl-1.key"), "-brief"],
                          input="", capture_output=True, text=True, timeout=30)
    out = proc.stdout + proc.stderr
    assert "Verification: OK" in out, out
    assert "Protocol version: TLSv1.3" in out or "Protocol version: TLSv1.2" in out, out
    # without a client certificate s_client still prints the broker's certificate (the runbook
    # pipes it into `openssl x509 -noout -enddate`)
    bare = subprocess.run([openssl, "s_client", "-connect", f"127.0.0.1:{broker.port}",
                           "-CAfile", str(d / "ca.pem")], input="", capture_output=True,
                          text=True, timeout=30)
    dates = subprocess.run([openssl, "x509", "-noout", "-enddate"], input=bare.stdout,
                           capture_output=True, text=True, timeout=30)
    assert dates.stdout.startswith("notAfter="), (bare.stdout, dates.stderr)
