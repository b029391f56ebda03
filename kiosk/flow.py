"""The sign-in flow as pure data: one visitor's draft, which step comes next, when it expires.

Steps, in order: category -> id (scan the licence, or type the name) -> photo -> host and
destination -> confirm. A page for a later step is refused until the earlier ones are done, and
the draft is forgotten after ``idle_s`` without a touch (policy VII.B: lock the screen), or as
soon as the sign-in ends. The date of birth lives only in the draft, only until screening.

Pure: ``now`` is passed in.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

CATEGORIES = ("visitor", "contractor", "volunteer", "parent")
LANGUAGES = ("en", "es", "pt")
STEPS = ("category", "id", "photo", "host", "confirm")


@dataclass(frozen=True)
class Draft:
    """What one visitor has entered so far (server-side only; the browser holds a random id)."""

    id: str
    lang: str
    started_at: datetime
    touched_at: datetime
    category: str | None = None
    first: str = ""
    last: str = ""
    dob: date | None = field(default=None, repr=False)
    id_source: str | None = None
    photo_jpeg: bytes | None = field(default=None, repr=False)
    host: str | None = None
    destination: str | None = None
    company: str = ""
    purpose: str = ""
    where_chosen: bool = False


def new_draft(lang: str, now: datetime) -> Draft:
    """A fresh, empty draft."""
    return Draft(id=secrets.token_urlsafe(16), lang=lang if lang in LANGUAGES else "en",
                 started_at=now, touched_at=now)


def touch(draft: Draft, now: datetime, **changes) -> Draft:
    """The draft with ``changes`` applied and its idle clock reset."""
    return replace(draft, touched_at=now, **changes)


def is_expired(draft: Draft, now: datetime, idle_s: float) -> bool:
    """True once the visitor has not touched the screen for ``idle_s``."""
    return now - draft.touched_at >= timedelta(seconds=idle_s)


def next_step(draft: Draft) -> str:
    """The first step not done yet (``confirm`` when all are)."""
    if draft.category is None:
        return "category"
    if not (draft.first and draft.last and draft.id_source):
        return "id"
    if draft.photo_jpeg is None:
        return "photo"
    if not draft.where_chosen:
        return "host"
    return "confirm"


def may_enter(draft: Draft, step: str) -> bool:
    """True when every step before ``step`` is done."""
    return STEPS.index(step) <= STEPS.index(next_step(draft))


def forget_dob(draft: Draft) -> Draft:
    """The draft without its date of birth (after screening)."""
    return replace(draft, dob=None)
