"""Signed envelopes: round trip, and every way a payload can be wrong."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings, strategies as st

from link import canonical
from link.envelope import Signer, open_envelope, parse_json
from link.messages import AccessGranted, EventsAck, MessageError

NOW = datetime(2026, 11, 28, 14, 30, tzinfo=UTC)
DEV_KEY = Ed25519PrivateKey.generate()
OTHER_KEY = Ed25519PrivateKey.generate()
KEYS = {"door-1": DEV_KEY.public_key(), "door-2": OTHER_KEY.public_key()}
BODY = AccessGranted(door="door-1", cred="f" * 64, holder="S1")


def sealed(**over) -> dict:
    data = json.loads(Signer("door-1", DEV_KEY).seal(BODY, seq=5, now=NOW))
    data.update(over)
    return data


def resign(data: dict, key=DEV_KEY) -> bytes:
    unsigned = {k: v for k, v in data.items() if k != "sig"}
    data["sig"] = base64.b64encode(key.sign(canonical.dumps(unsigned))).decode()
    return canonical.dumps(data)


def reason(payload: bytes, **kw) -> str:
    with pytest.raises(MessageError) as err:
        open_envelope(payload, KEYS, **kw)
    return err.value.reason


def test_round_trip() -> None:
    env = open_envelope(Signer("door-1", DEV_KEY).seal(BODY, seq=5, now=NOW), KEYS,
                        expect_sender="door-1")
    assert (env.type, env.sender, env.seq, env.body) == ("access.granted", "door-1", 5, BODY)
    assert env.at == "2026-11-28T14:30:00.000000Z"
    assert env.at_datetime == NOW


def test_tampered_body_fails_signature() -> None:
    data = sealed()
    data["body"]["holder"] = "S9"
    assert reason(canonical.dumps(data)) == "bad_signature"


def test_unsigned_is_refused() -> None:
    data = sealed()
    del data["sig"]
    assert reason(canonical.dumps(data)) == "bad_envelope"


def test_garbage_signature() -> None:
    assert reason(canonical.dumps(sealed(sig="%%%"))) == "bad_signature"


def test_signed_by_another_device() -> None:
    data = sealed()
    assert reason(resign(data, OTHER_KEY)) == "bad_signature"


def test_sender_must_match_topic() -> None:
    payload = Signer("door-2", OTHER_KEY).seal(BODY, seq=1, now=NOW)
    assert reason(payload, expect_sender="door-1") == "wrong_sender"


def test_unknown_sender() -> None:
    key = Ed25519PrivateKey.generate()
    assert reason(Signer("door-9", key).seal(BODY, seq=1, now=NOW)) == "unknown_sender"


@pytest.mark.parametrize("over, expected", [
    ({"v": 2}, "bad_version"),
    ({"v": "1"}, "bad_version"),
    ({"v": True}, "bad_version"),
    ({"seq": -1}, "bad_envelope"),
    ({"seq": "5"}, "bad_envelope"),
    ({"at": "yesterday"}, "bad_envelope"),
    ({"from": "Door 1"}, "bad_envelope"),
    ({"type": 7}, "bad_envelope"),
    ({"extra": 1}, "bad_envelope"),
])
def test_envelope_fields(over: dict, expected: str) -> None:
    assert reason(resign(sealed(**over))) == expected


def test_unknown_type_after_a_valid_signature() -> None:
    assert reason(resign(sealed(type="door.teleported"))) == "unknown_type"


def test_wrong_body_after_a_valid_signature() -> None:
    assert reason(resign(sealed(body={"door": "door-1"}))) == "bad_body"


@pytest.mark.parametrize("payload, expected", [
    (b"not json", "bad_json"),
    (b"[1,2]", "bad_json"),
    (b'{"a":1,"a":2}', "bad_json"),
    (b'{"a":NaN}', "bad_json"),
    (b"\xff\xfe", "bad_json"),
    (b"[" * 100_000, "bad_json"),
])
def test_bad_json(payload: bytes, expected: str) -> None:
    assert reason(payload) == expected


def test_oversized_payload() -> None:
    assert reason(b" " * (2 << 20)) == "oversized"
    with pytest.raises(MessageError):
        parse_json(b"{}" + b" " * 100, max_bytes=50)


def test_seal_refuses_naive_time() -> None:
    with pytest.raises(ValueError):
        Signer("door-1", DEV_KEY).seal(EventsAck(upto=1), seq=1, now=datetime(2026, 1, 1))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.floats(allow_nan=True),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["v", "type", "from", "seq", "at", "body", "sig", "x"]),
                       json_values, max_size=8))
def test_random_envelopes_never_raise_anything_else(data: dict) -> None:
    payload = json.dumps(data).encode()
    try:
        open_envelope(payload, KEYS)
    except MessageError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_raise_anything_else(payload: bytes) -> None:
    try:
        open_envelope(payload, KEYS)
    except MessageError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["door", "cred", "holder", "via", "escort_by", "severity"]), json_values)
def test_random_body_fields_are_refused_or_valid(field: str, value) -> None:
    data = sealed()
    data["body"][field] = value
    try:
        payload = resign(data)
    except canonical.CanonicalError:
        return
    try:
        env = open_envelope(payload, KEYS)
    except MessageError as exc:
        assert exc.reason == "bad_body"
    else:
        assert env.body.door == "door-1"
