"""SQLite connections tuned for durability (shared by the outbox and the replay guard)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


class StoreError(RuntimeError):
    """A local store that cannot be opened or is damaged; the file is left as it was."""


def connect(path: Path | str) -> sqlite3.Connection:
    """Open ``path`` in WAL mode with ``synchronous=FULL``: a committed row survives power loss."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        result = conn.execute("PRAGMA quick_check").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a usable SQLite database ({exc}); "
                         "the file was kept for inspection") from None
    if result is None or result[0] != "ok":
        conn.close()
        raise StoreError(f"{path}: integrity check failed ({result}); the file was kept")
    return conn
