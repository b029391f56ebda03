"""Tables of the accounts layer: accounts, invitations, sessions, second factors, throttles,
API tokens and the hash-chained audit log.

Secrets that let someone in (session ids, invitation links, API tokens, recovery codes) are
stored only as SHA-256 digests; passwords as argon2id hashes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DDL,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db import Base

GENESIS_HASH = "0" * 64


class Account(Base):
    """A person who signs in to the hub; created only from an invitation or ``gatehouse-hub init``."""

    __tablename__ = "auth_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime]
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]
    # TOTP seed sealed with the vault key (hub.auth.seeds); None: security keys only
    totp_secret: Mapped[str | None] = mapped_column(String(128))
    # highest TOTP time step ever accepted: a code at or below it is a replay
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    webauthn_user_id: Mapped[bytes] = mapped_column(LargeBinary(64))

    buildings: Mapped[list[AccountBuilding]] = relationship(
        back_populates="account", cascade="all, delete-orphan", lazy="selectin"
    )
    webauthn_credentials: Mapped[list[WebAuthnCredential]] = relationship(
        back_populates="account", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def building_ids(self) -> frozenset[str]:
        """The buildings this account is scoped to."""
        return frozenset(b.building_id for b in self.buildings)

    @property
    def has_second_factor(self) -> bool:
        """True when the account holds a TOTP seed or a security key."""
        return bool(self.totp_secret) or bool(self.webauthn_credentials)


class AccountBuilding(Base):
    """One building in an account's scope (principals: one or more; front desk: exactly one)."""

    __tablename__ = "auth_account_building"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("auth_account.id", ondelete="CASCADE"), primary_key=True
    )
    building_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account: Mapped[Account] = relationship(back_populates="buildings")


class Invitation(Base):
    """A one-time, expiring invitation link; only the SHA-256 of its token is kept."""

    __tablename__ = "auth_invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    username: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    buildings_json: Mapped[str] = mapped_column(Text, default="[]")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    account_id: Mapped[int | None] = mapped_column(ForeignKey("auth_account.id"))


class ServerSession(Base):
    """A browser session held on the server; the cookie carries a random id, the table its digest."""

    __tablename__ = "auth_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("auth_account.id", ondelete="CASCADE"), index=True
    )
    # "anonymous", "partial" (password checked, second factor pending) or "full"
    stage: Mapped[str] = mapped_column(String(16), default="anonymous")
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime] = mapped_column(index=True)
    authenticated_at: Mapped[datetime | None]
    reauth_at: Mapped[datetime | None]
    data_json: Mapped[str] = mapped_column(Text, default="{}")
    client_addr: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(256), default="")


class WebAuthnCredential(Base):
    """A registered security key (WebAuthn public-key credential)."""

    __tablename__ = "auth_webauthn_credential"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("auth_account.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1024), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(2048))
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    account: Mapped[Account] = relationship(back_populates="webauthn_credentials")


class RecoveryCode(Base):
    """A one-time recovery code (SHA-256 of a random 80-bit code)."""

    __tablename__ = "auth_recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("auth_account.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Failure counter and lock for one sign-in key (``user:<name>`` or ``addr:<ip>``)."""

    __tablename__ = "auth_login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]


class ApiToken(Base):
    """A bearer token for the JSON API, scoped to a role, buildings and optionally a list of actions."""

    __tablename__ = "auth_api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    buildings_json: Mapped[str] = mapped_column(Text, default="[]")
    actions_json: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class AuditEntry(Base):
    """One append-only, hash-chained audit row: who did what, where, and the before/after state."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(160))
    actor_role: Mapped[str] = mapped_column(String(32))
    building: Mapped[str | None] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(200))
    before_json: Mapped[str] = mapped_column(Text)
    after_json: Mapped[str] = mapped_column(Text)
    # UNIQUE: two writers that read the same head cannot both append (no fork in the chain)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


Index("ix_auth_invitation_username", Invitation.username)

# Append-only in the database itself: triggers refuse UPDATE and DELETE on every backend the hub
# runs on. The Alembic revision creates the same triggers; these cover create_all (tests, demo).
SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
)
POSTGRES_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse()",
)

for _sql in SQLITE_TRIGGERS:
    event.listen(AuditEntry.__table__, "after_create", DDL(_sql).execute_if(dialect="sqlite"))
for _sql in POSTGRES_TRIGGERS:
    event.listen(AuditEntry.__table__, "after_create", DDL(_sql).execute_if(dialect="postgresql"))
