"""The tables of pool visitor keycards (ADR 0003): settings, the cards, and who held which.

A pool card is part of its building's master list like any keycard: known only by the HMAC of
its UID under the site key, enrolled by the principal with an approver, and never tied to a
person. It opens doors only while an :class:`PoolAssignment` lends it to one open visit.
Business rules live in :mod:`hub.visitors.pool`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db import Base

#: PoolCard.status values: ``available`` may be lent; ``retired`` and ``lost`` never again.
CARD_STATES = ("available", "retired", "lost")
#: How a loan ended: the visit's sign-out, closing time, its expiry, a desk action, the card
#: retired or lost while lent, or the visit ended some other way (refused, abandoned).
END_HOWS = ("signed_out", "closing", "expired", "desk", "retired", "visit_ended")


class PoolSettings(Base):
    """Whether a building lends pool cards, and the access group a lent card opens by default."""

    __tablename__ = "pool_settings"

    building_id: Mapped[str] = mapped_column(ForeignKey("buildings.id"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    #: the per-building visitor access group (its doors and hours); required when enabled
    group_id: Mapped[int | None] = mapped_column(ForeignKey("access_groups.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200), default="")


class PoolDestinationGroup(Base):
    """A destination whose visitors get a narrower group than the building's default."""

    __tablename__ = "pool_destination_groups"
    __table_args__ = (UniqueConstraint("building_id", "destination"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[str] = mapped_column(ForeignKey("buildings.id"), index=True)
    #: a VisitDestination slug of this building
    destination: Mapped[str] = mapped_column(String(64))
    group_id: Mapped[int] = mapped_column(ForeignKey("access_groups.id", ondelete="CASCADE"))


class PoolCard(Base):
    """A numbered visitor card of a building's pool; the number is unique in the district."""

    __tablename__ = "pool_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[str] = mapped_column(ForeignKey("buildings.id"), index=True)
    #: printed on the card; unique district-wide so a stray card from another building is known
    number: Mapped[int] = mapped_column(unique=True)
    cred_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="available")
    enrolled_at: Mapped[datetime]
    enrolled_by: Mapped[str] = mapped_column(String(200))
    approved_by: Mapped[str] = mapped_column(String(200))
    retired_at: Mapped[datetime | None]


class PoolAssignment(Base):
    """One loan of a pool card to one visit, from activation to deactivation and return."""

    __tablename__ = "pool_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("pool_cards.id"), index=True)
    visit_id: Mapped[str] = mapped_column(ForeignKey("visit_records.id", ondelete="CASCADE"), index=True)
    building_id: Mapped[str] = mapped_column(String(64), index=True)
    #: active | ended
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    # NOTE: set to card_id / visit_id while active and NULL after: the unique constraints then
    # make "one loan per card" and "one card per visit" hold even for two hub workers at once.
    active_card: Mapped[int | None] = mapped_column(unique=True)
    active_visit: Mapped[str | None] = mapped_column(String(64), unique=True)
    group_slug: Mapped[str] = mapped_column(String(64))
    holder: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[datetime]
    assigned_by: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime]
    #: device id -> ACL version that carried the activation
    activated: Mapped[dict] = mapped_column(JSON, default=dict)
    ended_at: Mapped[datetime | None]
    ended_how: Mapped[str | None] = mapped_column(String(16))
    #: device id -> ACL version that carried the revocation (a door confirms by acking it)
    revoked: Mapped[dict] = mapped_column(JSON, default=dict)
    returned_at: Mapped[datetime | None]
    returned_by: Mapped[str | None] = mapped_column(String(200))
    not_returned_alerted: Mapped[bool] = mapped_column(default=False)

    card: Mapped[PoolCard] = relationship()
