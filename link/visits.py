"""Visit messages between a reception kiosk and the hub (see docs/wire.md, ADR 0002).

Requests go on ``dev/<kiosk>/req`` and are answered by a ``resp`` with the same ``corr``; the
``data`` of a successful answer is the matching ``*Result`` model below (validated by the
kiosk). Events go on ``dev/<kiosk>/events`` through the device's outbox. Nothing here carries
an ID number, an address or an ID image; the date of birth travels only in ``visit.sign_in``
(for screening) and the hub drops it after screening. Every visitor-typed string is refused
when it holds control or bidi-override characters.

Registered in :mod:`link.messages`' registry on import (``link.messages`` imports this module).
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from link.messages import Body, Corr, Event, IsoDate, Seq, Timestamp, message

VisitId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
BadgeToken = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{16,64}$")]
#: SHA-256 of a badge token, hex: the hub never needs (or stores) the token itself at sign-in
TokenHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Category = Literal["visitor", "contractor", "volunteer", "parent"]
RefId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
#: A JPEG, base64: a 240x300 head-and-shoulders photo is about 15 KB; the cap leaves room.
PhotoB64 = Annotated[str, Field(max_length=120_000, pattern=r"^[A-Za-z0-9+/]*={0,2}$")]
#: The number printed on a pool visitor card (ADR 0003); the card's UID never travels.
PoolCardNumber = Annotated[int, Field(ge=1, le=9999)]


def _no_controls(value: str) -> str:
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cs", "Co") or ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
            raise ValueError("control or bidi-override characters are not allowed")
    return value


PersonName = Annotated[str, Field(min_length=1, max_length=64)]
FreeText = Annotated[str, Field(max_length=120)]


class _VisitorText(Body):
    """Mixin: every string field of a visitor body is free of control characters."""

    @field_validator("*", mode="after")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return _no_controls(value) if isinstance(value, str) else value


# --------------------------------------------------------------------------- requests
@message("visit.sign_in")
class VisitSignIn(_VisitorText):
    """Sign a visitor in: the hub screens, records the visit and answers :class:`SignInResult`."""

    corr: Corr
    visit: VisitId
    token_sha256: TokenHash
    category: Category
    first: PersonName
    last: PersonName
    #: only for screening; the hub never stores it
    dob: IsoDate | None = None
    id_source: Literal["scanned", "typed"]
    host: RefId | None = None
    destination: RefId | None = None
    purpose: FreeText = ""
    company: FreeText = ""
    photo_jpeg: PhotoB64 = ""


@message("visit.sign_out")
class VisitSignOut(_VisitorText):
    """Close a visit by its badge token or (after :class:`VisitFind`) by its id."""

    corr: Corr
    how: Literal["badge", "name"]
    token: BadgeToken | None = None
    visit: VisitId | None = None


@message("visit.find")
class VisitFind(_VisitorText):
    """Find the caller's own open visit by full name; answers :class:`FindResult`."""

    corr: Corr
    first: PersonName
    last: PersonName


@message("visit.directory")
class DirectoryFetch(Body):
    """Ask for this kiosk's building directory (hosts and destinations)."""

    corr: Corr
    have_version: Seq | None = None


@message("visit.watchlist")
class WatchlistFetch(Body):
    """Ask for one page of the hashed watch-list cache."""

    corr: Corr
    page: Annotated[int, Field(ge=0, le=10_000)] = 0
    have_version: Seq | None = None


@message("visit.pool_assign")
class PoolAssign(Body):
    """Staff give pool card number ``card`` to an admitted visit; answers :class:`PoolAssignResult` (ADR 0003)."""

    corr: Corr
    visit: VisitId
    card: PoolCardNumber


# --------------------------------------------------------------------------- events
@message("visit.local_sign_in")
class VisitLocalSignIn(_VisitorText, Event):
    """A sign-in the kiosk decided alone (hub away), queued in the outbox; no date of birth."""

    visit: VisitId
    token_sha256: TokenHash
    category: Category
    first: PersonName
    last: PersonName
    id_source: Literal["scanned", "typed"]
    host: RefId | None = None
    destination: RefId | None = None
    purpose: FreeText = ""
    company: FreeText = ""
    photo_jpeg: PhotoB64 = ""
    signed_in_at: Timestamp
    #: what the cached list said: clear (badge printed), possible_match or stale (held)
    screening: Literal["clear", "possible_match", "stale"]
    hits: list[Annotated[int, Field(ge=0)]] = Field(default_factory=list, max_length=50)
    cache_version: Seq | None = None
    escort_required: bool = False
    expires_at: Timestamp | None = None


@message("visit.abandoned")
class VisitAbandoned(Event):
    """An admitted sign-in whose badge could not be printed: the visit never started."""

    visit: VisitId
    reason: Literal["printer", "cancelled", "timeout"]
    severity: Literal["info", "warning", "critical"] = "warning"


# --------------------------------------------------------------------------- hub -> kiosk
@message("visit.decided")
class VisitDecided(_VisitorText):
    """On ``hub/<kiosk>/resp`` (no ``corr``): the front desk's verdict on a sign-in held at that kiosk.

    ``admit``: print the visitor's badge now; the hub repeats it until the kiosk's
    ``visit.signed_in`` for the visit arrives. ``refuse``: the visit is over; print nothing.
    See ADR 0004.
    """

    visit: VisitId
    decision: Literal["admit", "refuse"]
    escort_required: bool = False
    expires_at: Timestamp | None = None
    host_name: FreeText = ""
    destination_name: FreeText = ""


# --------------------------------------------------------------------------- resp data
class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class SignInResult(_Data):
    """``resp.data`` for ``visit.sign_in``: admitted (print the badge) or held (see the desk)."""

    outcome: Literal["admitted", "held"]
    visit: VisitId
    escort_required: bool = False
    expires_at: Timestamp | None = None
    host_name: FreeText = ""
    destination_name: FreeText = ""
    building_name: FreeText = ""


class SignOutResult(_Data):
    """``resp.data`` for ``visit.sign_out``."""

    visit: VisitId
    label: FreeText
    #: the pool card this visit held (now deactivated): ask the visitor to hand it back
    pool_card: PoolCardNumber | None = None


class FindMatch(_Data):
    """One open visit of the person who searched: only ``First L.`` and the time in."""

    visit: VisitId
    label: FreeText
    signed_in_at: Timestamp


class FindResult(_Data):
    """``resp.data`` for ``visit.find``."""

    matches: list[FindMatch] = Field(default_factory=list, max_length=5)


class DirectoryEntry(_Data):
    """A host (staff member) or a destination (office, room)."""

    id: RefId
    name: FreeText
    detail: FreeText = ""


class DirectoryResult(_Data):
    """``resp.data`` for ``visit.directory``."""

    version: Seq
    building: FreeText = ""
    tz: Annotated[str, Field(max_length=64)] = "UTC"
    hosts: list[DirectoryEntry] = Field(default_factory=list, max_length=5000)
    destinations: list[DirectoryEntry] = Field(default_factory=list, max_length=1000)
    visit_hours: Annotated[int, Field(ge=1, le=24)] = 8
    closing: Annotated[str, Field(pattern=r"^(?:[01]\d|2[0-3]):[0-5]\d$")] = "18:00"
    #: the building lends numbered pool cards to visitors (ADR 0003)
    pool_cards: bool = False


class PoolAssignResult(_Data):
    """``resp.data`` for ``visit.pool_assign``: the card is active until ``expires_at``."""

    visit: VisitId
    card: PoolCardNumber
    expires_at: Timestamp
    #: how many doors the card now opens (records rooms only with an escort)
    doors: Annotated[int, Field(ge=0)] = 0


class WatchlistResult(_Data):
    """``resp.data`` for ``visit.watchlist``: one page of ``[id, [name keys], [dob keys]]``."""

    version: Seq
    issued_at: Timestamp
    max_age_s: Annotated[int, Field(ge=60, le=7 * 86400)]
    secret: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    nicknames: list[list[str]] = Field(default_factory=list, max_length=2000)
    page: Annotated[int, Field(ge=0)]
    pages: Annotated[int, Field(ge=1)]
    entries: list[tuple[int, list[str], list[str]]] = Field(default_factory=list)
    #: the kiosk's ``have_version`` is current: keep the cache, it is confirmed as of ``issued_at``
    unchanged: bool = False


#: Error words a ``resp`` may carry for these requests (``resp.error``).
ERRORS = ("bad_request", "unknown_badge", "visit_closed", "unknown_host", "unknown_destination",
          "unknown_kiosk", "not_found", "internal",
          # visit.pool_assign (ADR 0003)
          "pool_disabled", "unknown_card", "card_other_building", "card_in_use", "card_retired",
          "visit_held")
