"""The services' door to the hash-chained audit log owned by ``hub.auth.audit``.

Every change a service makes, and every view of a secret, goes through :func:`record` in the
same transaction as the change. Never pass a secret value, a PIN or a raw card UID.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from hub.auth import audit as _log
from hub.auth.permissions import Actor

ActorLike = Actor | str


def label(actor: ActorLike) -> str:
    """How ``actor`` is named in records (an account, a token, the console or a process)."""
    return actor.label if isinstance(actor, Actor) else str(actor)


def record(session: Session, *, actor: ActorLike, action: str, now: datetime,
           building_id: str | None = None, target: str = "",
           detail: dict[str, Any] | None = None, before: Any = None) -> None:
    """Append one audit row (``detail`` is the after-state) in the caller's transaction."""
    _log.record(session, actor, action, building_id, before, detail or {}, target=target or None,
                now=now)
