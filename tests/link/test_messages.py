"""Typed messages: golden wire forms, strict decoding, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from link import canonical, messages as m
from tests.link.samples import SAMPLES

GOLDEN = Path(__file__).parent / "golden"


def test_every_type_has_a_sample() -> None:
    assert set(SAMPLES) == set(m.types())


@pytest.mark.parametrize("type_name", sorted(SAMPLES))
def test_golden_wire_form(type_name: str) -> None:
    """A change to the wire is a visible diff in tests/link/golden/."""
    wire = canonical.dumps(m.encode_body(SAMPLES[type_name]))
    golden = (GOLDEN / f"{type_name}.json").read_bytes().strip()
    assert wire == golden
    assert m.decode_body(type_name, json.loads(golden)) == SAMPLES[type_name]


def test_unknown_type_is_refused() -> None:
    with pytest.raises(m.MessageError) as err:
        m.decode_body("door.exploded", {})
    assert err.value.reason == "unknown_type"


@pytest.mark.parametrize("type_name, body, field", [
    ("access.granted", {"door": "d-1", "holder": "S1"}, "cred"),
    ("access.granted", {"door": "d-1", "cred": "A" * 64, "holder": "S1"}, "cred"),
    ("access.denied", {"door": "d-1", "reason": "because"}, "reason"),
    ("events.ack", {"upto": "12"}, "upto"),
    ("events.ack", {"upto": -1}, "upto"),
    ("events.ack", {"upto": 1.5}, "upto"),
    ("acl.snapshot", {"version": 1, "building": "b", "tz": "UTC", "chunk": 2, "chunks": 2}, "chunk"),
    ("device.status", {"state": "sleepy"}, "state"),
    ("door.held", {"door": "Door 1", "held_s": 3}, "door"),
])
def test_wrong_fields_are_named(type_name: str, body: dict, field: str) -> None:
    with pytest.raises(m.MessageError) as err:
        m.decode_body(type_name, body)
    assert err.value.reason == "bad_body"
    assert field in str(err.value)


def test_added_fields_are_tolerated_within_v1() -> None:
    body = m.decode_body("events.ack", {"upto": 3, "from_the_future": True})
    assert body == m.EventsAck(upto=3)


def test_body_must_be_an_object() -> None:
    with pytest.raises(m.MessageError):
        m.decode_body("events.ack", [1, 2])


@pytest.mark.parametrize("name, payload, ok", [
    ("tap", b'{"uid": "04a1b2c3"}', True),
    ("tap", b'{"uid": "04A1B2C3D4E5F6"}', True),
    ("tap", b'{"uid": "04A1B2"}', False),
    ("tap", b'{"uid": "zz"}', False),
    ("tap", b'{"uid": 1234}', False),
    ("tap", b'{"uid": "04A1B2C3", "extra": 1}', False),
    ("pin", b'{"digits": "1234#"}', True),
    ("pin", b'{"digits": "12a4"}', False),
    ("contact", b'{"open": true}', True),
    ("contact", b'{"open": "yes"}', False),
    ("rex", b"{}", True),
    ("rex", b"", True),
    ("tap", b"not json", False),
    ("teleport", b"{}", False),
])
def test_sim_inputs(name: str, payload: bytes, ok: bool) -> None:
    if ok:
        assert m.decode_sim(name, payload)
    else:
        with pytest.raises(m.MessageError):
            m.decode_sim(name, payload)


def test_sim_tap_uid_is_normalised() -> None:
    assert m.decode_sim("tap", b'{"uid": "04a1b2c3"}').uid == "04A1B2C3"


def test_canonical_json_refuses_floats() -> None:
    with pytest.raises(canonical.CanonicalError):
        canonical.dumps({"a": 1.0})
    assert canonical.dumps({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()
