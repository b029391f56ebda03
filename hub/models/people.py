"""People: staff, vendors and custodial staff, by the district's staff id."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db import Base
from hub.models.buildings import AccessGroup, Building

person_buildings = Table(
    "person_buildings", Base.metadata,
    Column("person_id", ForeignKey("people.id", ondelete="CASCADE"), primary_key=True),
    Column("building_id", ForeignKey("buildings.id", ondelete="CASCADE"), primary_key=True),
)

person_groups = Table(
    "person_groups", Base.metadata,
    Column("person_id", ForeignKey("people.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", ForeignKey("access_groups.id", ondelete="CASCADE"), primary_key=True),
)


class Person(Base):
    """Someone who may hold credentials; ``kind`` is staff, vendor or custodial."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="staff")
    title: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    company: Mapped[str] = mapped_column(String(200), default="")
    has_dpa: Mapped[bool] = mapped_column(default=False)
    can_escort: Mapped[bool] = mapped_column(default=False)
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    terminated_at: Mapped[datetime | None]

    buildings: Mapped[list[Building]] = relationship(secondary=person_buildings,
                                                     order_by="Building.id")
    groups: Mapped[list[AccessGroup]] = relationship(secondary=person_groups,
                                                     order_by="AccessGroup.id")

    @property
    def escort_required(self) -> bool:
        """Vendors without a data privacy agreement are treated as escorted visitors."""
        return self.kind == "vendor" and not self.has_dpa
