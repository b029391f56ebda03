"""Outbox, replay guard and counter: durable across reopen, strict about order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from link.outbox import Outbox
from link.sequence import Counter, ReplayGuard
from link.sqlite import StoreError


def test_outbox_order_ack_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    with Outbox(path) as box:
        seqs = [box.add("t/a", lambda n, i=i: f"event {i} seq {n}".encode()) for i in range(5)]
        assert seqs == [1, 2, 3, 4, 5]
        assert box.ack(2) == 2
        extra = box.next_seq()
    with Outbox(path) as box:
        assert [e.seq for e in box.pending()] == [3, 4, 5]
        assert box.pending()[0].payload == b"event 2 seq 3"
        assert box.depth() == 3
        assert box.add("t/a", lambda n: b"x") == extra + 1
        assert box.ack(100) == 4
        assert box.depth() == 0


def test_failed_payload_leaves_nothing(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db") as box:
        def boom(seq: int) -> bytes:
            raise RuntimeError("signer failed")
        with pytest.raises(RuntimeError):
            box.add("t", boom)
        assert box.depth() == 0
        assert box.add("t", lambda n: b"ok") == 1


def test_outbox_survives_a_killed_process(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    script = (f"from link.outbox import Outbox\nimport os\nb = Outbox({str(path)!r})\n"
              "for i in range(50): b.add('t', lambda n: b'e%d' % n)\nos._exit(9)\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parents[2])
    assert proc.returncode == 9
    with Outbox(path) as box:
        assert [e.seq for e in box.pending()] == list(range(1, 51))


def test_corrupt_store_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError) as err:
        Outbox(path)
    assert "kept" in str(err.value)
    assert path.read_bytes().startswith(b"this is not sqlite")


def test_replay_guard(tmp_path: Path) -> None:
    guard = ReplayGuard(tmp_path / "r.db")
    assert guard.accept("hub", "acl", 5)
    assert not guard.accept("hub", "acl", 5)
    assert not guard.accept("hub", "acl", 4)
    assert guard.accept("hub", "resp", 1)
    assert guard.accept("hub", "acl", 9)
    guard.close()
    again = ReplayGuard(tmp_path / "r.db")
    assert not again.accept("hub", "acl", 9)
    assert again.accept("hub", "acl", 10)


def test_status_guard_accepts_the_announced_will_once() -> None:
    guard = ReplayGuard()
    assert guard.accept_status("door-1", 11, online=True, will_seq=10)
    assert guard.accept_status("door-1", 10, online=False, will_seq=None)
    assert not guard.accept_status("door-1", 10, online=False, will_seq=None)
    assert not guard.accept_status("door-1", 9, online=False, will_seq=None)
    assert not guard.accept_status("door-1", 11, online=True, will_seq=10)


def test_counter_never_reuses(tmp_path: Path) -> None:
    counter = Counter(tmp_path / "c.db", block=10)
    first = [counter.next() for _ in range(15)]
    counter.close()
    counter = Counter(tmp_path / "c.db", block=10)
    assert counter.next() > first[-1]
    assert first == list(range(1, 16))
