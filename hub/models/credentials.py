"""The master list: keycards, physical keys and who holds them, encrypted codes/combinations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db import Base
from hub.models.people import Person


class Keycard(Base):
    """A keycard, known only by the HMAC of its UID under the site key."""

    __tablename__ = "keycards"

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[str] = mapped_column(ForeignKey("buildings.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    cred_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: active | revoked | lost | stolen | returned
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    issued_at: Mapped[datetime]
    approved_by: Mapped[str] = mapped_column(String(200))
    issued_by: Mapped[str] = mapped_column(String(200))
    ended_at: Mapped[datetime | None]
    pin_salt: Mapped[str | None] = mapped_column(String(64))
    pin_hash: Mapped[str | None] = mapped_column(String(64))
    pin_iterations: Mapped[int | None]

    person: Mapped[Person] = relationship()


class PhysicalKey(Base):
    """A cut key: its stamped mark, the locks it opens, how many copies exist."""

    __tablename__ = "physical_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[str] = mapped_column(ForeignKey("buildings.id"), index=True)
    mark: Mapped[str] = mapped_column(String(64))
    opens: Mapped[str] = mapped_column(String(500), default="")
    copies: Mapped[int] = mapped_column(default=1)
    records_room: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]

    holdings: Mapped[list[KeyHolding]] = relationship(back_populates="key",
                                                      order_by="KeyHolding.id")


class KeyHolding(Base):
    """One copy of a physical key issued to a person, until it is returned, lost or stolen."""

    __tablename__ = "key_holdings"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("physical_keys.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="issued")  # issued|returned|lost|stolen
    issued_at: Mapped[datetime]
    approved_by: Mapped[str] = mapped_column(String(200))
    issued_by: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]

    key: Mapped[PhysicalKey] = relationship(back_populates="holdings")
    person: Mapped[Person] = relationship()


class Secret(Base):
    """A keypad code or lock combination; only ciphertext is stored (key in a file)."""

    __tablename__ = "secrets"

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[str] = mapped_column(ForeignKey("buildings.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # keypad_code | combination
    label: Mapped[str] = mapped_column(String(200))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    changed_at: Mapped[datetime]
    #: set when a holder left and the code must be changed
    change_needed: Mapped[bool] = mapped_column(default=False)

    holdings: Mapped[list[SecretHolding]] = relationship(back_populates="secret",
                                                         order_by="SecretHolding.id")


class SecretHolding(Base):
    """A person who was told a code or combination."""

    __tablename__ = "secret_holdings"

    id: Mapped[int] = mapped_column(primary_key=True)
    secret_id: Mapped[int] = mapped_column(ForeignKey("secrets.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    issued_at: Mapped[datetime]
    approved_by: Mapped[str] = mapped_column(String(200))
    ended_at: Mapped[datetime | None]

    secret: Mapped[Secret] = relationship(back_populates="holdings")
    person: Mapped[Person] = relationship()


class TapEnrolment(Base):
    """A principal waiting at a door reader for the next card tapped there, to enrol it.

    ``waiting_on`` holds the reader's device id only while the wait is open: its unique
    constraint lets one enrolment wait on a reader at a time (NULLs do not collide).
    """

    __tablename__ = "tap_enrolments"

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[str] = mapped_column(ForeignKey("buildings.id"), index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    waiting_on: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: waiting | seen | enrolled | expired | cancelled
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    started_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    #: the reader's highest stored event sequence when the wait began (later events only)
    after_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    cred_hash: Mapped[str | None] = mapped_column(String(64))
    seen_at: Mapped[datetime | None]
    card_id: Mapped[int | None] = mapped_column(ForeignKey("keycards.id"))
    ended_at: Mapped[datetime | None]

    person: Mapped[Person] = relationship()
