"""Provisioning: a new device's certificate, keys, registry row and config bundle; revocation."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from link import keys as link_keys
from hub import pki
from hub.keyring import Keyring
from hub.models import Device, Door
from hub.services import acl, devices
from hub.services.audit import ActorLike
from hub.services.errors import Invalid


def add_device(session: Session, ca: pki.DistrictCA, keyring: Keyring, *, device_id: str,
               kind: str, building_id: str, door_ids: list[str], broker_host: str,
               broker_port: int, actor: ActorLike, now: datetime) -> tuple[Device, bytes]:
    """Register a device and return it with its bundle (tar.gz: TOML + PEMs)."""
    if kind != "controller" and door_ids:
        raise Invalid("only a controller drives doors", field="door")
    if len(door_ids) > 2:
        raise Invalid("a controller drives one or two doors", field="door")
    doors = []
    for door_id in door_ids:
        door = session.get(Door, door_id)
        if door is None or door.building_id != building_id:
            raise Invalid(f"no door {door_id!r} in building {building_id}", field="door")
        doors.append(door)
    material = pki.new_device_material(ca, device_id)
    dev = devices.register(session, device_id=device_id, kind=kind, building_id=building_id,
                           public_key_pem=material.public_key_pem,
                           cert_serial=material.tls.serial, actor=actor, now=now)
    touched = {dev.id}
    for door in doors:
        if door.device_id:
            touched.add(door.device_id)
        door.device_id = dev.id
    session.flush()
    acl.mark_snapshot(session, touched, now)
    bundle = pki.bundle(material, kind=kind, ca_pem=ca.ca_pem,
                        hub_public_pem=link_keys.public_pem(keyring.hub_key.public_key()),
                        broker_host=broker_host, broker_port=broker_port,
                        door_ids=[d.id for d in doors],
                        site_key=keyring.site_key if kind == "controller" else None)
    return dev, bundle


def revoke_device(session: Session, ca: pki.DistrictCA, device: Device, *, actor: ActorLike,
                  now: datetime, broker_dir: Path | None = None) -> Path:
    """Revoke a device and rewrite the CRL (and the broker's copy); return the CRL path."""
    devices.revoke(session, device, actor=actor, now=now)
    session.flush()
    crl = ca.write_crl(devices.revoked_serials(session), now=now)
    if broker_dir is not None:
        target = Path(broker_dir) / "crl.pem"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(crl.read_bytes())
        return target
    return crl
