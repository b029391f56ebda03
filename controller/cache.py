"""The local credential cache: the device's ACL on SQLite (WAL), indexed in memory.

What the hub sends on ``hub/<device>/acl`` lands here: snapshots (in chunks, staged on disk
and swapped in with ONE transaction once every chunk has arrived, so a snapshot that stops
halfway leaves the old cache as it was) and deltas (applied only on top of the version they
start from; revocations are committed first, on their own, so a card stops working even if
the rest of a large delta fails). Cards are keyed by the HMAC hex of their UID, never the raw
UID. The holder's name is not kept: the door needs only the staff id.

At start every credential is loaded into a dict (a lookup never touches the disk); a file
that is not a healthy cache stops the start with :class:`CacheCorrupt` and is left in place.

Threads: what decisions read is one :class:`LiveAcl` object, replaced whole when a snapshot
or a delta lands, so a decision taken on :meth:`AclCache.view` sees one version throughout
while another thread applies the next one. Every use of the SQLite file is under one lock.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from controller.policy import Credential, Group, Holiday, Pin, group_from, holiday_from
from link import sqlite as link_sqlite
from link.messages import AclCredential, AclDelta, AclDoor, AclGroup, AclHoliday, AclSnapshot

log = logging.getLogger("gatehouse.controller.cache")

SCHEMA_VERSION = 1
_UTC_ZONE = ZoneInfo("UTC")

_COLUMNS = ("cred, holder, holder_status, status, groups, escort_required, can_escort, "
            "pin_salt, pin_hash, pin_iterations")
_TABLE = """(
    cred TEXT PRIMARY KEY, holder TEXT NOT NULL, holder_status TEXT NOT NULL,
    status TEXT NOT NULL, groups TEXT NOT NULL, escort_required INTEGER NOT NULL,
    can_escort INTEGER NOT NULL, pin_salt TEXT, pin_hash TEXT, pin_iterations INTEGER
) WITHOUT ROWID"""


class CacheCorrupt(RuntimeError):
    """The cache file is damaged or not a cache; it was left in place for inspection."""


@dataclass(frozen=True)
class ApplyResult:
    """What became of one ACL message."""

    outcome: Literal["applied", "staged", "current", "ignored", "resync", "refused"]
    version: int | None
    reason: str = ""


#: what an access group may be called (AclGroup.group); other names can match no group
_GROUP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _row(c: AclCredential) -> tuple:
    pin = c.pin
    # A credential naming a group no AclGroup could be called is kept without that name:
    # it could never open a door, and it must not break the packed record.
    groups = ",".join(g for g in c.groups if _GROUP_NAME.match(g))
    return (c.cred, c.holder, c.holder_status, c.status, groups,
            int(c.escort_required), int(c.can_escort),
            pin.salt if pin else None, pin.hash if pin else None,
            pin.iterations if pin else None)


#: Thousands of cards share a handful of group lists: one tuple of each (bounded by the ACL).
_GROUP_TUPLES: dict[str, tuple[str, ...]] = {}


def _groups_tuple(text: str) -> tuple[str, ...]:
    found = _GROUP_TUPLES.get(text)
    if found is None:
        if len(_GROUP_TUPLES) > 10_000:
            _GROUP_TUPLES.clear()
        found = tuple(sys.intern(g) for g in text.split(",") if g)
        _GROUP_TUPLES[text] = found
    return found


@dataclass(frozen=True, slots=True)
class LiveAcl:
    """One version of the ACL as decisions read it (an :class:`controller.policy.AclView`)."""

    version: int | None = None
    building: str | None = None
    tz: ZoneInfo = _UTC_ZONE
    lockdown: bool = False
    last_sync_at: datetime | None = None
    doors: dict[str, AclDoor] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    holidays: dict[date, tuple[Holiday, ...]] = field(default_factory=dict)
    wire: tuple[tuple[AclDoor, ...], tuple[AclGroup, ...], tuple[AclHoliday, ...]] = ((), (), ())
    #: 32-byte HMAC -> packed record; changed in place only by the thread applying ACLs
    creds: dict[bytes, bytes] = field(default_factory=dict)

    def door(self, door: str) -> AclDoor | None:
        """A door's rules."""
        return self.doors.get(door)

    def group(self, group: str) -> Group | None:
        """An access group."""
        return self.groups.get(group)

    def holidays_on(self, day: date) -> Sequence[Holiday]:
        """Holidays on a local date."""
        return self.holidays.get(day, ())

    def credential(self, cred: str) -> Credential | None:
        """A card by its HMAC hex (from memory)."""
        try:
            packed = self.creds.get(bytes.fromhex(cred))
        except ValueError:
            return None
        if packed is None:
            return None
        holder, holder_status, status, groups, flags, salt, hsh, iters = (
            packed.decode("ascii").split(_SEP))
        pin = Pin(salt, hsh, int(iters)) if salt else None
        return Credential(cred, holder, holder_status, status, _groups_tuple(groups),
                          flags[0] == "1", flags[1] == "1", pin)


def _rules(doors: Sequence[AclDoor], groups: Sequence[AclGroup],
           holidays: Sequence[AclHoliday]) -> dict:
    by_day: dict[date, list[Holiday]] = {}
    for h in holidays:
        hol = holiday_from(h)
        by_day.setdefault(hol.day, []).append(hol)
    return {"doors": {d.door: d for d in doors},
            "groups": {g.group: group_from(g) for g in groups},
            "holidays": {day: tuple(items) for day, items in by_day.items()},
            "wire": (tuple(doors), tuple(groups), tuple(holidays))}


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


class AclCache:
    """The device's ACL; also the :class:`controller.policy.AclView` the policy reads."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            self._conn = link_sqlite.connect(self.path)
        except link_sqlite.StoreError as exc:
            raise CacheCorrupt(f"credential cache {exc}. Move it aside to start with an "
                               "empty cache (the controller will ask the hub for a snapshot)"
                               ) from None
        try:
            self._init_schema()
            self._load()
        except (sqlite3.DatabaseError, ValueError, KeyError, TypeError) as exc:
            self._conn.close()
            raise CacheCorrupt(f"credential cache {self.path}: unreadable contents ({exc}); "
                               "the file was kept for inspection") from None

    # ------------------------------------------------------------------ opening
    def _init_schema(self) -> None:
        self._conn.executescript(
            f"""
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS credentials {_TABLE};
            CREATE TABLE IF NOT EXISTS staging {_TABLE};
            """)
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None:
            self._conn.execute("INSERT INTO meta (key, value) VALUES ('schema', ?)",
                               (str(SCHEMA_VERSION),))
        elif row[0] != str(SCHEMA_VERSION):
            raise ValueError(f"schema {row[0]!r}, this controller reads {SCHEMA_VERSION}")

    def _meta(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT key, value FROM meta").fetchall())

    def _load(self) -> None:
        meta = self._meta()
        self._live = LiveAcl(
            version=int(meta["version"]) if "version" in meta else None,
            building=meta.get("building"),
            tz=_zone(meta["tz"]) if "tz" in meta else _UTC_ZONE,
            lockdown=meta.get("lockdown") == "1",
            last_sync_at=(datetime.fromisoformat(meta["last_sync_at"])
                          if "last_sync_at" in meta else None),
            creds=self._read_all(),
            **_rules([AclDoor.model_validate(d) for d in json.loads(meta.get("doors", "[]"))],
                     [AclGroup.model_validate(g) for g in json.loads(meta.get("groups", "[]"))],
                     [AclHoliday.model_validate(h)
                      for h in json.loads(meta.get("holidays", "[]"))]))

    def _read_all(self) -> dict[bytes, bytes]:
        # NOTE: 100,000 cards must fit the Pi's memory budget (80 MB for the whole service),
        # so each is kept as raw 32-byte key -> one packed ASCII record, unpacked per lookup.
        creds = {bytes.fromhex(row[0]): _pack(row)
                 for row in self._conn.execute(f"SELECT {_COLUMNS} FROM credentials")}
        self._conn.execute("PRAGMA shrink_memory")  # the page cache is not needed after loading
        return creds

    # ------------------------------------------------------------------ AclView
    def view(self) -> LiveAcl:
        """The ACL in force, as one object that later changes do not touch."""
        return self._live

    @property
    def tz(self) -> ZoneInfo:
        """The building's zone (UTC before the first snapshot)."""
        return self._live.tz

    @property
    def lockdown(self) -> bool:
        """True while the ACL says a lockdown is in force."""
        return self._live.lockdown

    @property
    def last_sync_at(self) -> datetime | None:
        """UTC time of the last successful sync, None if never."""
        return self._live.last_sync_at

    @property
    def version(self) -> int | None:
        """The ACL version in force, None before the first snapshot."""
        return self._live.version

    @property
    def building(self) -> str | None:
        """The building this ACL belongs to."""
        return self._live.building

    def door(self, door: str) -> AclDoor | None:
        """A door's rules."""
        return self._live.door(door)

    def doors(self) -> list[AclDoor]:
        """Every door in the ACL."""
        return list(self._live.doors.values())

    def group(self, group: str) -> Group | None:
        """An access group."""
        return self._live.group(group)

    def holidays_on(self, day: date) -> Sequence[Holiday]:
        """Holidays on a local date."""
        return self._live.holidays_on(day)

    def credential(self, cred: str) -> Credential | None:
        """A card by its HMAC hex (from memory)."""
        return self._live.credential(cred)

    def __len__(self) -> int:
        return len(self._live.creds)

    # ------------------------------------------------------------------ writing
    def _tx(self):
        return _Transaction(self._conn)

    def _put_meta(self, items: dict[str, str]) -> None:
        self._conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value", list(items.items()))

    def apply_snapshot(self, snap: AclSnapshot, now: datetime) -> ApplyResult:
        """Stage one chunk; when the last one arrives, swap the whole ACL in one transaction."""
        with self._lock:
            return self._apply_snapshot(snap, now)

    def _apply_snapshot(self, snap: AclSnapshot, now: datetime) -> ApplyResult:
        version = self._live.version
        if version is not None and snap.version < version:
            return ApplyResult("refused", version,
                               f"snapshot {snap.version} is older than {version}")
        try:
            _zone(snap.tz)
        except ValueError as exc:
            return ApplyResult("refused", version, str(exc))
        if snap.version == version:
            # The hub answers a resync with a full snapshot even when nothing changed: the
            # same version is the same content, so only the sync time moves (on the last chunk).
            if snap.chunk == snap.chunks - 1:
                self.touch_sync(now)
                return ApplyResult("current", version)
            return ApplyResult("ignored", version, "version already in force")
        meta = self._meta()
        header = {"version": snap.version, "chunks": snap.chunks, "building": snap.building,
                  "tz": snap.tz, "lockdown": snap.lockdown}
        staged = json.loads(meta.get("staging", "null"))
        try:
            with self._tx():
                if staged is None or staged["header"] != header:
                    if staged is not None:
                        log.info("snapshot staging restarted old=%s new=%s",
                                 staged["header"]["version"], snap.version)
                    self._conn.execute("DELETE FROM staging")
                    staged = {"header": header, "got": [], "doors": [], "groups": [],
                              "holidays": []}
                if snap.chunk in staged["got"]:
                    return ApplyResult("ignored", version,
                                       f"chunk {snap.chunk} already staged")
                self._conn.executemany(
                    f"INSERT OR REPLACE INTO staging ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    [_row(c) for c in snap.credentials])
                staged["got"].append(snap.chunk)
                staged["doors"] += [d.model_dump(mode="json") for d in snap.doors]
                staged["groups"] += [g.model_dump(mode="json") for g in snap.groups]
                staged["holidays"] += [h.model_dump(mode="json") for h in snap.holidays]
                self._put_meta({"staging": json.dumps(staged)})
        except sqlite3.OperationalError as exc:
            log.error("snapshot chunk not staged version=%s chunk=%s error=%s",
                      snap.version, snap.chunk, exc)
            return ApplyResult("refused", version, f"staging failed: {exc}")
        if len(staged["got"]) < snap.chunks:
            return ApplyResult("staged", version,
                               f"chunk {snap.chunk + 1} of {snap.chunks}")
        return self._swap_in(staged, now)

    def _swap_in(self, staged: dict, now: datetime) -> ApplyResult:
        header = staged["header"]
        doors = [AclDoor.model_validate(d) for d in staged["doors"]]
        groups = [AclGroup.model_validate(g) for g in staged["groups"]]
        holidays = [AclHoliday.model_validate(h) for h in staged["holidays"]]
        try:
            with self._tx():
                self._conn.execute("DELETE FROM credentials")
                self._conn.execute(f"INSERT INTO credentials ({_COLUMNS}) "
                                   f"SELECT {_COLUMNS} FROM staging")
                self._conn.execute("DELETE FROM staging")
                self._conn.execute("DELETE FROM meta WHERE key = 'staging'")
                self._put_meta({
                    "version": str(header["version"]), "building": header["building"],
                    "tz": header["tz"], "lockdown": "1" if header["lockdown"] else "0",
                    "doors": json.dumps(staged["doors"]),
                    "groups": json.dumps(staged["groups"]),
                    "holidays": json.dumps(staged["holidays"]),
                    "last_sync_at": now.isoformat()})
        except sqlite3.OperationalError as exc:
            log.error("snapshot apply failed version=%s error=%s; old ACL kept",
                      header["version"], exc)
            return ApplyResult("refused", self._live.version, f"apply failed: {exc}")
        self._live = LiveAcl(version=header["version"], building=header["building"],
                             tz=_zone(header["tz"]), lockdown=bool(header["lockdown"]),
                             last_sync_at=now, creds=self._read_all(),
                             **_rules(doors, groups, holidays))
        return ApplyResult("applied", self._live.version)

    def apply_delta(self, delta: AclDelta, now: datetime) -> ApplyResult:
        """Apply a delta on top of ``from_version``; a gap asks for a snapshot."""
        with self._lock:
            return self._apply_delta(delta, now)

    def _apply_delta(self, delta: AclDelta, now: datetime) -> ApplyResult:
        current = self._live.version
        if current is None:
            return ApplyResult("resync", None, "no snapshot yet")
        if delta.to_version < delta.from_version:
            return ApplyResult("refused", current,
                               f"delta goes backwards {delta.from_version}->{delta.to_version}")
        if delta.from_version == current and delta.to_version == current:
            if _is_empty(delta):
                # The hub's "you are current": the sync succeeded, nothing to change.
                self.touch_sync(now)
                return ApplyResult("current", current)
            return ApplyResult("refused", current, "changes without a new version")
        if delta.to_version <= current:
            return ApplyResult("ignored", current,
                               f"delta to {delta.to_version} is not newer than {current}")
        if delta.from_version != current:
            return ApplyResult("resync", current,
                               f"gap: have {current}, delta starts at {delta.from_version}")
        revoked = set(delta.revoke)
        only_revokes = _is_empty(delta.model_copy(update={"revoke": []}))
        if only_revokes:
            # The common case (a termination): one transaction, one fsync.
            try:
                with self._tx():
                    self._revoke_rows(revoked)
                    self._put_meta({"version": str(delta.to_version),
                                    "last_sync_at": now.isoformat()})
            except sqlite3.OperationalError as exc:
                # NOTE: fail secure in memory: the cards stop opening doors at once, even
                # though the disk refused; the resync that follows writes them down.
                self._revoke_in_memory(revoked)
                log.error("revocation not stored to=%s error=%s", delta.to_version, exc)
                return ApplyResult("refused", current, f"apply failed: {exc}")
            self._revoke_in_memory(revoked)
            self._live = replace(self._live, version=delta.to_version, last_sync_at=now)
            return ApplyResult("applied", delta.to_version)
        # Revocations first, committed on their own: a terminated employee's card stops
        # working even if the rest of this delta cannot be applied.
        if revoked:
            self._revoke_in_memory(revoked)
            try:
                with self._tx():
                    self._revoke_rows(revoked)
            except sqlite3.OperationalError as exc:
                log.error("revocation not stored to=%s error=%s", delta.to_version, exc)
                return ApplyResult("refused", current, f"apply failed: {exc}")
        upserts = [c for c in delta.credentials if c.cred not in revoked]
        doors, groups, holidays = self._live.wire
        new_doors = delta.doors if delta.doors is not None else doors
        new_groups = delta.groups if delta.groups is not None else groups
        new_holidays = delta.holidays if delta.holidays is not None else holidays
        lockdown = self._live.lockdown if delta.lockdown is None else delta.lockdown
        try:
            with self._tx():
                self._conn.executemany("DELETE FROM credentials WHERE cred = ?",
                                       [(c,) for c in delta.remove])
                self._conn.executemany(
                    f"INSERT OR REPLACE INTO credentials ({_COLUMNS}) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?)", [_row(c) for c in upserts])
                items = {"version": str(delta.to_version), "last_sync_at": now.isoformat(),
                         "lockdown": "1" if lockdown else "0"}
                if delta.doors is not None:
                    items["doors"] = json.dumps([d.model_dump(mode="json") for d in new_doors])
                if delta.groups is not None:
                    items["groups"] = json.dumps([g.model_dump(mode="json") for g in new_groups])
                if delta.holidays is not None:
                    items["holidays"] = json.dumps(
                        [h.model_dump(mode="json") for h in new_holidays])
                self._put_meta(items)
        except sqlite3.OperationalError as exc:
            log.error("delta apply failed to=%s error=%s; revocations kept", delta.to_version, exc)
            return ApplyResult("refused", current, f"apply failed: {exc}")
        creds = self._live.creds
        for c in delta.remove:
            creds.pop(bytes.fromhex(c), None)
        for c in upserts:
            creds[bytes.fromhex(c.cred)] = _pack(_row(c))
        changes: dict = {"version": delta.to_version, "last_sync_at": now, "lockdown": lockdown}
        if delta.doors is not None or delta.groups is not None or delta.holidays is not None:
            changes.update(_rules(new_doors, new_groups, new_holidays))
        self._live = replace(self._live, **changes)
        return ApplyResult("applied", delta.to_version)

    def _revoke_rows(self, revoked: set[str]) -> None:
        self._conn.executemany("UPDATE credentials SET status = 'revoked' WHERE cred = ?",
                               [(c,) for c in revoked])

    def _revoke_in_memory(self, revoked: set[str]) -> None:
        creds = self._live.creds
        for c in revoked:
            key = bytes.fromhex(c)
            packed = creds.get(key)
            if packed is not None:
                creds[key] = _with_status(packed, "revoked")

    def touch_sync(self, now: datetime) -> None:
        """Record a successful sync that changed nothing (the hub confirmed our version)."""
        with self._lock:
            with self._tx():
                self._put_meta({"last_sync_at": now.isoformat()})
            self._live = replace(self._live, last_sync_at=now)

    def set_lockdown(self, active: bool) -> None:
        """Record a lockdown broadcast until the next ACL version says otherwise."""
        with self._lock:
            with self._tx():
                self._put_meta({"lockdown": "1" if active else "0"})
            self._live = replace(self._live, lockdown=active)

    # ------------------------------------------------------------------ the clock's anchor
    def last_trusted_time(self) -> datetime | None:
        """The latest time this device knew to be right (persisted across reboots)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT value FROM meta WHERE key = 'last_trusted_at'").fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def save_trusted_time(self, now: datetime) -> None:
        """Remember ``now`` as a trusted time (only ever moves forward)."""
        with self._lock:
            last = self.last_trusted_time()
            if last is not None and now <= last:
                return
            with self._tx():
                self._put_meta({"last_trusted_at": now.isoformat()})

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None  # type: ignore[assignment]

    def __enter__(self) -> "AclCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_SEP = "\x1f"


def _pack(row: tuple) -> bytes:
    """One credential row as compact ASCII (fields split by the ASCII unit separator).

    Every field is ASCII by the message schema (staff ids, status words, group names, hex).
    """
    _cred, holder, holder_status, status, groups, escort, can_escort, salt, hsh, iters = row
    return _SEP.join((holder, holder_status, status, groups, f"{int(escort)}{int(can_escort)}",
                      salt or "", hsh or "", str(iters or 0))).encode("ascii")


def _with_status(packed: bytes, status: str) -> bytes:
    parts = packed.decode("ascii").split(_SEP)
    parts[2] = status
    return _SEP.join(parts).encode("ascii")


def _is_empty(delta: AclDelta) -> bool:
    return (not delta.revoke and not delta.credentials and not delta.remove
            and delta.doors is None and delta.groups is None and delta.holidays is None
            and delta.lockdown is None)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self._conn.execute("COMMIT")
        else:
            self._conn.execute("ROLLBACK")
