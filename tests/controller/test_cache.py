"""The credential cache on real SQLite: snapshots, deltas, gaps, corruption, restarts."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from controller.cache import AclCache, CacheCorrupt
from link.messages import AclDoor, AclHoliday
from tests.controller.acl import credential, cred, delta, pin, snapshot

T0 = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def cache(tmp_path: Path):
    """An empty cache on a real file."""
    with AclCache(tmp_path / "acl.db") as c:
        yield c


def loaded(cache: AclCache, version: int = 1, n: int = 5) -> AclCache:
    """Load a snapshot of ``n`` cards into ``cache``."""
    creds = [credential(cred(i), f"S{i}") for i in range(n)]
    for part in snapshot(version, creds):
        result = cache.apply_snapshot(part, T0)
    assert result.outcome == "applied"
    return cache


def test_empty_cache_knows_nothing(cache: AclCache) -> None:
    """Before the first snapshot there is no version, no door, no card, no sync."""
    assert cache.version is None and cache.door("rr-1") is None
    assert cache.credential(cred(1)) is None and cache.last_sync_at is None


def test_snapshot_in_chunks_applies_when_complete(cache: AclCache) -> None:
    """Chunks are staged until the last one arrives, then swapped in together."""
    creds = [credential(cred(i), f"S{i}") for i in range(10)]
    parts = snapshot(3, creds, chunks=3)
    assert cache.apply_snapshot(parts[2], T0).outcome == "staged"
    assert cache.apply_snapshot(parts[0], T0).outcome == "staged"
    assert cache.credential(cred(0)) is None and cache.version is None
    assert cache.apply_snapshot(parts[0], T0).outcome == "ignored"
    result = cache.apply_snapshot(parts[1], T0 + timedelta(seconds=1))
    assert (result.outcome, result.version) == ("applied", 3)
    assert len(cache) == 10 and cache.credential(cred(7)).holder == "S7"
    assert cache.door("rr-2").mode == "card_pin" and cache.group("staff") is not None
    assert cache.last_sync_at == T0 + timedelta(seconds=1)
    assert cache.building == "test-school" and str(cache.tz) == "America/New_York"


def test_snapshot_replaces_everything(cache: AclCache) -> None:
    """A new snapshot drops cards the old one had."""
    loaded(cache, 1, n=5)
    for part in snapshot(2, [credential(cred(100), "S100")]):
        cache.apply_snapshot(part, T0)
    assert cache.version == 2 and len(cache) == 1 and cache.credential(cred(1)) is None


def test_older_snapshot_refused(cache: AclCache) -> None:
    """A snapshot older than the version in force is refused."""
    loaded(cache, 5)
    result = cache.apply_snapshot(snapshot(4, [])[0], T0)
    assert result.outcome == "refused" and cache.version == 5 and len(cache) == 5


def test_bad_time_zone_refused(cache: AclCache) -> None:
    """A snapshot naming a zone this Pi does not know is refused."""
    part = snapshot(1, [])[0].model_copy(update={"tz": "Mars/Olympus_Mons"})
    assert cache.apply_snapshot(part, T0).outcome == "refused"


def test_snapshot_stopping_halfway_keeps_old_cache(tmp_path: Path) -> None:
    """Half a snapshot, then a restart: the old ACL is intact; a new version restarts staging."""
    path = tmp_path / "acl.db"
    with AclCache(path) as cache:
        loaded(cache, 1)
        parts = snapshot(2, [credential(cred(50 + i), f"N{i}") for i in range(6)], chunks=3)
        cache.apply_snapshot(parts[0], T0)
        cache.apply_snapshot(parts[1], T0)
    with AclCache(path) as cache:
        assert cache.version == 1 and cache.credential(cred(1)) is not None
        assert cache.credential(cred(50)) is None
        # the staged chunks survived the restart; the last one completes version 2
        assert cache.apply_snapshot(parts[2], T0).outcome == "applied"
        assert cache.version == 2 and len(cache) == 6
        # a chunk of another version discards what was staged
        other = snapshot(4, [credential(cred(90 + i), f"M{i}") for i in range(4)], chunks=2)
        cache.apply_snapshot(snapshot(3, [credential(cred(80), "X")], chunks=2)[0], T0)
        assert cache.apply_snapshot(other[0], T0).outcome == "staged"
        assert cache.apply_snapshot(other[1], T0).outcome == "applied"
        assert cache.version == 4 and len(cache) == 4 and cache.credential(cred(80)) is None


def test_snapshot_failing_inside_its_transaction_keeps_old_cache(cache: AclCache) -> None:
    """SQLite aborting the swap (interrupted mid-statement) leaves disk and memory as they were."""
    loaded(cache, 1, n=50)
    parts = snapshot(2, [credential(cred(500 + i), f"N{i}") for i in range(2000)], chunks=2)
    parts[1] = parts[1].model_copy(update={"credentials": []})
    assert cache.apply_snapshot(parts[0], T0).outcome == "staged"
    calls = {"n": 0}

    def interrupt() -> int:
        calls["n"] += 1
        return 1 if calls["n"] > 20 else 0

    cache._conn.set_progress_handler(interrupt, 100)
    result = cache.apply_snapshot(parts[1], T0)
    cache._conn.set_progress_handler(None, 0)
    assert result.outcome == "refused" and "apply failed" in result.reason
    assert cache.version == 1 and len(cache) == 50 and cache.credential(cred(502)) is None
    count = cache._conn.execute("SELECT COUNT(*) FROM credentials").fetchone()[0]
    assert count == 50


def test_delta_applies_revocations_first(cache: AclCache) -> None:
    """Revoke wins over an upsert of the same card in one delta."""
    loaded(cache, 1)
    d = delta(1, 2, revoke=[cred(1)], remove=[cred(2)],
              credentials=[credential(cred(1), "S1"), credential(cred(9), "S9", pin=pin("1234"))])
    result = cache.apply_delta(d, T0 + timedelta(minutes=1))
    assert (result.outcome, result.version) == ("applied", 2)
    assert cache.credential(cred(1)).status == "revoked"
    assert cache.credential(cred(2)) is None
    assert cache.credential(cred(9)).pin.iterations == 1000
    assert cache.last_sync_at == T0 + timedelta(minutes=1)


def test_delta_survives_restart(tmp_path: Path) -> None:
    """What a delta changed is on disk."""
    path = tmp_path / "acl.db"
    with AclCache(path) as cache:
        loaded(cache, 1)
        cache.apply_delta(delta(1, 2, revoke=[cred(3)], lockdown=True,
                                holidays=[AclHoliday(date="2026-12-25")]), T0)
    with AclCache(path) as cache:
        assert cache.version == 2 and cache.lockdown
        assert cache.credential(cred(3)).status == "revoked"
        assert len(cache.holidays_on(date(2026, 12, 25))) == 1


def test_delta_replaces_rules(cache: AclCache) -> None:
    """Doors, groups and holidays in a delta replace the lists in force."""
    loaded(cache, 1)
    cache.apply_delta(delta(1, 2, doors=[AclDoor(door="rr-3", name="New", kind="office")]), T0)
    assert cache.door("rr-1") is None and cache.door("rr-3").kind == "office"
    assert cache.group("staff") is not None


@pytest.mark.parametrize("frm, to, outcome", [
    (1, 3, "applied"),
    (2, 3, "resync"),
    (0, 1, "ignored"),
    (0, 3, "resync"),
    (1, 0, "refused"),
])
def test_delta_versions(cache: AclCache, frm: int, to: int, outcome: str) -> None:
    """Only a delta starting at the version in force applies; a gap asks for a snapshot."""
    loaded(cache, 1)
    result = cache.apply_delta(delta(frm, to, revoke=[cred(1)]), T0)
    assert result.outcome == outcome
    assert (cache.credential(cred(1)).status == "revoked") == (outcome == "applied")


def test_delta_before_any_snapshot_asks_for_one(cache: AclCache) -> None:
    """With no snapshot there is nothing to apply a delta to."""
    assert cache.apply_delta(delta(0, 1), T0).outcome == "resync"


def test_empty_delta_at_current_version_is_a_sync(cache: AclCache) -> None:
    """The hub's 'you are current' refreshes the sync time and nothing else."""
    loaded(cache, 4)
    later = T0 + timedelta(hours=30)
    result = cache.apply_delta(delta(4, 4), later)
    assert result.outcome == "current" and cache.last_sync_at == later
    refused = cache.apply_delta(delta(4, 4, revoke=[cred(1)]), later)
    assert refused.outcome == "refused"


def test_corrupt_file_refuses_to_start_and_is_kept(tmp_path: Path) -> None:
    """A file that is not SQLite stops the start with a clear message; the bytes stay."""
    path = tmp_path / "acl.db"
    junk = b"this is not a database" * 200
    path.write_bytes(junk)
    with pytest.raises(CacheCorrupt, match="kept"):
        AclCache(path)
    assert path.read_bytes() == junk


def test_damaged_pages_refuse_to_start(tmp_path: Path) -> None:
    """A cache whose pages were overwritten fails its integrity check and is kept."""
    path = tmp_path / "acl.db"
    with AclCache(path) as cache:
        loaded(cache, 1, n=3000)
        cache._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    for offset in range(8192, min(len(data), 8192 * 6), 4096):
        data[offset:offset + 200] = b"\xff" * 200
    path.write_bytes(bytes(data))
    with pytest.raises(CacheCorrupt):
        AclCache(path)
    assert path.read_bytes() == bytes(data)


def test_foreign_database_refused(tmp_path: Path) -> None:
    """A SQLite file from something else (wrong schema) is refused, not rewritten."""
    path = tmp_path / "acl.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("INSERT INTO meta VALUES ('schema', '99')")
    conn.commit()
    conn.close()
    with pytest.raises(CacheCorrupt, match="schema"):
        AclCache(path)


def test_trusted_time_only_moves_forward(cache: AclCache) -> None:
    """The clock's anchor is persisted and never goes back."""
    assert cache.last_trusted_time() is None
    cache.save_trusted_time(T0)
    cache.save_trusted_time(T0 - timedelta(days=1))
    assert cache.last_trusted_time() == T0


def test_lockdown_broadcast_recorded(cache: AclCache) -> None:
    """A lockdown broadcast holds until the ACL says otherwise."""
    loaded(cache, 1)
    cache.set_lockdown(True)
    assert cache.lockdown
    cache.apply_delta(delta(1, 2, lockdown=False), T0)
    assert not cache.lockdown


def test_holidays_indexed_by_local_day(cache: AclCache) -> None:
    """Holidays are looked up by the building's local date."""
    loaded(cache, 1)
    cache.apply_delta(delta(1, 2, holidays=[AclHoliday(date="2026-07-04", groups=["staff"])]), T0)
    (h,) = cache.holidays_on(date(2026, 7, 4))
    assert h.closes("staff") and not h.closes("allday")


def test_revocation_refused_by_disk_still_revokes_in_memory(cache: AclCache) -> None:
    """If SQLite refuses a revocation, the card stops working anyway and a resync follows."""
    loaded(cache, 1)
    cache._conn.set_progress_handler(lambda: 1, 1)
    result = cache.apply_delta(delta(1, 2, revoke=[cred(1)]), T0)
    cache._conn.set_progress_handler(None, 0)
    assert result.outcome == "refused" and "apply failed" in result.reason
    assert cache.credential(cred(1)).status == "revoked" and cache.version == 1


def test_revocation_only_delta_is_one_transaction(cache: AclCache) -> None:
    """A delta of revocations alone moves the version with them."""
    loaded(cache, 1)
    result = cache.apply_delta(delta(1, 2, revoke=[cred(1), cred(2)]), T0)
    assert (result.outcome, cache.version) == ("applied", 2)
    rows = cache._conn.execute("SELECT COUNT(*) FROM credentials WHERE status = 'revoked'")
    assert rows.fetchone()[0] == 2


def test_same_version_snapshot_only_refreshes_sync(cache: AclCache) -> None:
    """The hub's full answer to a resync at the version in force changes nothing but the sync."""
    loaded(cache, 3, n=4)
    cache.apply_delta(delta(3, 3), T0)  # sanity: still 3
    later = T0 + timedelta(hours=5)
    parts = snapshot(3, [credential(cred(77), "X")], chunks=2)
    assert cache.apply_snapshot(parts[0], later).outcome == "ignored"
    assert cache.last_sync_at == T0
    assert cache.apply_snapshot(parts[1], later).outcome == "current"
    assert cache.last_sync_at == later and len(cache) == 4 and cache.credential(cred(77)) is None


def test_odd_group_names_in_a_credential_are_dropped(cache: AclCache) -> None:
    """Group names no access group may carry (commas, non-ASCII) cannot break the record."""
    creds = [credential(cred(1), "S1", groups=["allday", "a,b", "ünï", "x\x1fy"])]
    for part in snapshot(1, creds):
        assert cache.apply_snapshot(part, T0).outcome == "applied"
    assert cache.credential(cred(1)).groups == ("allday",)
