"""Builders for ACL messages used across the controller tests."""

from __future__ import annotations

import hashlib
import hmac

from controller.policy import hash_pin
from link.messages import (
    AclCredential, AclDelta, AclDoor, AclGroup, AclPin, AclSnapshot, AclWindow,
)

SITE_KEY = b"test-site-key-0123456789abcdef"
TZ = "America/New_York"
PIN_SALT = "a1b2c3d4e5f60718"


def card(uid_hex: str) -> str:
    """The HMAC hex of a card UID under the test site key."""
    return hmac.new(SITE_KEY, bytes.fromhex(uid_hex), hashlib.sha256).hexdigest()


def cred(n: int) -> str:
    """A distinct fake card HMAC."""
    return hashlib.sha256(f"card-{n}".encode()).hexdigest()


def pin(digits: str) -> AclPin:
    """A PIN as the hub stores it (cheap iterations for tests)."""
    return AclPin(salt=PIN_SALT, hash=hash_pin(digits, PIN_SALT, 1000), iterations=1000)


DOORS = [
    AclDoor(door="rr-1", name="Records 1", kind="records_room"),
    AclDoor(door="rr-2", name="Records 2", kind="records_room", mode="card_pin"),
]
GROUPS = [
    AclGroup(group="staff", doors=["rr-1", "rr-2"],
             windows=[AclWindow(days=[0, 1, 2, 3, 4], start="07:00", end="18:00")]),
    AclGroup(group="allday", doors=["rr-1", "rr-2"], always=True),
    AclGroup(group="responders", doors=["rr-1", "rr-2"], always=True, responder=True),
    AclGroup(group="visitors", doors=["rr-1"], always=True),
]


def credential(c: str, holder: str, **kw: object) -> AclCredential:
    """An active credential in the all-day group unless told otherwise."""
    base: dict[str, object] = {"cred": c, "holder": holder, "groups": ["allday"]}
    base.update(kw)
    return AclCredential(**base)  # type: ignore[arg-type]


def snapshot(version: int, creds: list[AclCredential], *, chunks: int = 1,
             lockdown: bool = False, doors: list[AclDoor] | None = None) -> list[AclSnapshot]:
    """A snapshot split into ``chunks`` parts (rules ride in chunk 0)."""
    parts: list[AclSnapshot] = []
    for i in range(chunks):
        parts.append(AclSnapshot(
            version=version, chunk=i, chunks=chunks, building="test-school", tz=TZ,
            lockdown=lockdown, doors=(doors if doors is not None else DOORS) if i == 0 else [],
            groups=GROUPS if i == 0 else [], holidays=[], credentials=creds[i::chunks]))
    return parts


def delta(frm: int, to: int, **kw: object) -> AclDelta:
    """A delta between two versions."""
    return AclDelta(from_version=frm, to_version=to, **kw)  # type: ignore[arg-type]
