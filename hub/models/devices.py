"""Registered devices (controllers, kiosks) and the per-device ACL change log."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db import Base

if TYPE_CHECKING:
    from hub.models.buildings import Door


class Device(Base):
    """A Pi with a client certificate and an Ed25519 key registered at the hub."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # controller | kiosk
    building_id: Mapped[str] = mapped_column(ForeignKey("buildings.id"), index=True)
    public_key_pem: Mapped[str] = mapped_column(Text)
    cert_serial: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | revoked
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    #: last ACL version the hub produced for this device, and the last it applied
    acl_version: Mapped[int] = mapped_column(BigInteger, default=0)
    acl_acked: Mapped[int | None] = mapped_column(BigInteger)
    acl_acked_at: Mapped[datetime | None]
    online: Mapped[bool] = mapped_column(default=False)
    status_at: Mapped[datetime | None]
    offline_since: Mapped[datetime | None]
    last_status: Mapped[dict | None] = mapped_column(JSON)
    #: highest event sequence such that every earlier one is committed (what the hub acks)
    events_upto: Mapped[int | None] = mapped_column(BigInteger)
    last_event_at: Mapped[datetime | None]

    doors: Mapped[list[Door]] = relationship(back_populates="device", order_by="Door.id")


class AclChange(Base):
    """One ACL version step for one device: a delta body, or a marker that needs a snapshot."""

    __tablename__ = "acl_changes"
    __table_args__ = (UniqueConstraint("device_id", "to_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    from_version: Mapped[int] = mapped_column(BigInteger)
    to_version: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))  # delta | snapshot
    delta: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    #: False until the bridge has published it
    published: Mapped[bool] = mapped_column(default=False, index=True)
