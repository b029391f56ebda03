"""The device registry: controllers and kiosks, their public keys, status and revocation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from link import keys as link_keys
from link import topics
from hub.models import Building, Device
from hub.services import acl
from hub.services.audit import ActorLike
from hub.services.audit import record as audit_record
from hub.services.errors import Conflict, Invalid, NotFound

KINDS = ("controller", "kiosk")


def register(session: Session, *, device_id: str, kind: str, building_id: str,
             public_key_pem: bytes, cert_serial: str, actor: ActorLike, now: datetime) -> Device:
    """Add a device with its Ed25519 public key and certificate serial."""
    try:
        topics.check_id(device_id)
    except topics.TopicError as exc:
        raise Invalid(str(exc), field="device_id") from None
    if kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}", field="kind")
    if session.get(Building, building_id) is None:
        raise Invalid(f"no building {building_id!r}", field="building")
    if session.get(Device, device_id) is not None:
        raise Conflict(f"device {device_id} already exists (revoke it and use a new id)",
                       field="device_id")
    try:
        link_keys.parse_public(public_key_pem, name="public key")
    except link_keys.KeyFileError as exc:
        raise Invalid(str(exc), field="public_key") from None
    dev = Device(id=device_id, kind=kind, building_id=building_id,
                 public_key_pem=public_key_pem.decode("ascii"), cert_serial=cert_serial,
                 status="active", created_at=now)
    session.add(dev)
    session.flush()
    audit_record(session, actor=actor, action="device.add", now=now, building_id=building_id,
                 target=device_id, detail={"kind": kind, "cert_serial": cert_serial})
    return dev


def revoke(session: Session, device: Device, *, actor: ActorLike, now: datetime) -> Device:
    """Block a device: its events are dropped, its certificate goes on the CRL."""
    if device.status == "revoked":
        raise Conflict(f"device {device.id} is already revoked", field="device_id")
    device.status, device.revoked_at = "revoked", now
    audit_record(session, actor=actor, action="device.revoke", now=now,
                 building_id=device.building_id, target=device.id,
                 detail={"cert_serial": device.cert_serial})
    return device


def get(session: Session, device_id: str) -> Device:
    """A device by id, or NotFound."""
    dev = session.get(Device, device_id)
    if dev is None:
        raise NotFound(f"no device {device_id!r}")
    return dev


def list_devices(session: Session, building_id: str | None = None) -> list[Device]:
    """Devices by id, optionally of one building."""
    stmt = select(Device).order_by(Device.id)
    if building_id is not None:
        stmt = stmt.where(Device.building_id == building_id)
    return list(session.scalars(stmt))


def public_keys(session: Session) -> dict[str, Ed25519PublicKey]:
    """Public keys of every active device."""
    out = {}
    for dev in session.scalars(select(Device).where(Device.status == "active")):
        out[dev.id] = link_keys.parse_public(dev.public_key_pem.encode("ascii"), name=dev.id)
    return out


def record_status(session: Session, device: Device, *, online: bool, status: dict[str, Any],
                  now: datetime) -> None:
    """A device said it is online or offline (its will)."""
    if online:
        device.online, device.offline_since = True, None
    elif device.online or device.offline_since is None:
        device.online, device.offline_since = False, now
    device.status_at, device.last_status = now, status


def revoked_serials(session: Session) -> list[tuple[str, datetime]]:
    """(certificate serial, revoked at) of every revoked device, for the CRL."""
    return [(d.cert_serial, d.revoked_at) for d in session.scalars(
        select(Device).where(Device.status == "revoked", Device.cert_serial != ""))
        if d.revoked_at is not None]


def resnapshot(session: Session, device: Device, now: datetime) -> int:
    """Force a fresh snapshot for one device (after re-provisioning, for instance)."""
    return acl.mark_snapshot(session, [device.id], now).get(device.id, device.acl_version)
