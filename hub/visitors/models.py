"""The hub's visitor tables: watch list, visit records, holds for the desk, photo keys.

On :data:`hub.db.Base`, so ``Base.metadata.create_all`` and Alembic see them. Business rules
live in :mod:`hub.visitors.services`. What is deliberately absent: no date of birth of a
visitor (used for screening, then dropped), no ID number, no address, no ID image; the badge
token is stored only as its SHA-256; photos are AES-GCM ciphertext whose per-visit key lives
in :class:`VisitPhotoKey`, so deleting the key row makes the photo unreadable (crypto-shred).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db import Base


class WatchEntry(Base):
    """A person the front desk must see before they go in (ban, custody or no-contact order)."""

    __tablename__ = "watch_entries"
    __table_args__ = (Index("ix_watch_entries_last", "last"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: None: district-wide
    building_id: Mapped[str | None] = mapped_column(String(64), index=True)
    first: Mapped[str] = mapped_column(String(64))
    last: Mapped[str] = mapped_column(String(64))
    dob: Mapped[date | None]
    kind: Mapped[str] = mapped_column(String(16))  # banned | custody | no_contact
    note: Mapped[str] = mapped_column(String(500), default="")
    source: Mapped[str] = mapped_column(String(16), default="manual")  # manual | csv
    active: Mapped[bool] = mapped_column(default=True, index=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64), default="")


class WatchListState(Base):
    """The watch list's version (bumped on every change) and the secret of the kiosk cache."""

    __tablename__ = "watch_list_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=1)
    #: hashes the kiosk cache's match keys; new with every version
    cache_secret: Mapped[bytes] = mapped_column(LargeBinary(32))
    changed_at: Mapped[datetime]


class WatchDismissal(Base):
    """A desk decision that this person is not that watch-list entry: not stopped again."""

    __tablename__ = "watch_dismissals"
    __table_args__ = (UniqueConstraint("entry_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("watch_entries.id", ondelete="CASCADE"))
    #: keyed hash of the visitor's normalised name and date of birth (never the date itself)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64), default="")


class VisitDestination(Base):
    """A place in a building a visitor may go (main office, library, room 12)."""

    __tablename__ = "visit_destinations"
    __table_args__ = (UniqueConstraint("building_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[str] = mapped_column(String(64), index=True)
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(default=True)


class VisitPhotoKey(Base):
    """The AES-256-GCM key of one visit's photo; deleting the row shreds the photo."""

    __tablename__ = "visit_photo_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime]


#: Visit states. ``pending``: admitted, badge not yet confirmed printed; ``held``: waiting for
#: the desk; ``closed_unsigned``: still open at closing time (kept apart from real sign-outs).
VISIT_STATES = ("pending", "on_site", "held", "refused", "abandoned", "signed_out", "closed_unsigned")
OPEN_STATES = ("pending", "on_site", "held")


class VisitRecord(Base):
    """One visit, from sign-in at a kiosk to sign-out (or closing time)."""

    __tablename__ = "visit_records"
    __table_args__ = (Index("ix_visit_records_building_status", "building_id", "status"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64))
    building_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(16))
    first: Mapped[str] = mapped_column(String(64))
    last: Mapped[str] = mapped_column(String(64))
    company: Mapped[str] = mapped_column(String(120), default="")
    purpose: Mapped[str] = mapped_column(String(120), default="")
    host_id: Mapped[str | None] = mapped_column(String(64))
    host_name: Mapped[str] = mapped_column(String(200), default="")
    destination_id: Mapped[str | None] = mapped_column(String(64))
    destination_name: Mapped[str] = mapped_column(String(120), default="")
    escort_required: Mapped[bool] = mapped_column(default=False)
    id_source: Mapped[str] = mapped_column(String(8))  # scanned | typed
    #: hub | kiosk_cache
    screened_by: Mapped[str] = mapped_column(String(16))
    offline: Mapped[bool] = mapped_column(default=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    photo: Mapped[bytes | None] = mapped_column(LargeBinary)
    photo_key_id: Mapped[int | None] = mapped_column(ForeignKey("visit_photo_keys.id", ondelete="SET NULL"))
    signed_in_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    printed_at: Mapped[datetime | None]
    signed_out_at: Mapped[datetime | None]
    signed_out_how: Mapped[str | None] = mapped_column(String(16))

    holds: Mapped[list[VisitHold]] = relationship(back_populates="visit", order_by="VisitHold.id")

    @property
    def label(self) -> str:
        """``First L.``: all a kiosk screen ever shows of a visit."""
        return f"{self.first} {self.last[:1]}." if self.last else self.first


class VisitHold(Base):
    """A sign-in stopped for the desk: a possible watch-list match, or no way to screen."""

    __tablename__ = "visit_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[str] = mapped_column(ForeignKey("visit_records.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(16))  # possible_match | stale_cache
    entry_ids: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    #: admit | refuse | not_sure (None: waiting)
    decision: Mapped[str | None] = mapped_column(String(16))
    false_match: Mapped[bool] = mapped_column(default=False)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None]

    visit: Mapped[VisitRecord] = relationship(back_populates="holds")


# Pool visitor keycards (ADR 0003) have tables of their own; importing them here registers them
# wherever the visitor tables are registered (hub.models, Alembic).
from hub.visitors import pool_models as _pool_models  # noqa: E402,F401
