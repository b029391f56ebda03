"""Device events (each (device, seq) stored once) and alerts.

Visits live in hub.visitors (``visit_records``); the old ``visits`` table was dropped by
migration hub_0004.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base


class Event(Base):
    """One event a device sent, stored exactly once per (device, seq)."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("device_id", "seq"),
        Index("ix_events_at_id", "at", "id"),
        Index("ix_events_door_at", "door_id", "at"),
        Index("ix_events_holder_at", "holder", "at"),
        # event search filters by device and by type too; without these a rare type or one
        # device of 200 scans the whole (at, id) index (bench/hub_search.py at 10 million)
        Index("ix_events_device_at", "device_id", "at"),
        Index("ix_events_type_at", "type", "at"),
    )

    # NOTE: SQLite autoincrements only an INTEGER primary key; 10 million events need 64 bits elsewhere.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime]
    received_at: Mapped[datetime]
    building_id: Mapped[str | None] = mapped_column(String(64))
    door_id: Mapped[str | None] = mapped_column(String(64))
    holder: Mapped[str | None] = mapped_column(String(64))
    cred: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(16), default="info")
    body: Mapped[dict] = mapped_column(JSON)


class Alert(Base):
    """Something a person must look at; ``key`` deduplicates repeats of one condition."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    building_id: Mapped[str | None] = mapped_column(String(64), index=True)
    device_id: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(String(500))
    count: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    last_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
