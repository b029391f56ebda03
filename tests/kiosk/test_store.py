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


def test_photo_kept_while_open_and_token_only_while_held(tmp_path) -> None:
    store = KioskStore(tmp_path / "kiosk.db")
    common = dict(first="Ana", last="Souza", category="visitor", host="", signed_in_at=T0, expires_at=None,
                  offline=False)
    photo = b"\xff\xd8" + b"PHOTO-BYTES-" * 1500  # ~18 KB: overflow pages, as a real photo
    store.add_visit(visit="v-onsite01", token="a" * 24, state="on_site", photo=photo, **common)
    store.add_visit(visit="v-held0001", token="b" * 24, state="held", photo=photo, **common)
    store.add_visit(visit="v-nophoto1", token="c" * 24, state="on_site", **common)
    assert store.photos(["v-onsite01", "v-held0001", "v-nophoto1"]) == {"v-onsite01": photo, "v-held0001": photo}
    assert store.photos([]) == {}
    assert store.held_token("v-onsite01") is None and store.held_token("v-held0001") == "b" * 24
    store.admitted("v-held0001", "Dana Rivera", T0 + timedelta(hours=2))
    admitted = store.get("v-held0001")
    assert (admitted.state, admitted.host, store.held_token("v-held0001")) == ("on_site", "Dana Rivera", None)
    for visit in ("v-onsite01", "v-held0001", "v-nophoto1"):
        store.end(visit, "signed_out", T0)
    assert store.photos(["v-onsite01", "v-held0001"]) == {}
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("kiosk.db"))
    assert b"PHOTO-BYTES-" not in raw and b"b" * 24 not in raw  # overwritten, not merely unlinked


def test_pending_request_kept_until_answered_and_a_newer_press_survives_an_old_answer(tmp_path) -> None:
    store = KioskStore(tmp_path / "kiosk.db")
    assert store.get_pending("lockdown") is None
    assert store.put_pending("lockdown", {"n": 1}, T0) is True
    sent = store.get_pending("lockdown")
    assert sent == ({"n": 1}, T0)
    assert store.put_pending("lockdown", {"n": 2}, T0 + timedelta(seconds=5)) is False  # pressed again
    assert store.clear_pending("lockdown", sent[0]) is False  # the answer to press 1 does not clear press 2
    assert store.get_pending("lockdown") == ({"n": 2}, T0)  # the first time is kept
    assert store.clear_pending("lockdown", {"n": 2}) is True
    assert store.get_pending("lockdown") is None
    store.close()
