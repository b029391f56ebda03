"""The tamper-evident audit log: append a row with :func:`record`, check the chain with :func:`verify`.

Each row's hash is SHA-256 over the previous row's hash and the row's canonical content, so
editing, inserting or deleting a row in the middle breaks the link at the next row. The log is
append-only: the ORM refuses updates and deletes of :class:`AuditEntry`, and database triggers
refuse them underneath (SQLite and PostgreSQL).
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Delete, Update, event, select, text
from sqlalchemy.orm import Session

from hub.auth.clock import SystemClock, as_utc
from hub.auth.models import GENESIS_HASH, AuditEntry
from hub.auth.permissions import Actor


class AuditTamperError(RuntimeError):
    """Raised on any attempt to change or delete an audit row through the ORM."""


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (UUID, Decimal)):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, bytes):
        raise TypeError("bytes have no place in the audit log (never log a secret or a raw UID)")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text: the one form the hash covers."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False, default=_default)


def timestamp(at: datetime) -> str:
    """The one text form of a time in the audit log (UTC, microseconds, sortable)."""
    return as_utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_content(entry: Any) -> str:
    """The canonical content of a row (everything but its id and hashes)."""
    return canonical_json({
        "at": timestamp(entry.at),
        "actor": entry.actor,
        "actor_role": entry.actor_role,
        "building": entry.building,
        "action": entry.action,
        "target": entry.target,
        "before": entry.before_json,
        "after": entry.after_json,
    })


def chain_hash(prev_hash: str, content: str) -> str:
    """SHA-256 over the previous hash and this row's canonical content."""
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


def _now() -> datetime:
    try:
        from flask import current_app

        from hub.auth.config import get_clock

        return get_clock(current_app).now()
    except RuntimeError:  # outside an application context (CLI without app, scripts)
        return SystemClock().now()


def _head(session: Session) -> str:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # serialise appenders across hub workers; released at commit or rollback
        session.execute(text("SELECT pg_advisory_xact_lock(7242042)"))
    elif dialect == "sqlite":
        # NOTE: take SQLite's write lock *before* reading the head. A write statement does that
        # even when it touches no row; without it two writers could read the same head, and the
        # second would fail on the unique prev_hash instead of waiting its turn.
        session.execute(text("DELETE FROM auth_login_throttle WHERE 0 = 1"))
    last = session.execute(
        select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).scalar_one_or_none()
    return last or GENESIS_HASH


def record(
    session: Session,
    actor: Actor | str,
    action: str,
    building: str | None,
    before: Any = None,
    after: Any = None,
    *,
    target: str | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Append one audit row in ``session``'s transaction (committed with the change it records).

    ``before``/``after`` are JSON-able snapshots; never pass a secret, a PIN or a raw card UID —
    record that a secret was viewed, not its value.
    """
    if isinstance(actor, Actor):
        actor_name, actor_role = actor.label, str(actor.role)
    else:
        actor_name, actor_role = str(actor), "system"
    if not action or len(action) > 64:
        raise ValueError("an audit action is a short non-empty name")
    session.flush()  # earlier rows of this transaction first, so the head is current
    prev = _head(session)
    entry = AuditEntry(
        at=now if now is not None else _now(),
        actor=actor_name[:160],
        actor_role=actor_role,
        building=building,
        action=action,
        target=target,
        before_json=canonical_json(before),
        after_json=canonical_json(after),
        prev_hash=prev,
        hash="",
    )
    entry.hash = chain_hash(prev, row_content(entry))
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of :func:`verify`: rows checked, the head hash, and the first broken link if any."""

    ok: bool
    rows: int
    head: str
    broken_id: int | None = None
    problem: str = ""

    def describe(self) -> str:
        """One line for the console."""
        if self.ok:
            return f"audit log OK: {self.rows} rows, head {self.head}"
        return f"audit log BROKEN at row {self.broken_id}: {self.problem} ({self.rows} rows checked before it)"


_COLUMNS = (AuditEntry.id, AuditEntry.at, AuditEntry.actor, AuditEntry.actor_role,
            AuditEntry.building, AuditEntry.action, AuditEntry.target, AuditEntry.before_json,
            AuditEntry.after_json, AuditEntry.prev_hash, AuditEntry.hash)


def iter_rows(session: Session, batch: int = 5000) -> Iterator[Any]:
    """Every audit row in id order, as plain column tuples fetched in batches (flat memory)."""
    last_id = 0
    while True:
        rows = session.execute(
            select(*_COLUMNS).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id


def verify(session: Session) -> VerifyResult:
    """Walk the chain from the first row; report the first row whose link or content is wrong."""
    prev = GENESIS_HASH
    count = 0
    for entry in iter_rows(session):
        if entry.prev_hash != prev:
            return VerifyResult(False, count, prev, entry.id,
                                "its previous-hash does not match the row before it "
                                "(a row was removed, inserted or edited before it)")
        expected = chain_hash(prev, row_content(entry))
        if entry.hash != expected:
            return VerifyResult(False, count, prev, entry.id,
                                "its content does not match its hash (the row was edited)")
        prev = entry.hash
        count += 1
    return VerifyResult(True, count, prev)


@event.listens_for(AuditEntry, "before_update")
def _refuse_update(*_args: Any) -> None:
    raise AuditTamperError("audit rows are append-only")


@event.listens_for(AuditEntry, "before_delete")
def _refuse_delete(*_args: Any) -> None:
    raise AuditTamperError("audit rows are append-only")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk(state: Any) -> None:
    statement = state.statement
    if isinstance(statement, (Update, Delete)) and getattr(statement, "table", None) is not None:
        if getattr(statement.table, "name", None) == AuditEntry.__tablename__:
            raise AuditTamperError("audit rows are append-only")


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    """A row as plain data for pages and the API."""
    return {
        "id": entry.id,
        "at": timestamp(entry.at),
        "actor": entry.actor,
        "actor_role": entry.actor_role,
        "building": entry.building,
        "action": entry.action,
        "target": entry.target,
        "before": json.loads(entry.before_json),
        "after": json.loads(entry.after_json),
        "hash": entry.hash,
    }


__all__ = ["record", "verify", "VerifyResult", "AuditTamperError", "canonical_json"]
