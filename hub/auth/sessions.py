"""Server-side sessions: Flask's ``session`` backed by the ``auth_session`` table.

The cookie (``__Host-gh_session``; Secure, HttpOnly, SameSite=Lax, Path=/) carries 256 random
bits; the table keeps only their SHA-256, so a copy of the database opens no session. A session
ends after ``AUTH_IDLE_TIMEOUT_S`` without a request (5 minutes, WISP VII.B) and after
``AUTH_ABSOLUTE_TIMEOUT_S`` in all (12 hours); the id changes at every sign-in.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import delete
from werkzeug.datastructures import CallbackDict

from hub.auth.config import COOKIE_NAME, AuthSettings, get_clock, get_settings
from hub.auth.models import ServerSession
from hub.auth.permissions import ENDPOINTS

ANONYMOUS, PARTIAL, FULL = "anonymous", "partial", "full"

#: endpoints whose requests do not count as activity (the countdown's own status check)
NO_TOUCH_ENDPOINTS = frozenset({"auth.session_status", "static", "auth.static"})


def _printable(text: str, limit: int) -> str:
    return "".join(ch for ch in text if ch.isprintable())[:limit]


def digest(token: str) -> str:
    """SHA-256 hex digest of a bearer secret (session id, invitation, API token, recovery code)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Timing:
    """A session's clock readings, for the pure expiry rules."""

    stage: str
    created_at: datetime
    last_seen_at: datetime


def expiry_reason(timing: Timing, now: datetime, settings: AuthSettings) -> str | None:
    """Return ``"idle"``, ``"absolute"`` or ``"partial"`` when the session has ended, else None."""
    idle = now - timing.last_seen_at
    if timing.stage == PARTIAL and idle >= timedelta(seconds=settings.partial_timeout_s):
        return "partial"
    if idle >= timedelta(seconds=settings.idle_timeout_s):
        return "idle"
    if now - timing.created_at >= timedelta(seconds=settings.absolute_timeout_s):
        return "absolute"
    return None


def idle_deadline(last_seen_at: datetime, created_at: datetime, settings: AuthSettings) -> datetime:
    """When the session ends if nothing else happens (the earlier of idle and absolute)."""
    return min(last_seen_at + timedelta(seconds=settings.idle_timeout_s),
               created_at + timedelta(seconds=settings.absolute_timeout_s))


class DbSession(CallbackDict, SessionMixin):
    """The request's session: a dict for small data plus the sign-in state as attributes."""

    def __init__(self, initial: dict[str, Any] | None = None, *, row: ServerSession | None = None,
                 ended: str | None = None) -> None:
        def on_update(self: DbSession) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.modified = False
        self.id_hash: str | None = row.id_hash if row else None
        self.account_id: int | None = row.account_id if row else None
        self.stage: str = row.stage if row else ANONYMOUS
        self.created_at: datetime | None = row.created_at if row else None
        self.last_seen_at: datetime | None = row.last_seen_at if row else None
        self.authenticated_at: datetime | None = row.authenticated_at if row else None
        self.reauth_at: datetime | None = row.reauth_at if row else None
        self.ended = ended  # why the previous session ended, when this request found it expired
        self.rotate = False
        self.destroy = False

    @property
    def new(self) -> bool:  # type: ignore[override]
        """True when no row exists yet."""
        return self.id_hash is None

    def sign_in(self, account_id: int, now: datetime) -> None:
        """Mark the session fully signed in; the id is rotated when the response is saved."""
        self.account_id = account_id
        self.stage = FULL
        self.authenticated_at = now
        self.reauth_at = now
        self.rotate = True
        self.pop("csrf_token", None)
        self.pop("pending", None)
        self.modified = True

    def partial(self, account_id: int) -> None:
        """Password accepted; second factor pending. The id rotates here too."""
        self.account_id = account_id
        self.stage = PARTIAL
        self.rotate = True
        self.modified = True

    def reauthenticated(self, now: datetime) -> None:
        """Record a fresh password + second factor check."""
        self.reauth_at = now
        self.pop("pending", None)
        self.modified = True

    def end(self) -> None:
        """Sign out: the row is deleted and the cookie cleared."""
        self.destroy = True
        self.clear()
        self.account_id = None
        self.stage = ANONYMOUS


class DbSessionInterface(SessionInterface):
    """Flask session interface over the ``auth_session`` table."""

    def _db(self, app: Flask) -> Any:
        from hub.db import get_database

        return get_database(app)

    def open_session(self, app: Flask, request: Request) -> DbSession:
        """Load the session named by the cookie, or start an empty one if it is absent or expired."""
        token = request.cookies.get(COOKIE_NAME)
        if not token or len(token) > 128:
            return DbSession()
        now = get_clock(app).now()
        settings = get_settings(app)
        with self._db(app).session() as store:
            row = store.get(ServerSession, digest(token))
            if row is None:
                return DbSession(ended="unknown")
            reason = expiry_reason(Timing(row.stage, row.created_at, row.last_seen_at), now, settings)
            if reason is not None:
                store.delete(row)
                return DbSession(ended=reason)
            data = json.loads(row.data_json or "{}")
            store.expunge(row)
            return DbSession(data, row=row)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Write the session back, rotate or delete it, and set or clear the cookie."""
        assert isinstance(session, DbSession)
        from flask import request

        now = get_clock(app).now()
        rule = ENDPOINTS.get(request.endpoint or "")
        # API calls authenticate by token: a cookie sent along is not the person being active
        touch = request.endpoint not in NO_TOUCH_ENDPOINTS and not (rule is not None and rule.api)
        with self._db(app).session() as store:
            if session.destroy:
                if session.id_hash:
                    store.execute(delete(ServerSession).where(ServerSession.id_hash == session.id_hash))
                response.delete_cookie(COOKIE_NAME, path="/", secure=True, httponly=True, samesite="Lax")
                return
            if session.new and not session.modified and not session.rotate:
                if session.ended:
                    response.delete_cookie(COOKIE_NAME, path="/", secure=True, httponly=True,
                                           samesite="Lax")
                return
            token = None
            if session.rotate or session.new:
                if session.id_hash:
                    store.execute(delete(ServerSession).where(ServerSession.id_hash == session.id_hash))
                token = secrets.token_urlsafe(32)
                row = ServerSession(
                    id_hash=digest(token),
                    created_at=session.created_at if session.created_at and not session.rotate else now,
                    last_seen_at=now,
                    client_addr=_printable(request.remote_addr or "", 64),
                    user_agent=_printable(request.user_agent.string or "", 256),
                )
                store.add(row)
            else:
                row = store.get(ServerSession, session.id_hash)
                if row is None:  # ended elsewhere during this request (logout everywhere)
                    response.delete_cookie(COOKIE_NAME, path="/", secure=True, httponly=True,
                                           samesite="Lax")
                    return
                if touch:
                    row.last_seen_at = now
            row.account_id = session.account_id
            row.stage = session.stage
            row.authenticated_at = session.authenticated_at
            row.reauth_at = session.reauth_at
            row.data_json = json.dumps(dict(session), separators=(",", ":"))
            if token is not None:
                session.id_hash = row.id_hash
                response.set_cookie(COOKIE_NAME, token, path="/", secure=True, httponly=True,
                                    samesite="Lax")
        response.vary.add("Cookie")


def end_all_sessions(store: Any, account_id: int) -> int:
    """Delete every session of an account (logout everywhere, disabling an account)."""
    result = store.execute(delete(ServerSession).where(ServerSession.account_id == account_id))
    return int(result.rowcount or 0)


def prune_expired(store: Any, now: datetime, settings: AuthSettings) -> int:
    """Delete rows idle for longer than the idle timeout (housekeeping at sign-in)."""
    cutoff = now - timedelta(seconds=settings.idle_timeout_s)
    result = store.execute(delete(ServerSession).where(ServerSession.last_seen_at < cutoff))
    return int(result.rowcount or 0)
