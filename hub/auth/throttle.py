"""Sign-in throttling with exponential back-off, per account name and per client address.

The decision core (:func:`lock_seconds`, :func:`is_locked`) is pure; :class:`Throttle` keeps the
counters in the database. Keys are built from the *typed* user name, whether or not an account
by that name exists, so the lock behaves the same for both and tells an attacker nothing.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from hub.auth.models import LoginThrottle


def lock_seconds(failures: int, threshold: int, base_s: int, max_s: int) -> int:
    """Seconds to lock after ``failures`` consecutive failures: 0 below the threshold, then doubling."""
    if failures < threshold:
        return 0
    exponent = min(failures - threshold, 20)
    return min(max_s, base_s * (2 ** exponent))


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    """True while a lock is in force."""
    return locked_until is not None and now < locked_until


_PLAIN_NAME = re.compile(r"^[a-z0-9._@-]{1,150}$")


def account_key(username: str) -> str:
    """Throttle key of a typed user name (normalised the way accounts are).

    Anything that cannot be a user name is keyed by its digest, so odd input (control
    characters, NUL, very long text) still counts, and never reaches the database as typed.
    """
    typed = username.strip().lower()
    if _PLAIN_NAME.match(typed):
        return "user:" + typed
    return "user:#" + hashlib.sha256(typed.encode("utf-8", "surrogatepass")).hexdigest()


def addr_key(addr: str | None) -> str:
    """Throttle key of a client address."""
    return "addr:" + (addr or "unknown")[:100]


class Throttle:
    """Database-backed failure counters."""

    def __init__(self, session: Session, *, account_threshold: int, addr_threshold: int,
                 base_s: int, max_s: int) -> None:
        self.session = session
        self.thresholds = {"user": account_threshold, "addr": addr_threshold}
        self.base_s = base_s
        self.max_s = max_s

    def _row(self, key: str) -> LoginThrottle:
        row = self.session.get(LoginThrottle, key)
        if row is None:
            row = LoginThrottle(key=key, failures=0)
            self.session.add(row)
        return row

    def locked(self, keys: list[str], now: datetime) -> bool:
        """True when any of ``keys`` is locked now."""
        for key in keys:
            row = self.session.get(LoginThrottle, key)
            if row is not None and is_locked(row.locked_until, now):
                return True
        return False

    def fail(self, keys: list[str], now: datetime) -> None:
        """Count one failure against every key and lock those past their threshold."""
        for key in keys:
            row = self._row(key)
            row.failures = (row.failures or 0) + 1
            row.last_failure_at = now
            threshold = self.thresholds[key.split(":", 1)[0]]
            seconds = lock_seconds(row.failures, threshold, self.base_s, self.max_s)
            row.locked_until = now + timedelta(seconds=seconds) if seconds else None

    def succeed(self, key: str) -> None:
        """Clear the counter of an account name after a full sign-in."""
        row = self.session.get(LoginThrottle, key)
        if row is not None:
            row.failures = 0
            row.locked_until = None
