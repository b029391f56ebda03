"""Buildings, doors, access groups with weekly schedules, holidays and closures."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Column, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db import Base

if TYPE_CHECKING:
    from hub.models.devices import Device

group_doors = Table(
    "group_doors", Base.metadata,
    Column("group_id", ForeignKey("access_groups.id", ondelete="CASCADE"), primary_key=True),
    Column("door_id", ForeignKey("doors.id", ondelete="CASCADE"), primary_key=True),
)


class Building(Base):
    """A school or office; its id appears in topics, its zone evaluates schedules."""

    __tablename__ = "buildings"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tz: Mapped[str] = mapped_column(String(64), default="America/New_York")
    lockdown: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]

    doors: Mapped[list[Door]] = relationship(back_populates="building", order_by="Door.id")
    groups: Mapped[list[AccessGroup]] = relationship(back_populates="building",
                                                     order_by="AccessGroup.slug")


class Door(Base):
    """A door driven by a controller, with its local rules and last known state."""

    __tablename__ = "doors"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    building_id: Mapped[str] = mapped_column(ForeignKey("buildings.id"), index=True)
    device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # records_room | office | exterior
    mode: Mapped[str] = mapped_column(String(16), default="card")  # card | card_pin
    strike_s: Mapped[int] = mapped_column(default=5)
    held_open_s: Mapped[int] = mapped_column(default=30)
    stale_limit_s: Mapped[int] = mapped_column(default=86400)
    escort_window_s: Mapped[int] = mapped_column(default=10)
    pin_timeout_s: Mapped[int] = mapped_column(default=10)
    visitor_policy: Mapped[str] = mapped_column(String(16), default="escort")
    is_open: Mapped[bool | None]
    last_event_at: Mapped[datetime | None]
    last_event_type: Mapped[str | None] = mapped_column(String(40))

    building: Mapped[Building] = relationship(back_populates="doors")
    device: Mapped[Device | None] = relationship(back_populates="doors")
    groups: Mapped[list[AccessGroup]] = relationship(secondary=group_doors, back_populates="doors")


class AccessGroup(Base):
    """Doors plus the weekly windows when they open for the group's members."""

    __tablename__ = "access_groups"
    __table_args__ = (UniqueConstraint("building_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[str] = mapped_column(ForeignKey("buildings.id"), index=True)
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    always: Mapped[bool] = mapped_column(default=False)
    responder: Mapped[bool] = mapped_column(default=False)
    custodial: Mapped[bool] = mapped_column(default=False)

    building: Mapped[Building] = relationship(back_populates="groups")
    doors: Mapped[list[Door]] = relationship(secondary=group_doors, back_populates="groups",
                                             order_by="Door.id")
    windows: Mapped[list[ScheduleWindow]] = relationship(
        back_populates="group", cascade="all, delete-orphan", order_by="ScheduleWindow.id")


class ScheduleWindow(Base):
    """A weekly window: days as digits 0 (Monday) to 6, ``[start, end)`` in the building's zone."""

    __tablename__ = "schedule_windows"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("access_groups.id", ondelete="CASCADE"),
                                          index=True)
    days: Mapped[str] = mapped_column(String(7))
    start: Mapped[str] = mapped_column(String(5))
    end: Mapped[str] = mapped_column(String(5))

    group: Mapped[AccessGroup] = relationship(back_populates="windows")


class Holiday(Base):
    """A holiday or closure day in a building; ``groups`` empty means every non-24/7 group."""

    __tablename__ = "holidays"
    __table_args__ = (UniqueConstraint("building_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[str] = mapped_column(ForeignKey("buildings.id"), index=True)
    day: Mapped[date]
    name: Mapped[str] = mapped_column(String(200), default="")
    groups: Mapped[str] = mapped_column(String(1000), default="")  # comma-separated slugs
