"""The durable outbox: what a device has said but the hub has not yet committed.

A device appends each event here before acting on it (before the relay moves), publishes it,
and deletes it only when the hub's ``events.ack`` covers its sequence number. After a
restart or a reconnect, :meth:`Outbox.pending` gives every unacknowledged entry, oldest
first, to publish again with its original bytes (same signature, same number), so the hub
stores each (device, seq) once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from link import sqlite


@dataclass(frozen=True)
class Entry:
    """One stored message."""

    seq: int
    topic: str
    payload: bytes


class Outbox:
    """SQLite (WAL, synchronous=FULL) outbox with the sender's persisted sequence counter."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._conn = sqlite.connect(self.path)
        self._lock = threading.Lock()
        self._conn.executescript(
            """
            CREATE TABLE IF NOT EXISTS outbox (
                seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
            """)

    def _last_seq(self) -> int:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
        return row[0] if row else 0

    def next_seq(self) -> int:
        """Allocate and persist the next sequence number (for messages not kept here)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                seq = self._last_seq() + 1
                self._set_last(seq)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            return seq

    def _set_last(self, seq: int) -> None:
        self._conn.execute(
            "INSERT INTO meta (key, value) VALUES ('last_seq', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (seq,))

    def add(self, topic: str, make_payload: Callable[[int], bytes]) -> int:
        """Allocate a sequence number, build the payload with it, store both durably.

        Returns the number once the row is on disk; the caller may then act and publish.
        """
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                seq = self._last_seq() + 1
                payload = make_payload(seq)
                self._conn.execute("INSERT INTO outbox (seq, topic, payload) VALUES (?, ?, ?)",
                                   (seq, topic, payload))
                self._set_last(seq)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            return seq

    def pending(self, limit: int | None = None) -> list[Entry]:
        """Unacknowledged entries, oldest first."""
        sql = "SELECT seq, topic, payload FROM outbox ORDER BY seq"
        params: tuple[int, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [Entry(seq, topic, bytes(payload)) for seq, topic, payload in rows]

    def ack(self, upto: int) -> int:
        """Delete every entry with ``seq <= upto``; return how many went."""
        with self._lock:
            cur = self._conn.execute("DELETE FROM outbox WHERE seq <= ?", (upto,))
            return cur.rowcount

    def depth(self) -> int:
        """How many entries wait for the hub's ack."""
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None  # type: ignore[assignment]

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
