"""Typed, versioned messages: one class per envelope ``type``.

An envelope is ``{"v": 1, "type", "from", "seq", "at", "body", "sig"}``. :func:`decode_body`
turns a verified envelope's body into the class registered for its type; unknown types, wrong
or missing fields are refused with a :class:`MessageError` that names the field. Bodies ignore
fields they do not know (a newer peer within ``v1`` may add some); configs, elsewhere, are
strict.

Cards never travel as raw UIDs: ``cred`` fields carry the hex HMAC of the UID under the site
key (see :func:`link.signing.card_hmac`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

VERSION = 1

DeviceId = Annotated[str, Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")]
SenderId = Annotated[str, Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")]
CredHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
StaffId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
Timestamp = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")]
HhMm = Annotated[str, Field(pattern=r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")]
IsoDate = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]
Seq = Annotated[int, Field(ge=0, le=2**63 - 1)]
ShortText = Annotated[str, Field(max_length=200)]

Severity = Literal["info", "warning", "critical"]

#: Why a door said no. Fixed: the hub's reports and the alerts key on these.
DENY_REASONS = (
    "unknown_card", "revoked", "inactive_holder", "outside_schedule", "holiday",
    "no_access_to_door", "lockdown", "pin_required", "wrong_pin", "pin_timeout",
    "escort_required", "visitor_not_allowed", "clock_untrusted", "stale_acl", "bad_read",
    "relay_fault", "door_unknown",
)
DenyReason = Literal[
    "unknown_card", "revoked", "inactive_holder", "outside_schedule", "holiday",
    "no_access_to_door", "lockdown", "pin_required", "wrong_pin", "pin_timeout",
    "escort_required", "visitor_not_allowed", "clock_untrusted", "stale_acl", "bad_read",
    "relay_fault", "door_unknown",
]


class MessageError(ValueError):
    """A message that does not follow the contract; ``reason`` is a short machine word."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class Body(BaseModel):
    """Base of every message body: frozen, strict types, unknown fields ignored."""

    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")
    TYPE: ClassVar[str] = ""


_REGISTRY: dict[str, type[Body]] = {}


def message(type_name: str):
    """Register a body class for an envelope ``type``."""

    def register(cls: type[Body]) -> type[Body]:
        if type_name in _REGISTRY:
            raise RuntimeError(f"message type {type_name!r} registered twice")
        cls.TYPE = type_name
        _REGISTRY[type_name] = cls
        return cls

    return register


def types() -> dict[str, type[Body]]:
    """Every registered message type and its body class."""
    return dict(_REGISTRY)


def body_class(type_name: str) -> type[Body]:
    """The body class for ``type_name``, or MessageError('unknown_type')."""
    try:
        return _REGISTRY[type_name]
    except KeyError:
        raise MessageError("unknown_type", f"no message type {type_name!r}") from None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "body"
    return f"{where}: {err.get('msg', 'invalid')}"


def decode_body(type_name: str, body: Any) -> Body:
    """Validate ``body`` against the class registered for ``type_name``."""
    cls = body_class(type_name)
    if not isinstance(body, dict):
        raise MessageError("bad_body", "body must be a JSON object")
    try:
        return cls.model_validate(body)
    except ValidationError as exc:
        raise MessageError("bad_body", f"{type_name}: {_first_error(exc)}") from None


def encode_body(body: Body) -> dict[str, Any]:
    """A body as the plain JSON object that goes into an envelope."""
    return body.model_dump(mode="json", exclude_none=True)


# --------------------------------------------------------------------------- status
@message("device.status")
class DeviceStatus(Body):
    """Retained on ``dev/<device>/status``; the last will carries ``state='offline'``."""

    state: Literal["online", "offline"]
    kind: Literal["controller", "kiosk", "hub", "unknown"] = "unknown"
    version: ShortText = ""
    acl_version: Seq | None = None
    clock: Literal["trusted", "untrusted", "unknown"] = "unknown"
    outbox_depth: Seq = 0
    stale_acl: bool = False
    faults: list[ShortText] = Field(default_factory=list, max_length=32)
    #: the sequence number of this connection's last will, so a receiver accepts it
    will_seq: Seq | None = None


# --------------------------------------------------------------------------- events
class Event(Body):
    """Base of everything sent on ``dev/<device>/events``."""

    severity: Severity = "info"


@message("access.granted")
class AccessGranted(Event):
    """The strike actually energised for this credential."""

    door: DeviceId
    cred: CredHash
    holder: StaffId
    via: Literal["card", "card_pin"] = "card"
    escort_by: StaffId | None = None


@message("access.denied")
class AccessDenied(Event):
    """A presentation was refused; ``reason`` comes from :data:`DENY_REASONS`."""

    door: DeviceId
    reason: DenyReason
    cred: CredHash | None = None
    holder: StaffId | None = None


@message("door.opened")
class DoorOpened(Event):
    """The door contact opened."""

    door: DeviceId


@message("door.closed")
class DoorClosed(Event):
    """The door contact closed."""

    door: DeviceId


@message("door.forced")
class DoorForced(Event):
    """The door opened while locked, with no grant and no request-to-exit."""

    door: DeviceId
    severity: Severity = "critical"


@message("door.held")
class DoorHeld(Event):
    """The door stayed open past its limit."""

    door: DeviceId
    held_s: Seq
    severity: Severity = "warning"


@message("door.rex")
class DoorRex(Event):
    """Request-to-exit pressed: unlocked for egress."""

    door: DeviceId


@message("device.tamper")
class DeviceTamper(Event):
    """The enclosure's tamper switch changed."""

    open: bool
    severity: Severity = "critical"


@message("device.fault")
class DeviceFault(Event):
    """A hardware or internal fault; the door was left locked."""

    fault: ShortText
    door: DeviceId | None = None
    severity: Severity = "critical"


@message("alert.wrong_pins")
class WrongPins(Event):
    """Three (or the configured number of) wrong PINs in a row for one card."""

    door: DeviceId
    cred: CredHash
    holder: StaffId | None = None
    failures: Seq
    severity: Severity = "warning"


@message("visit.signed_in")
class VisitSignedIn(Event):
    """A visitor signed in at a kiosk (sent even when the hub was away at the time)."""

    visit: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
    name: ShortText
    category: Literal["visitor", "contractor", "volunteer", "parent"]
    host: ShortText = ""
    destination: ShortText = ""
    escort_required: bool = False
    expires_at: Timestamp | None = None
    offline: bool = False


@message("visit.signed_out")
class VisitSignedOut(Event):
    """A visit ended."""

    visit: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
    how: Literal["badge", "name", "desk", "closing"]


# --------------------------------------------------------------------------- device acks and requests
@message("acl.applied")
class AclApplied(Body):
    """On ``dev/<device>/ack``: the device now runs this ACL version."""

    version: Seq


Corr = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")]


@message("acl.resync")
class AclResync(Body):
    """On ``dev/<device>/req``: send me a full snapshot (a gap, a failed apply, a first boot)."""

    corr: Corr
    have_version: Seq | None = None
    why: ShortText = ""


@message("lockdown.request")
class LockdownRequest(Body):
    """On ``dev/<device>/req``: a panic button or staff action at a device asks for lockdown."""

    corr: Corr
    active: bool
    by: ShortText = ""


# --------------------------------------------------------------------------- ACL (hub -> device)
class AclDoor(Body):
    """One door a controller drives, with its local rules."""

    door: DeviceId
    name: ShortText
    kind: Literal["records_room", "office", "exterior"]
    mode: Literal["card", "card_pin"] = "card"
    strike_s: Annotated[int, Field(ge=1, le=300)] = 5
    held_open_s: Annotated[int, Field(ge=1, le=3600)] = 30
    stale_limit_s: Annotated[int, Field(ge=60, le=30 * 86400)] = 86400
    escort_window_s: Annotated[int, Field(ge=1, le=300)] = 10
    pin_timeout_s: Annotated[int, Field(ge=1, le=120)] = 10
    visitor_policy: Literal["escort", "deny", "allow"] = "escort"


class AclWindow(Body):
    """A weekly time window in the building's zone: days 0=Monday..6=Sunday, [start, end)."""

    days: Annotated[list[Annotated[int, Field(ge=0, le=6)]], Field(min_length=1, max_length=7)]
    start: HhMm
    end: HhMm


class AclGroup(Body):
    """An access group: doors plus when they open for its members."""

    group: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    doors: list[DeviceId]
    windows: list[AclWindow] = Field(default_factory=list)
    always: bool = False
    responder: bool = False


class AclHoliday(Body):
    """A holiday or closure day: closed to every non-24/7 group, or only to ``groups``."""

    date: IsoDate
    name: ShortText = ""
    groups: list[str] = Field(default_factory=list)


class AclPin(Body):
    """A card's PIN as a salted PBKDF2-SHA256 hash (never the PIN)."""

    salt: Annotated[str, Field(pattern=r"^[0-9a-f]{16,64}$")]
    hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    iterations: Annotated[int, Field(ge=1000, le=10_000_000)]


class AclCredential(Body):
    """One card as a door sees it."""

    cred: CredHash
    holder: StaffId
    name: ShortText = ""
    holder_status: Literal["active", "on_leave", "terminated"] = "active"
    status: Literal["active", "revoked", "lost", "suspended"] = "active"
    groups: list[str] = Field(default_factory=list)
    #: visitors, vendors without a DPA, custodial staff where so set
    escort_required: bool = False
    #: an approved employee whose grant opens the escort window
    can_escort: bool = False
    pin: AclPin | None = None


@message("acl.snapshot")
class AclSnapshot(Body):
    """A full ACL for one device, split in ``chunks`` parts applied together."""

    version: Seq
    chunk: Annotated[int, Field(ge=0)] = 0
    chunks: Annotated[int, Field(ge=1, le=10_000)] = 1
    building: DeviceId
    tz: Annotated[str, Field(min_length=1, max_length=64)]
    lockdown: bool = False
    doors: list[AclDoor] = Field(default_factory=list)
    groups: list[AclGroup] = Field(default_factory=list)
    holidays: list[AclHoliday] = Field(default_factory=list)
    credentials: list[AclCredential] = Field(default_factory=list)

    @model_validator(mode="after")
    def _chunk_in_range(self) -> "AclSnapshot":
        if self.chunk >= self.chunks:
            raise ValueError("chunk must be below chunks")
        return self


@message("acl.delta")
class AclDelta(Body):
    """Changes from ``from_version`` to ``to_version``; revocations are applied first."""

    from_version: Seq
    to_version: Seq
    revoke: list[CredHash] = Field(default_factory=list)
    credentials: list[AclCredential] = Field(default_factory=list)
    remove: list[CredHash] = Field(default_factory=list)
    doors: list[AclDoor] | None = None
    groups: list[AclGroup] | None = None
    holidays: list[AclHoliday] | None = None
    lockdown: bool | None = None


# --------------------------------------------------------------------------- hub answers
@message("resp")
class Response(Body):
    """On ``hub/<device>/resp``: the answer to a request with the same ``corr``."""

    corr: Corr
    ok: bool
    error: ShortText | None = None
    data: dict[str, Any] = Field(default_factory=dict)


@message("events.ack")
class EventsAck(Body):
    """On ``hub/<device>/ack``: every event with a sequence number up to ``upto`` is committed."""

    upto: Seq


@message("lockdown")
class Lockdown(Body):
    """On ``hub/broadcast``: lockdown on or off for some buildings (empty list: all)."""

    active: bool
    buildings: list[DeviceId] = Field(default_factory=list)
    by: ShortText = ""


@message("notice")
class Notice(Body):
    """On ``hub/broadcast``: a policy or time notice for operators' logs."""

    text: ShortText


# --------------------------------------------------------------------------- simulation (not enveloped)
_HEX_UID = re.compile(r"^(?:[0-9A-Fa-f]{8}|[0-9A-Fa-f]{14}|[0-9A-Fa-f]{20})$")


class SimInput(BaseModel):
    """Plain JSON on ``sim/<device>/<input>``; unsigned, honoured only by simulators."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")


class SimTap(SimInput):
    """A card presented to a simulated reader: a 4-, 7- or 10-byte UID in hex."""

    uid: str
    reader: Annotated[int, Field(ge=0, le=1)] = 0

    @field_validator("uid")
    @classmethod
    def _hex_uid(cls, value: str) -> str:
        if not _HEX_UID.match(value):
            raise ValueError("uid must be 4, 7 or 10 bytes in hex (8, 14 or 20 hex digits)")
        return value.upper()


class SimPin(SimInput):
    """Keys pressed on a simulated keypad."""

    digits: Annotated[str, Field(pattern=r"^[0-9*#]{1,16}$")]
    reader: Annotated[int, Field(ge=0, le=1)] = 0


class SimContact(SimInput):
    """The simulated door contact opens or closes."""

    open: bool
    reader: Annotated[int, Field(ge=0, le=1)] = 0


class SimRex(SimInput):
    """The simulated request-to-exit button is pressed."""

    reader: Annotated[int, Field(ge=0, le=1)] = 0


SIM_CLASSES: dict[str, type[SimInput]] = {
    "tap": SimTap, "pin": SimPin, "contact": SimContact, "rex": SimRex,
}


def decode_sim(input_name: str, payload: bytes) -> SimInput:
    """Parse a ``sim/<device>/<input>`` payload, or raise MessageError."""
    cls = SIM_CLASSES.get(input_name)
    if cls is None:
        raise MessageError("unknown_type", f"no simulated input {input_name!r}")
    if len(payload) > 4096:
        raise MessageError("oversized", "simulated input over 4 KiB")
    try:
        return cls.model_validate_json(payload or b"{}")
    except ValidationError as exc:
        raise MessageError("bad_body", f"sim {input_name}: {_first_error(exc)}") from None


# The kiosk's visit messages live in their own module; importing it registers them, so every
# receiver that imports link.messages decodes them (ADR 0002).
from link import visits as _visits  # noqa: E402,F401
