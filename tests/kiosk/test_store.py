"""The kiosk's roster and caches in SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kiosk.store import KioskStore

T0 = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)


def test_roster_round_trip(tmp_path) -> None:
    store = KioskStore(tmp_path / "kiosk.db")
    store.add_visit(visit="v-1234567", token="t" * 24, first="Ana", last="Souza", category="visitor", host="",
                    signed_in_at=T0, expires_at=T0 + timedelta(hours=8), state="on_site", offline=True)
    assert store.by_token("t" * 24).label == "Ana S."
    assert [v.visit for v in store.on_site()] == ["v-1234567"]
    store.end("v-1234567", "signed_out", T0)
    assert store.on_site() == []
    assert store.purge(T0 + timedelta(days=2)) == 1
    store.close()
    raw = (tmp_path / "kiosk.db").read_bytes()
    assert b"t" * 24 not in raw


def test_cache(tmp_path) -> None:
    store = KioskStore(tmp_path / "kiosk.db")
    assert store.get_cache("directory") is None
    store.put_cache("directory", {"version": 3}, T0)
    assert store.get_cache("directory") == ({"version": 3}, T0)
