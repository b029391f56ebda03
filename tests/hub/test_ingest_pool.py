"""Opening payloads in worker processes: same verdicts as inline, bad ones dropped, stored once."""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import threading
import time
from datetime import UTC, datetime

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from hub.bridge import Bridge, _Item
from hub.ingest_pool import OpenPool, SodiumKey, open_inline
from hub.models import Alert, Device, Event
from hub.services import buildings, devices
from link import canonical
from link import keys as link_keys
from link import messages as m
from link import topics
from link.client import BrokerConfig
from link.envelope import Signer, open_envelope
from tests.link.samples import SAMPLES

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()


def _seal(body: m.Body, seq: int, *, device: str = "ctl-1", key: Ed25519PrivateKey = KEY) -> bytes:
    return Signer(device, key).seal(body, seq=seq, now=NOW)


def _resign(payload: bytes, change, key: Ed25519PrivateKey = KEY) -> bytes:
    """The payload with ``change`` applied to its fields and a valid signature over the result."""
    data = json.loads(payload)
    change(data)
    unsigned = {k: v for k, v in data.items() if k != "sig"}
    data["sig"] = base64.b64encode(key.sign(canonical.dumps(unsigned))).decode()
    return json.dumps(data).encode()


def _tampered(payload: bytes) -> bytes:
    return payload.replace(b'"door":"door-1"', b'"door":"door-2"')


def _short_sig(payload: bytes) -> bytes:
    data = json.loads(payload)
    data["sig"] = base64.b64encode(base64.b64decode(data["sig"])[:63]).decode()
    return json.dumps(data).encode()


#: (payload, reason open_envelope gives) for faults of every stage of opening
BAD = [
    (_tampered(_seal(m.DoorOpened(door="door-1"), 1)), "bad_signature"),
    (_short_sig(_seal(m.DoorOpened(door="door-1"), 2)), "bad_signature"),
    (_seal(m.DoorOpened(door="door-1"), 3, key=OTHER), "bad_signature"),
    (_seal(m.DoorOpened(door="door-1"), 4, device="ctl-2"), "wrong_sender"),
    (b'{"v": 1, "v": 1}', "bad_json"),
    (b"\xff\xfe", "bad_json"),
    (_resign(_seal(m.DoorOpened(door="door-1"), 5), lambda d: d.update(type="door.nope")),
     "unknown_type"),
    (_resign(_seal(m.DoorOpened(door="door-1"), 6), lambda d: d["body"].pop("door")), "bad_body"),
    (_resign(_seal(m.DoorOpened(door="door-1"), 7), lambda d: d.update(v=2)), "bad_version"),
]


@pytest.mark.parametrize("type_name", sorted(SAMPLES))
def test_every_message_type_opens_to_what_open_envelope_gives(type_name: str) -> None:
    payload = _seal(SAMPLES[type_name], 9)
    expected = open_envelope(payload, {"ctl-1": KEY.public_key()}, expect_sender="ctl-1")
    assert open_inline([("ctl-1", payload, KEY.public_key())]) == [(expected, "")]
    assert expected.body == SAMPLES[type_name]


@pytest.mark.parametrize("payload,reason", BAD, ids=[r for _, r in BAD])
def test_each_fault_gets_the_reason_open_envelope_gives(payload: bytes, reason: str) -> None:
    with pytest.raises(m.MessageError) as exc:
        open_envelope(payload, {"ctl-1": KEY.public_key()}, expect_sender="ctl-1")
    assert exc.value.reason == reason
    assert open_inline([("ctl-1", payload, KEY.public_key())]) == [(None, reason)]


def test_sodium_key_verifies_like_cryptography() -> None:
    key = SodiumKey(KEY.public_key().public_bytes_raw())
    sig = KEY.sign(b"message")
    key.verify(sig, b"message")
    for bad_sig, data in ((sig, b"messagf"), (OTHER.sign(b"message"), b"message"),
                          (sig[:63], b"message"), (sig + b"m", b"essage"), (b"", b"message")):
        with pytest.raises(InvalidSignature):
            key.verify(bad_sig, data)
    # the first byte of the message must never stand in for a missing byte of the signature
    with pytest.raises(InvalidSignature):
        key.verify(sig[:63], sig[63:] + b"message")
    with pytest.raises(ValueError):
        SodiumKey(b"\x00" * 31)


@pytest.mark.parametrize("kwargs", [{"workers": -1}, {"workers": 1, "chunk_size": 0},
                                    {"workers": 1, "min_batch": 0}])
def test_open_pool_refuses_bad_settings(kwargs) -> None:
    with pytest.raises(ValueError):
        OpenPool(**kwargs)


@pytest.fixture(scope="module")
def pool():
    p = OpenPool(2, min_batch=1, chunk_size=16)
    p.start()
    yield p
    p.shutdown()


def _mixed_batch(n_good: int = 120) -> list[tuple[str, bytes, object]]:
    good = [("ctl-1", _seal(m.DoorOpened(door="door-1"), seq), KEY.public_key())
            for seq in range(10, 10 + n_good)]
    items = good + [("ctl-1", p, KEY.public_key()) for p, _ in BAD]
    random.Random(3).shuffle(items)
    return items


def test_worker_processes_give_the_verdicts_inline_gives(pool) -> None:
    items = _mixed_batch()
    results = pool.open(items).result()
    assert results == open_inline(items)
    reasons = sorted(r for _, r in results if r)
    assert reasons == sorted(r for _, r in BAD)
    assert sorted(e.seq for e, _ in results if e is not None) == list(range(10, 130))


def test_a_dead_worker_leaves_its_chunks_opened_inline_and_a_new_pool_next_time(caplog) -> None:
    p = OpenPool(2, min_batch=1, chunk_size=16)
    try:
        p.start()
        for pid in list(p._executor._processes):  # noqa: SLF001 (the test kills what it started)
            os.kill(pid, signal.SIGKILL)
        items = _mixed_batch()
        assert p.open(items).result() == open_inline(items)
        assert "ingest worker" in caplog.text  # the fallback ran, not the dead pool
        assert p.open(items).result() == open_inline(items)
        assert p._executor is not None  # a fresh pool took over
    finally:
        p.shutdown()


# ----------------------------------------------------------------------------- the bridge
@pytest.fixture
def bridge(db, keyring):
    keys = {"ctl-1": KEY, "ctl-2": OTHER, "ctl-3": Ed25519PrivateKey.generate()}
    with db.session() as s:
        buildings.create_building(s, building_id="lincoln", name="Lincoln", tz="UTC",
                                  actor="test", now=NOW)
        for dev_id, key in keys.items():
            devices.register(s, device_id=dev_id, kind="controller", building_id="lincoln",
                             public_key_pem=link_keys.public_pem(key.public_key()),
                             cert_serial="", actor="test", now=NOW)
        devices.revoke(s, s.get(Device, "ctl-3"), actor="test", now=NOW)
    b = Bridge(db, keyring, BrokerConfig(host="127.0.0.1", port=1, client_id="hub-test"),
               clock=lambda: NOW, gap_settle_s=3600, verify_workers=2)
    b.keys = keys
    yield b
    b.stop()


def _items(pairs: list[tuple[str, bytes]]) -> list[_Item]:
    return [_Item(topics.Kind.EVENTS, d, p, False, time.monotonic()) for d, p in pairs]


def _stored(db) -> dict[str, list[int]]:
    with db.session() as s:
        rows = s.execute(select(Event.device_id, Event.seq).order_by(Event.device_id, Event.seq))
        out: dict[str, list[int]] = {}
        for device_id, seq in rows:
            out.setdefault(device_id, []).append(seq)
        return out


def _upto(db, device_id: str) -> int | None:
    with db.session() as s:
        return s.get(Device, device_id).events_upto


def test_a_bad_signature_in_a_pooled_batch_is_dropped_with_its_reason(bridge, db) -> None:
    """ctl-1's seq 50 is forged: dropped and alerted; its ack stops below it; the rest stored."""
    pairs = [(d, _seal(m.DoorOpened(door="door-1"), seq, device=d, key=bridge.keys[d]))
             for d in ("ctl-1", "ctl-2") for seq in range(1, 101) if (d, seq) != ("ctl-1", 50)]
    pairs.append(("ctl-1", _tampered(_seal(m.DoorOpened(door="door-1"), 50))))
    pairs.append(("ctl-9", _seal(m.DoorOpened(door="door-1"), 1, device="ctl-9")))
    pairs.append(("ctl-3", _seal(m.DoorOpened(door="door-1"), 1, device="ctl-3",
                                 key=bridge.keys["ctl-3"])))
    random.Random(11).shuffle(pairs)
    bridge.process(_items(pairs))
    assert bridge._pool._executor is not None  # the batch went to the worker processes
    stored = _stored(db)
    assert stored["ctl-1"] == [s for s in range(1, 101) if s != 50]
    assert stored["ctl-2"] == list(range(1, 101))
    assert "ctl-9" not in stored and "ctl-3" not in stored
    assert dict(bridge.stats.dropped) == {"bad_signature": 1, "unknown_device": 1,
                                          "revoked_device": 1}
    assert _upto(db, "ctl-1") == 49 and _upto(db, "ctl-2") == 100
    with db.session() as s:
        kinds = set(s.scalars(select(Alert.kind)))
        row = s.scalars(select(Event).where(Event.device_id == "ctl-2", Event.seq == 7)).one()
    assert (row.type, row.door_id, row.building_id, row.severity) == (
        "door.opened", "door-1", "lincoln", "info")
    assert row.at == NOW and row.received_at == NOW
    assert row.body == {"door": "door-1", "severity": "info"}
    assert kinds >= {"bad_signature", "unknown_device", "revoked_device"}
    # the real event 50 arrives later (re-sent): stored once, the ack moves to the end
    bridge.process(_items([("ctl-1", _seal(m.DoorOpened(door="door-1"), 50))]))
    assert _stored(db)["ctl-1"] == list(range(1, 101))
    assert _upto(db, "ctl-1") == 100


def test_the_ingest_loop_stores_duplicates_and_reordering_once(bridge, db) -> None:
    """Through the bridge's own pipelined loop: shuffled, duplicated, in batches of 100."""
    bridge.batch_size = 100
    payloads = {(d, seq): _seal(m.AccessGranted(door="door-1", cred=f"{seq:064x}", holder="S1"),
                                seq, device=d, key=bridge.keys[d])
                for d in ("ctl-1", "ctl-2") for seq in range(1, 401)}
    stream = list(payloads) + random.Random(4).sample(list(payloads), 300)
    random.Random(5).shuffle(stream)
    for key in stream:
        bridge._queue.put(_items([(key[0], payloads[key])])[0])
    loop = threading.Thread(target=bridge._ingest_loop)
    loop.start()
    deadline = time.monotonic() + 60
    while bridge.stats.events_received < len(stream) and time.monotonic() < deadline:
        time.sleep(0.05)
    bridge._stop.set()
    loop.join(30)
    assert not loop.is_alive()
    assert bridge.stats.batches >= 11  # 1,100 messages in batches of at most 100
    assert _stored(db) == {"ctl-1": list(range(1, 401)), "ctl-2": list(range(1, 401))}
    assert bridge.stats.events_stored == 800
    assert bridge.stats.events_duplicate == 300
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 800
    assert _upto(db, "ctl-1") == 400 and _upto(db, "ctl-2") == 400

