"""The kiosk's own small database: today's roster and the hub's caches.

SQLite in WAL mode with ``synchronous=FULL`` in the state folder. The roster keeps, per visit
signed in at this kiosk, what sign-out and the emergency roster need when the hub is away:
the badge token's SHA-256, the name, times and state. Visits are purged a day after they end.
While a visit is open its photo is kept too (``visit_media``: the roster's thumbnail), and a
visit held for the desk also keeps its badge token, so the badge can print when the desk
admits the visitor; both are deleted when the visit ends, with ``secure_delete`` on so the
freed pages are overwritten, not left readable in the file. The caches keep the hub's
directory and hashed watch list (no names in it). Nothing here holds a date of birth, an ID
number, an address or an ID image.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS roster (
    visit TEXT PRIMARY KEY,
    token_hash TEXT UNIQUE NOT NULL,
    first TEXT NOT NULL,
    last TEXT NOT NULL,
    category TEXT NOT NULL,
    host TEXT NOT NULL DEFAULT '',
    signed_in_at TEXT NOT NULL,
    expires_at TEXT,
    state TEXT NOT NULL,
    ended_at TEXT,
    offline INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS cache (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    fetched_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS visit_media (
    visit TEXT PRIMARY KEY,
    photo BLOB,
    token TEXT
);
CREATE TABLE IF NOT EXISTS pending (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    since TEXT NOT NULL
);
"""


def token_hash(token: str) -> str:
    """What the kiosk keeps of a badge token (same as the hub)."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class RosterVisit:
    """One visit on this kiosk's roster."""

    visit: str
    first: str
    last: str
    category: str
    host: str
    signed_in_at: datetime
    expires_at: datetime | None
    state: str
    offline: bool

    @property
    def label(self) -> str:
        """``First L.``."""
        return f"{self.first} {self.last[:1]}." if self.last else self.first


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class KioskStore:
    """Roster and caches in ``<state_dir>/kiosk.db``."""

    def __init__(self, path: Path | str) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        #: the state folder this store lives in
        self.dir = path.parent
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            # Deleted photos and tokens are overwritten in the file, not just unlinked (WISP VII.A).
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database; idempotent."""
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------ roster
    def add_visit(self, *, visit: str, token: str, first: str, last: str, category: str, host: str,
                  signed_in_at: datetime, expires_at: datetime | None, state: str, offline: bool,
                  photo: bytes | None = None) -> None:
        """Record a visit signed in here, with its photo; a ``held`` visit also keeps its token."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO roster (visit, token_hash, first, last, category, host, signed_in_at,"
                    " expires_at, state, offline) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (visit, token_hash(token), first, last, category, host, _iso(signed_in_at), _iso(expires_at),
                     state, int(offline)))
                self._db.execute("INSERT OR REPLACE INTO visit_media (visit, photo, token) VALUES (?,?,?)",
                                 (visit, photo or None, token if state == "held" else None))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def photos(self, visits: list[str]) -> dict[str, bytes]:
        """The JPEG of each of these visits that has one."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT visit, photo FROM visit_media WHERE photo IS NOT NULL AND visit IN "
                f"({','.join('?' * len(visits))})", list(visits)).fetchall() if visits else []
        return {visit: bytes(photo) for visit, photo in rows}

    def held_token(self, visit: str) -> str | None:
        """The badge token a held visit keeps for the desk's admit, or None."""
        with self._lock:
            row = self._db.execute("SELECT token FROM visit_media WHERE visit = ?", (visit,)).fetchone()
        return row[0] if row else None

    def admitted(self, visit: str, host: str, expires_at: datetime | None) -> None:
        """A held visit's badge printed: it is on site, its token is no longer kept."""
        with self._lock:
            self._db.execute("UPDATE roster SET state = 'on_site', host = ?, expires_at = ? WHERE visit = ?",
                             (host, _iso(expires_at), visit))
            self._db.execute("UPDATE visit_media SET token = NULL WHERE visit = ?", (visit,))

    def _row(self, row: tuple | None) -> RosterVisit | None:
        if row is None:
            return None
        return RosterVisit(visit=row[0], first=row[1], last=row[2], category=row[3], host=row[4],
                           signed_in_at=_dt(row[5]), expires_at=_dt(row[6]), state=row[7], offline=bool(row[8]))

    _COLS = "visit, first, last, category, host, signed_in_at, expires_at, state, offline"

    def by_token(self, token: str) -> RosterVisit | None:
        """The visit whose badge carries ``token``."""
        with self._lock:
            row = self._db.execute(f"SELECT {self._COLS} FROM roster WHERE token_hash = ?",
                                   (token_hash(token),)).fetchone()
        return self._row(row)

    def get(self, visit: str) -> RosterVisit | None:
        """One visit by id."""
        with self._lock:
            row = self._db.execute(f"SELECT {self._COLS} FROM roster WHERE visit = ?", (visit,)).fetchone()
        return self._row(row)

    def end(self, visit: str, state: str, now: datetime) -> None:
        """Mark a visit signed out (or abandoned, refused); its photo and any token are deleted."""
        with self._lock:
            self._db.execute("UPDATE roster SET state = ?, ended_at = ? WHERE visit = ?", (state, _iso(now), visit))
            self._db.execute("DELETE FROM visit_media WHERE visit = ?", (visit,))

    def on_site(self) -> list[RosterVisit]:
        """Visits signed in here and not out, oldest first."""
        with self._lock:
            rows = self._db.execute(f"SELECT {self._COLS} FROM roster WHERE state IN ('on_site', 'held')"
                                    " ORDER BY signed_in_at").fetchall()
        return [self._row(r) for r in rows]

    def purge(self, now: datetime, keep: timedelta = timedelta(days=1)) -> int:
        """Forget visits that ended more than ``keep`` ago."""
        with self._lock:
            cur = self._db.execute("DELETE FROM roster WHERE ended_at IS NOT NULL AND ended_at < ?",
                                   (_iso(now - keep),))
            self._db.execute("DELETE FROM visit_media WHERE visit NOT IN (SELECT visit FROM roster)")
        return cur.rowcount

    # ------------------------------------------------------------------ pending requests
    def put_pending(self, name: str, body: Any, now: datetime) -> bool:
        """Keep a request the hub must still hear; a newer one replaces ``body`` but keeps the first time.

        True when nothing was waiting before.
        """
        with self._lock:
            existed = self._db.execute("SELECT 1 FROM pending WHERE name = ?", (name,)).fetchone() is not None
            self._db.execute("INSERT INTO pending (name, body, since) VALUES (?,?,?)"
                             " ON CONFLICT (name) DO UPDATE SET body = excluded.body",
                             (name, json.dumps(body, separators=(",", ":")), _iso(now)))
        return not existed

    def get_pending(self, name: str) -> tuple[Any, datetime] | None:
        """(body, since) of a waiting request, or None."""
        with self._lock:
            row = self._db.execute("SELECT body, since FROM pending WHERE name = ?", (name,)).fetchone()
        return None if row is None else (json.loads(row[0]), _dt(row[1]))

    def clear_pending(self, name: str, body: Any) -> bool:
        """The hub has answered the request carrying ``body``: forget it, unless a newer one replaced it."""
        with self._lock:
            cur = self._db.execute("DELETE FROM pending WHERE name = ? AND body = ?",
                                   (name, json.dumps(body, separators=(",", ":"))))
        return cur.rowcount == 1

    # ------------------------------------------------------------------ caches
    def put_cache(self, name: str, body: Any, now: datetime) -> None:
        """Keep the latest copy of a hub answer."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO cache (name, body, fetched_at) VALUES (?,?,?)",
                             (name, json.dumps(body, separators=(",", ":")), _iso(now)))

    def cache_time(self, name: str) -> datetime | None:
        """When a cache was last stored, or None."""
        with self._lock:
            row = self._db.execute("SELECT fetched_at FROM cache WHERE name = ?", (name,)).fetchone()
        return _dt(row[0]) if row else None

    def get_cache(self, name: str) -> tuple[Any, datetime] | None:
        """(body, fetched_at) or None."""
        with self._lock:
            row = self._db.execute("SELECT body, fetched_at FROM cache WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        return json.loads(row[0]), _dt(row[1])
