"""The proposed kiosk message bodies: they seal, open, and refuse hostile text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from link import visits as wire
from link.envelope import Signer, open_envelope
from link.messages import MessageError, decode_body

NOW = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
SIGN_IN = {"corr": "c0rr-123456", "visit": "v-12345678", "token_sha256": "a" * 64, "category": "visitor",
           "first": "Ana", "last": "Souza", "dob": "1990-01-02", "id_source": "scanned"}


def test_sign_in_seals_and_opens() -> None:
    key = Ed25519PrivateKey.generate()
    body = wire.VisitSignIn(**SIGN_IN)
    env = open_envelope(Signer("kiosk-1", key).seal(body, seq=1, now=NOW), {"kiosk-1": key.public_key()})
    assert env.body == body and env.type == "visit.sign_in"


@pytest.mark.parametrize(("field", "value"), [
    ("first", "Ana\x1b@"), ("last", "\u202eevil"), ("first", ""), ("first", "x" * 65),
    ("token_sha256", "short"), ("category", "student"), ("dob", "02/01/1990"), ("photo_jpeg", "<script>"),
])
def test_sign_in_refuses(field: str, value: str) -> None:
    with pytest.raises(MessageError) as err:
        decode_body("visit.sign_in", {**SIGN_IN, field: value})
    assert err.value.reason == "bad_body" and field in str(err.value)


def test_emoji_and_rtl_are_allowed() -> None:
    body = decode_body("visit.sign_in", {**SIGN_IN, "first": "שרה 😀"})
    assert body.first == "שרה 😀"


def test_local_sign_in_has_no_dob_field() -> None:
    assert "dob" not in wire.VisitLocalSignIn.model_fields


def test_every_type_is_registered() -> None:
    from link.messages import types

    for name in ("visit.sign_in", "visit.sign_out", "visit.find", "visit.directory", "visit.watchlist",
                 "visit.local_sign_in", "visit.abandoned"):
        assert name in types()


@pytest.mark.parametrize(("field", "value"), [
    ("decision", "not_sure"), ("decision", "maybe"), ("visit", "x"), ("host_name", "Ms.\x1b@Lee"),
    ("expires_at", "tomorrow"),
])
def test_decided_refuses(field: str, value: str) -> None:
    good = {"visit": "v-0123456789", "decision": "admit"}
    assert decode_body("visit.decided", good) == wire.VisitDecided(visit="v-0123456789", decision="admit")
    with pytest.raises(MessageError) as err:
        decode_body("visit.decided", {**good, field: value})
    assert err.value.reason == "bad_body" and field in str(err.value)


# --------------------------------------------------------------------------- pool visitor cards (ADR 0003)
def test_pool_fields_are_additive() -> None:
    """Answers from a hub that knows nothing of pool cards still validate, as before."""
    old_directory = {"version": 3, "building": "Lincoln", "hosts": [], "destinations": []}
    assert wire.DirectoryResult.model_validate(old_directory).pool_cards is False
    assert wire.SignOutResult.model_validate({"visit": "v-12345678", "label": "Ana S."}).pool_card is None
    assert wire.SignOutResult.model_validate({"visit": "v-12345678", "label": "Ana S.", "pool_card": 7}).pool_card == 7
    result = wire.PoolAssignResult.model_validate({"visit": "v-12345678", "card": 7,
                                                   "expires_at": "2026-11-28T22:00:00Z", "doors": 2})
    assert (result.card, result.doors) == (7, 2)
    for error in ("pool_disabled", "unknown_card", "card_other_building", "card_in_use", "card_retired",
                  "visit_held"):
        assert error in wire.ERRORS


from hypothesis import given, strategies as st  # noqa: E402


@given(st.dictionaries(st.sampled_from(["corr", "visit", "card", "extra"]),
                       st.one_of(st.integers(), st.text(max_size=70), st.none(), st.booleans())))
def test_pool_assign_decoder_refuses_or_accepts_cleanly(body) -> None:
    try:
        decoded = decode_body("visit.pool_assign", body)
    except MessageError as exc:
        assert exc.reason == "bad_body"
    else:
        assert 1 <= decoded.card <= 9999 and isinstance(decoded.card, int)
