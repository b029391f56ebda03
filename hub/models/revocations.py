"""Terminations: the revocation, its per-door confirmation, and the collection checklist."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db import Base
from hub.models.people import Person


class Revocation(Base):
    """Every credential of one person revoked in one action."""

    __tablename__ = "revocations"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    reason: Mapped[str] = mapped_column(String(200), default="terminated")
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))

    person: Mapped[Person] = relationship()
    doors: Mapped[list[RevocationDoor]] = relationship(back_populates="revocation",
                                                       order_by="RevocationDoor.door_id")
    checklist: Mapped[list[ChecklistItem]] = relationship(back_populates="revocation",
                                                          order_by="ChecklistItem.id")


class RevocationDoor(Base):
    """One door that must confirm: its device must apply ``version`` or later."""

    __tablename__ = "revocation_doors"
    __table_args__ = (UniqueConstraint("revocation_id", "door_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    revocation_id: Mapped[int] = mapped_column(ForeignKey("revocations.id"), index=True)
    door_id: Mapped[str] = mapped_column(ForeignKey("doors.id"))
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    version: Mapped[int] = mapped_column(BigInteger)
    confirmed_at: Mapped[datetime | None]

    revocation: Mapped[Revocation] = relationship(back_populates="doors")


class ChecklistItem(Base):
    """A physical thing to collect or change after a termination (key, badge, code)."""

    __tablename__ = "checklist_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    revocation_id: Mapped[int] = mapped_column(ForeignKey("revocations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # key | badge | code_change
    ref_id: Mapped[int | None]
    building_id: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(300))
    records_room: Mapped[bool] = mapped_column(default=False)
    due_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(200))
    overdue_alerted: Mapped[bool] = mapped_column(default=False)

    revocation: Mapped[Revocation] = relationship(back_populates="checklist")
