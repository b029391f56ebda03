"""Signed envelopes: seal a typed body, open and verify a received payload.

Wire form: ``{"v": 1, "type", "from", "seq", "at", "body", "sig"}``; ``sig`` is the base64
Ed25519 signature over the canonical JSON (:mod:`link.canonical`) of every other field. A
payload is opened in a fixed order (size, JSON, envelope shape, version, sender, signature,
body) so a bad message costs as little as possible and the reason names the first fault.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from link import canonical
from link.messages import VERSION, Body, MessageError, decode_body, encode_body

#: Largest payload any receiver accepts (an ACL snapshot is sent in chunks below this).
MAX_PAYLOAD_BYTES = 1 << 20

_ENVELOPE_KEYS = {"v", "type", "from", "seq", "at", "body", "sig"}
_SENDER_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_AT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


@dataclass(frozen=True)
class Envelope:
    """An opened, verified message. Handlers see this, never paho's objects."""

    type: str
    sender: str
    seq: int
    at: str
    body: Body

    @property
    def at_datetime(self) -> datetime:
        """``at`` as an aware UTC datetime."""
        return datetime.fromisoformat(self.at.replace("Z", "+00:00"))


def format_at(now: datetime) -> str:
    """UTC ISO-8601 with a ``Z`` and microseconds, as the contract writes times."""
    if now.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC time")
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Signer:
    """Seals bodies as one sender with its Ed25519 private key."""

    def __init__(self, sender: str, private_key: Ed25519PrivateKey) -> None:
        if not _SENDER_RE.match(sender):
            raise ValueError(f"invalid sender id {sender!r}")
        self.sender = sender
        self._key = private_key

    def seal(self, body: Body, *, seq: int, now: datetime) -> bytes:
        """The signed payload for ``body`` with sequence number ``seq`` at time ``now``."""
        if not body.TYPE:
            raise TypeError(f"{type(body).__name__} is not a registered message type")
        unsigned: dict[str, Any] = {
            "v": VERSION, "type": body.TYPE, "from": self.sender, "seq": int(seq),
            "at": format_at(now), "body": encode_body(body),
        }
        sig = self._key.sign(canonical.dumps(unsigned))
        unsigned["sig"] = base64.b64encode(sig).decode("ascii")
        return canonical.dumps(unsigned)


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # NOTE: json.loads keeps the last of two equal keys; a signer and a verifier that
    # disagree on which one counts is a classic signature bypass, so refuse both.
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise MessageError("bad_json", f"duplicate key {key!r}")
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise MessageError("bad_json", f"{name} is not valid JSON")


def parse_json(payload: bytes, *, max_bytes: int = MAX_PAYLOAD_BYTES) -> dict[str, Any]:
    """Bytes to a JSON object, refusing oversized, invalid or duplicate-key input."""
    if len(payload) > max_bytes:
        raise MessageError("oversized", f"{len(payload)} bytes > {max_bytes}")
    try:
        text = payload.decode("utf-8")
        data = json.loads(text, object_pairs_hook=_reject_duplicate_keys,
                          parse_constant=_reject_constant)
    except MessageError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MessageError("bad_json", str(exc)[:120]) from None
    if not isinstance(data, dict):
        raise MessageError("bad_json", "payload is not a JSON object")
    return data


def open_envelope(
    payload: bytes,
    keys: Mapping[str, Ed25519PublicKey],
    *,
    expect_sender: str | None = None,
    max_bytes: int = MAX_PAYLOAD_BYTES,
) -> Envelope:
    """Verify and decode ``payload``; raise MessageError with the first fault found.

    ``keys`` maps sender ids to public keys; ``expect_sender`` is the sender the topic
    implies (a device may speak only on its own topics).
    """
    data = parse_json(payload, max_bytes=max_bytes)
    missing = _ENVELOPE_KEYS - data.keys()
    if missing:
        raise MessageError("bad_envelope", f"missing {', '.join(sorted(missing))}")
    extra = data.keys() - _ENVELOPE_KEYS
    if extra:
        raise MessageError("bad_envelope", f"unexpected {', '.join(sorted(extra))}")
    version = data["v"]
    if type(version) is not int or version != VERSION:
        raise MessageError("bad_version", f"v={version!r}, this receiver speaks v{VERSION}")
    sender, type_name, seq, at, sig = data["from"], data["type"], data["seq"], data["at"], data["sig"]
    if not isinstance(type_name, str):
        raise MessageError("bad_envelope", "type must be a string")
    if not isinstance(sender, str) or not _SENDER_RE.match(sender):
        raise MessageError("bad_envelope", "from must be a device or hub id")
    if type(seq) is not int or not 0 <= seq < 2**63:
        raise MessageError("bad_envelope", "seq must be a non-negative integer")
    if not isinstance(at, str) or not _AT_RE.match(at):
        raise MessageError("bad_envelope", "at must be UTC ISO-8601 ending in Z")
    if not isinstance(sig, str):
        raise MessageError("bad_signature", "sig must be base64 text")
    if expect_sender is not None and sender != expect_sender:
        raise MessageError("wrong_sender", f"{sender!r} on a topic of {expect_sender!r}")
    key = keys.get(sender)
    if key is None:
        raise MessageError("unknown_sender", f"no public key for {sender!r}")
    try:
        raw_sig = base64.b64decode(sig, validate=True)
    except (binascii.Error, ValueError):
        raise MessageError("bad_signature", "sig is not base64") from None
    unsigned = {k: v for k, v in data.items() if k != "sig"}
    try:
        key.verify(raw_sig, canonical.dumps(unsigned))
    except (InvalidSignature, canonical.CanonicalError):
        raise MessageError("bad_signature", f"signature does not verify for {sender!r}") from None
    body = decode_body(type_name, data["body"])
    return Envelope(type=type_name, sender=sender, seq=seq, at=at, body=body)
