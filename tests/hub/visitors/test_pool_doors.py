"""A pool visitor card end to end (ADR 0003): real Mosquitto, the hub's bridge, a kiosk's link and
three real controller services (simulated readers and strikes, their own SQLite caches).

Lent at sign-in: the records room lets the card in only right after an approved employee badged
there, the office (visitors allowed) lets it in, the gym (not the visitor group's) never heard of
it. Signed out: every door confirms the revocation and refuses the card.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controller import config as controller_config
from controller.cli import ControllerApp
from hub.bridge import Bridge
from hub.db import get_database
from hub.keyring import get_keyring
from hub.models import Device
from hub.services import buildings, credentials, devices, people
from hub.services.buildings import DoorSpec
from hub.visitors import pool, services
from hub.visitors.models import VisitRecord
from hub.visitors.pool_models import PoolAssignment
from kiosk.hublink import LinkGateway
from link import keys, topics
from link import visits as wire
from link.client import LinkClient
from link.device import DeviceLink
from link.keys import card_hmac
from tests.conftest import make_broker_config

pytestmark = pytest.mark.broker

STAFF_UID = "04A1B2C3"
POOL_UID = "04C0FFEE"
DOORS = {"ctl-rec": ("lincoln-records", "records_room", "escort"),
         "ctl-off": ("lincoln-office", "office", "allow"),
         "ctl-gym": ("lincoln-gym", "office", "escort")}


def wait_for(predicate, timeout: float = 15.0) -> bool:
    """Poll ``predicate`` until true or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def now() -> datetime:
    return datetime.now(UTC)


def _controller_toml(root: Path, device_id: str, door_id: str, broker, pki, site_key: bytes,
                     hub_pub: Path) -> controller_config.ControllerConfig:
    ident = pki.client(device_id)
    (root / "site.key").write_text(site_key.hex())
    text = f"""
[device]
id = "{device_id}"
state_dir = "{root / 'state'}"
status_interval_s = 5

[broker]
host = "{broker.host}"
port = {broker.port}
ca_file = "{pki.ca_file}"
cert_file = "{ident.cert}"
key_file = "{ident.key}"
backoff_max_s = 1

[keys]
device_key = "{root / 'device.key'}"
hub_public_key = "{hub_pub}"
site_key_file = "{root / 'site.key'}"

[clock]
ntp = "synced"

[[doors]]
id = "{door_id}"

[[hardware.readers]]
type = "sim"
name = "reader0"
poll_interval_ms = 20

[[hardware.doors]]
type = "sim"
name = "door0"
"""
    path = root / "controller.toml"
    path.write_text(text)
    return controller_config.load(path)


@pytest.fixture
def site(app, mosquitto, pki, tmp_path):
    """The hub (bridge running), three controllers and a kiosk, all on the session broker."""
    db, keyring = get_database(app), get_keyring(app)
    hub_pub = tmp_path / "hub.pub"
    keys.write_public(hub_pub, keyring.hub_key.public_key())
    cfgs = {}
    with db.session() as s:
        buildings.create_building(s, building_id="lincoln", name="Lincoln High", tz="America/New_York",
                                  actor="test", now=now())
        for dev_id, (door_id, kind, visitors) in DOORS.items():
            root = tmp_path / dev_id
            root.mkdir()
            key = keys.generate(root / "device.key", root / "device.pub")
            devices.register(s, device_id=dev_id, kind="controller", building_id="lincoln",
                             public_key_pem=keys.public_pem(key.public_key()), cert_serial="",
                             actor="test", now=now())
            buildings.save_door(s, "lincoln", DoorSpec(door_id, door_id, kind, device_id=dev_id,
                                                       visitor_policy=visitors), actor="test", now=now())
            cfgs[dev_id] = _controller_toml(root, dev_id, door_id, mosquitto, pki, keyring.site_key, hub_pub)
        kiosk_key = keys.generate(tmp_path / "kiosk.key", tmp_path / "kiosk.pub")
        devices.register(s, device_id="kiosk-1", kind="kiosk", building_id="lincoln",
                         public_key_pem=keys.public_pem(kiosk_key.public_key()), cert_serial="",
                         actor="test", now=now())
        buildings.save_group(s, "lincoln", slug="staff", name="Staff",
                             door_ids=[d for d, _, _ in DOORS.values()], windows=[], always=True,
                             actor="test", now=now())
        buildings.save_group(s, "lincoln", slug="visitors", name="Visitors",
                             door_ids=["lincoln-records", "lincoln-office"], windows=[], always=True,
                             actor="test", now=now())
        ana = people.create_person(s, people.PersonSpec(staff_id="S1", name="Ana Silva", buildings=["lincoln"],
                                                        can_escort=True), actor="test", now=now())
        people.set_groups(s, ana, "lincoln", ["staff"], actor="test", now=now())
        credentials.enrol_card(s, keyring.site_key, person=ana, building_id="lincoln", uid_text=STAFF_UID,
                               approver="principal", actor="test", now=now())
        services.add_destination(s, "lincoln", "main-office", "Main office")
        pool.configure(s, "lincoln", enabled=True, group_slug="visitors", actor="principal", now=now())
        pool.enrol_card(s, keyring.site_key, building_id="lincoln", number=7, uid_text=POOL_UID,
                        approver="principal", actor="principal", now=now())
    bridge = Bridge(db, keyring, make_broker_config(mosquitto, pki, "hub"))
    bridge.start()
    assert bridge.client.wait_connected(10)
    apps = {dev_id: ControllerApp(cfg, simulate=True) for dev_id, cfg in cfgs.items()}
    observer = LinkClient(make_broker_config(mosquitto, pki, "observer"))
    link = DeviceLink("kiosk-1", kind="kiosk", private_key=kiosk_key, hub_key=keyring.hub_key.public_key(),
                      broker=make_broker_config(mosquitto, pki, "kiosk-1"), state_dir=tmp_path / "kiosk-1",
                      resend_s=1.0)
    gateway = LinkGateway(link)
    try:
        for controller in apps.values():
            controller.start()
        observer.start()
        link.start()
        assert observer.wait_connected(10) and link.client.wait_connected(10)

        def in_sync() -> bool:
            with db.session() as s:
                return all(s.get(Device, d).acl_acked == s.get(Device, d).acl_version for d in apps)

        assert wait_for(in_sync, 30), "controllers never caught up with the hub"
        yield db, keyring, apps, observer, gateway
    finally:
        link.stop()
        observer.stop()
        for controller in apps.values():
            controller.close()
        for dev_id in [*apps, "kiosk-1"]:  # clear retained statuses for the next test's new keys
            bridge.client.publish(topics.status(dev_id), b"", retain=True).wait(5)
        bridge.stop()


def _tap(observer: LinkClient, device: str, uid: str) -> None:
    assert observer.publish(topics.sim(device, "tap"), json.dumps({"uid": uid}).encode(), qos=1).wait(5)


def _decided(app: ControllerApp, count: int):
    assert wait_for(lambda: len(app.service.decisions) >= count), "the door did not decide"
    return app.service.decisions[count - 1][1]


def _request(gateway: LinkGateway, body):
    answer = gateway.request(body, 10.0)
    assert answer is not None, f"the hub did not answer {body.TYPE}"
    return answer


def test_lent_card_opens_the_visit_doors_only_until_sign_out(site) -> None:
    db, keyring, apps, observer, gateway = site
    pool_cred = card_hmac(keyring.site_key, bytes.fromhex(POOL_UID))
    # the kiosk learns the building lends cards, signs a visitor in, staff lend card 7
    directory = wire.DirectoryResult.model_validate(_request(gateway, wire.DirectoryFetch(corr="c-dir-00001")).data)
    assert directory.pool_cards
    signed = _request(gateway, wire.VisitSignIn(
        corr="c-in-000001", visit="v-pool-000001", token_sha256=services.token_hash("t" * 24), category="visitor",
        first="Jo", last="Park", id_source="typed", destination="main-office"))
    assert signed.ok and signed.data["outcome"] == "admitted", signed
    with db.session() as s:  # independent of the hour the test runs at (closing time caps expiry)
        s.get(VisitRecord, "v-pool-000001").expires_at = now() + timedelta(hours=2)
    lent = _request(gateway, wire.PoolAssign(corr="c-pool-00001", visit="v-pool-000001", card=7))
    assert lent.ok, lent.error
    assert wire.PoolAssignResult.model_validate(lent.data).doors == 2
    for dev_id in ("ctl-rec", "ctl-off"):
        assert wait_for(lambda: (c := apps[dev_id].cache.credential(pool_cred)) is not None
                        and c.status == "active"), f"{dev_id} never activated the card"
    assert apps["ctl-gym"].cache.credential(pool_cred) is None

    rec, off, gym = apps["ctl-rec"], apps["ctl-off"], apps["ctl-gym"]
    _tap(observer, "ctl-gym", POOL_UID)
    assert _decided(gym, 1).reason == "unknown_card"
    _tap(observer, "ctl-off", POOL_UID)
    granted = _decided(off, 1)
    assert granted.granted and granted.holder == "pool7-v-pool-000001" and granted.escort_by is None
    _tap(observer, "ctl-rec", POOL_UID)
    assert _decided(rec, 1).reason == "escort_required"
    time.sleep(0.6)  # the emulated card leaves the antenna before the next one
    _tap(observer, "ctl-rec", STAFF_UID)
    assert _decided(rec, 2).granted
    time.sleep(0.6)
    _tap(observer, "ctl-rec", POOL_UID)
    escorted = _decided(rec, 3)
    assert escorted.granted and escorted.escort_by == "S1"

    out = _request(gateway, wire.VisitSignOut(corr="c-out-00001", how="name", visit="v-pool-000001"))
    assert out.ok and wire.SignOutResult.model_validate(out.data).pool_card == 7

    def confirmed() -> list[str]:
        with db.session() as s:
            loan = s.query(PoolAssignment).one()
            return [d.state for d in pool.door_states(s, loan)]

    assert wait_for(lambda: confirmed() == ["confirmed", "confirmed"]), confirmed()
    for dev_id in ("ctl-rec", "ctl-off"):
        assert wait_for(lambda: apps[dev_id].cache.credential(pool_cred).status == "revoked")
    time.sleep(0.6)
    _tap(observer, "ctl-off", POOL_UID)
    refused = _decided(off, 2)
    assert not refused.granted and refused.reason == "revoked"
