"""Sequence numbers and replay rejection.

Every sender numbers its messages with one counter that never goes back (persisted, so a
restart does not reuse a number). A receiver keeps, per (sender, stream), the highest number
accepted and refuses anything not above it: a replay or a reordered old message. Streams are
the topic kinds of :mod:`link.topics`, so a device's outbox replay on ``events`` does not
collide with its fresh ``status``. Events are the exception: the hub deduplicates them by
(device, seq) in its database and re-acks, because a device legitimately re-sends unacked ones.
"""

from __future__ import annotations

import threading
from pathlib import Path

from link import sqlite


class ReplayGuard:
    """Highest accepted sequence per (sender, stream); persisted when ``path`` is given."""

    def __init__(self, path: Path | str | None = None) -> None:
        self._lock = threading.RLock()
        self._seen: dict[tuple[str, str], int] = {}
        self._conn = None
        if path is not None:
            self._conn = sqlite.connect(path)
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS seen (sender TEXT NOT NULL, stream TEXT NOT NULL, "
                "seq INTEGER NOT NULL, PRIMARY KEY (sender, stream))")
            for sender, stream, seq in self._conn.execute("SELECT sender, stream, seq FROM seen"):
                self._seen[(sender, stream)] = seq

    def last(self, sender: str, stream: str) -> int | None:
        """The highest sequence accepted so far, or None."""
        return self._seen.get((sender, stream))

    def accept(self, sender: str, stream: str, seq: int) -> bool:
        """True (and remember ``seq``) when it is above every number seen on this stream."""
        with self._lock:
            last = self._seen.get((sender, stream))
            if last is not None and seq <= last:
                return False
            self._remember(sender, stream, seq)
            return True

    def accept_status(self, sender: str, seq: int, *, online: bool, will_seq: int | None) -> bool:
        """The status stream's rule: strictly increasing, except for the last will.

        A device seals its will (``offline``) when it connects, so the will carries a lower
        number than the ``online`` status that follows it; that status announces the will's
        number, and exactly that number is accepted once for an ``offline`` message.
        """
        if online:
            accepted = self.accept(sender, "status", seq)
            if accepted and will_seq is not None:
                self._remember(sender, "will", will_seq)
            return accepted
        if self._seen.get((sender, "will")) == seq:
            self._remember(sender, "will", -1)
            return True
        return self.accept(sender, "status", seq)

    def _remember(self, sender: str, stream: str, seq: int) -> None:
        with self._lock:
            self._seen[(sender, stream)] = seq
            if self._conn is not None:
                self._conn.execute(
                    "INSERT INTO seen (sender, stream, seq) VALUES (?, ?, ?) "
                    "ON CONFLICT (sender, stream) DO UPDATE SET seq = excluded.seq",
                    (sender, stream, seq))

    def close(self) -> None:
        """Close the backing file (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Counter:
    """A persisted, strictly increasing counter for one sender's outgoing messages.

    Numbers are reserved in blocks so a busy sender writes to disk once per ``block``
    messages; after a crash the unused rest of a block is skipped, never reused.
    """

    def __init__(self, path: Path | str, *, name: str = "seq", block: int = 1000) -> None:
        self._conn = sqlite.connect(path)
        self._conn.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, "
                           "reserved INTEGER NOT NULL)")
        row = self._conn.execute("SELECT reserved FROM counters WHERE name = ?", (name,)).fetchone()
        self._name, self._block = name, block
        self._next = (row[0] if row else 0) + 1
        self._reserved = self._next - 1
        self._lock = threading.Lock()

    def next(self) -> int:
        """The next number; never returned before, even across restarts."""
        with self._lock:
            if self._next > self._reserved:
                self._reserved = self._next + self._block - 1
                self._conn.execute(
                    "INSERT INTO counters (name, reserved) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET reserved = excluded.reserved",
                    (self._name, self._reserved))
            value = self._next
            self._next += 1
            return value

    def close(self) -> None:
        """Close the backing file (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
