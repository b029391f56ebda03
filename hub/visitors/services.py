"""Visitor use-cases: screen and record sign-ins, sign-outs, desk decisions, the watch list.

Each function takes a session (the caller commits) and ``now``; the bridge handlers, the
desk pages and the CLI all call these. Errors are :class:`VisitorError` with a short ``reason``
that travels back to the kiosk as ``resp.error``.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.models import Building, Device, Person
from hub.services.alerts import raise_alert
from hub.visitors import schedule, screening
from hub.visitors.models import (
    OPEN_STATES, VisitDestination, VisitHold, VisitPhotoKey, VisitRecord, WatchDismissal, WatchEntry,
    WatchListState,
)

log = logging.getLogger("gatehouse.hub.visitors")

WATCH_KINDS = ("banned", "custody", "no_contact")
MAX_PHOTO_BYTES = 90_000


class VisitorError(ValueError):
    """A visitor request that cannot be done; ``reason`` is one word from ``link.visits.ERRORS``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass
class VisitorSettings:
    """What the visitor use-cases need beyond the database."""

    #: keys the person fingerprint that remembers dismissed false matches
    fingerprint_key: bytes
    watch_max_age_s: int = 86400
    #: entries per page; 2,000 keeps a page well under the 1 MiB payload cap
    watch_page_size: int = 2000
    visit_hours: int = 8
    closing: str = "18:00"
    #: days a visit's photo is kept after the visit ends, then its key is destroyed
    photo_retention_days: int = 30
    _index: tuple[int, screening.WatchIndex] | None = field(default=None, repr=False)

    @classmethod
    def from_site_key(cls, site_key: bytes, **kw) -> VisitorSettings:
        """Derive the fingerprint key from the hub's site key (``hub.keyring.Keyring.site_key``)."""
        derived = hashlib.sha256(b"gatehouse visitor fingerprint\x00" + site_key).digest()
        return cls(fingerprint_key=derived, **kw)


# --------------------------------------------------------------------------- helpers
def token_hash(token: str) -> str:
    """What the hub keeps of a badge token."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _kiosk(session: Session, device_id: str) -> Device:
    device = session.get(Device, device_id)
    if device is None or device.kind != "kiosk" or device.status != "active":
        raise VisitorError("unknown_kiosk", device_id)
    return device


def _zone(building: Building | None) -> ZoneInfo:
    try:
        return ZoneInfo(building.tz if building else "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _closing_at(settings: VisitorSettings, building: Building | None, now: datetime) -> datetime:
    zone = _zone(building)
    local = now.astimezone(zone)
    hh, mm = (int(p) for p in settings.closing.split(":"))
    return datetime.combine(local.date(), time(hh, mm), zone).astimezone(UTC)


def expiry(settings: VisitorSettings, building: Building | None, now: datetime) -> datetime:
    """A badge is valid for ``visit_hours``, never past the building's closing time."""
    until = now + timedelta(hours=settings.visit_hours)
    closing = _closing_at(settings, building, now)
    return min(until, closing) if closing > now else until


def _encrypt_photo(session: Session, photo_b64: str, visit_id: str, now: datetime) -> tuple[bytes | None, int | None]:
    if not photo_b64:
        return None, None
    try:
        raw = base64.b64decode(photo_b64, validate=True)
    except ValueError:
        raise VisitorError("bad_request", "photo is not base64") from None
    if len(raw) > MAX_PHOTO_BYTES or not raw.startswith(b"\xff\xd8"):
        raise VisitorError("bad_request", "photo must be a JPEG under 90 KB")
    key = VisitPhotoKey(key=AESGCM.generate_key(bit_length=256), created_at=now)
    session.add(key)
    session.flush()
    nonce = secrets.token_bytes(12)
    blob = nonce + AESGCM(key.key).encrypt(nonce, raw, f"visit-photo:{visit_id}".encode())
    return blob, key.id


def photo_bytes(session: Session, visit: VisitRecord) -> bytes | None:
    """The visit's JPEG, or None when it had none or its key was shredded."""
    if visit.photo is None or visit.photo_key_id is None:
        return None
    key = session.get(VisitPhotoKey, visit.photo_key_id)
    if key is None:
        return None
    return AESGCM(key.key).decrypt(visit.photo[:12], visit.photo[12:], f"visit-photo:{visit.id}".encode())


def _host(session: Session, building_id: str, host_id: str | None) -> Person | None:
    if not host_id:
        return None
    person = session.scalars(select(Person).where(Person.staff_id == host_id)).first()
    if person is None or person.status != "active" or person.kind != "staff":
        raise VisitorError("unknown_host", host_id)
    if building_id not in {b.id for b in person.buildings}:
        raise VisitorError("unknown_host", host_id)
    return person


def _destination(session: Session, building_id: str, slug: str | None) -> VisitDestination | None:
    if not slug:
        return None
    dest = session.scalars(select(VisitDestination).where(
        VisitDestination.building_id == building_id, VisitDestination.slug == slug,
        VisitDestination.active.is_(True))).first()
    if dest is None:
        raise VisitorError("unknown_destination", slug)
    return dest


def escort_required(session: Session, category: str, company: str) -> bool:
    """A contractor or vendor whose company has no data privacy agreement on file is escorted."""
    if category != "contractor":
        return False
    wanted = screening.normalise(company)
    if not wanted:
        return True
    vendors = session.scalars(select(Person).where(Person.kind == "vendor", Person.status == "active"))
    return not any(v.has_dpa and screening.normalise(v.company) == wanted for v in vendors)


# --------------------------------------------------------------------------- watch list
def watch_state(session: Session, now: datetime) -> WatchListState:
    """The watch list's version row (created on first use)."""
    state = session.scalars(select(WatchListState).order_by(WatchListState.id)).first()
    if state is None:
        state = WatchListState(version=1, cache_secret=secrets.token_bytes(32), changed_at=now)
        session.add(state)
        session.flush()
    return state


def _bump(session: Session, now: datetime) -> None:
    state = watch_state(session, now)
    state.version += 1
    state.cache_secret = secrets.token_bytes(32)
    state.changed_at = now


def add_watch_entry(session: Session, *, first: str, last: str, dob: date | None, kind: str,
                    now: datetime, note: str = "", building_id: str | None = None,
                    by: str = "", source: str = "manual") -> WatchEntry:
    """Add one person to the watch list."""
    first, last = " ".join(first.split())[:64], " ".join(last.split())[:64]
    if not first or not last:
        raise VisitorError("bad_request", "first and last name are required")
    if kind not in WATCH_KINDS:
        raise VisitorError("bad_request", f"kind must be one of {', '.join(WATCH_KINDS)}")
    entry = WatchEntry(first=first, last=last, dob=dob, kind=kind, note=note[:500], building_id=building_id,
                       source=source, created_at=now, created_by=by[:64])
    session.add(entry)
    _bump(session, now)
    session.flush()
    return entry


@dataclass
class ImportReport:
    """What a CSV import did: entries added and the rows refused, by line number."""

    added: int = 0
    errors: list[str] = field(default_factory=list)


def import_watch_csv(session: Session, text: str, *, now: datetime, by: str = "",
                     building_id: str | None = None, max_rows: int = 100_000) -> ImportReport:
    """Import ``first,last,dob,kind,note`` rows (header required; dob ``YYYY-MM-DD`` or empty)."""
    report = ImportReport()
    try:
        return _import_rows(session, csv.DictReader(io.StringIO(text, newline="")), report, now=now, by=by,
                            building_id=building_id, max_rows=max_rows)
    except csv.Error as exc:
        raise VisitorError("bad_request", f"not a readable CSV: {exc}") from None


def _import_rows(session: Session, reader: csv.DictReader, report: ImportReport, *, now: datetime, by: str,
                 building_id: str | None, max_rows: int) -> ImportReport:
    needed = {"first", "last", "dob", "kind"}
    if reader.fieldnames is None or not needed <= {f.strip().lower() for f in reader.fieldnames if f}:
        raise VisitorError("bad_request", "the CSV needs a header with first,last,dob,kind[,note]")
    rows = []
    for line_no, row in enumerate(reader, start=2):
        if line_no - 1 > max_rows:
            report.errors.append(f"line {line_no}: more than {max_rows} rows; the rest was not read")
            break
        row = {(k or "").strip().lower(): (v if isinstance(v, str) else "") for k, v in row.items()}
        first, last = row.get("first", "").strip(), row.get("last", "").strip()
        kind = row.get("kind", "").strip().lower() or "banned"
        dob_text = row.get("dob", "").strip()
        try:
            dob = date.fromisoformat(dob_text) if dob_text else None
        except ValueError:
            report.errors.append(f"line {line_no}: dob {dob_text[:20]!r} is not YYYY-MM-DD")
            continue
        if not first or not last:
            report.errors.append(f"line {line_no}: first and last name are required")
            continue
        if kind not in WATCH_KINDS:
            report.errors.append(f"line {line_no}: kind {kind[:20]!r} is not one of {', '.join(WATCH_KINDS)}")
            continue
        if any(ord(c) < 32 for c in first + last):
            report.errors.append(f"line {line_no}: control characters in the name")
            continue
        rows.append(WatchEntry(first=first[:64], last=last[:64], dob=dob, kind=kind,
                               note=row.get("note", "")[:500], building_id=building_id, source="csv",
                               created_at=now, created_by=by[:64]))
    session.add_all(rows)
    report.added = len(rows)
    if rows:
        _bump(session, now)
    session.flush()
    return report


def _active_entries(session: Session, building_id: str | None) -> Iterable[WatchEntry]:
    stmt = select(WatchEntry).where(WatchEntry.active.is_(True))
    if building_id is not None:
        stmt = stmt.where((WatchEntry.building_id.is_(None)) | (WatchEntry.building_id == building_id))
    return session.scalars(stmt)


def watch_index(session: Session, settings: VisitorSettings, now: datetime) -> screening.WatchIndex:
    """The matcher over every active entry, rebuilt only when the list's version changed."""
    state = watch_state(session, now)
    if settings._index is None or settings._index[0] != state.version:
        entries = (screening.WatchEntry(e.id, e.first, e.last, e.dob) for e in _active_entries(session, None))
        settings._index = (state.version, screening.WatchIndex.build(entries))
    return settings._index[1]


def _building_scope(session: Session, building_id: str, hits: Iterable[int]) -> list[int]:
    if not hits:
        return []
    rows = session.scalars(select(WatchEntry.id).where(
        WatchEntry.id.in_(list(hits)),
        (WatchEntry.building_id.is_(None)) | (WatchEntry.building_id == building_id)))
    return sorted(rows)


def watchlist_page(session: Session, settings: VisitorSettings, device_id: str, page: int,
                   now: datetime, have_version: int | None = None) -> dict:
    """One page of the hashed cache for a kiosk (its building's entries and district-wide ones).

    When ``have_version`` is the current version the answer is ``unchanged`` with no entries:
    the kiosk's copy is confirmed current as of ``now``.
    """
    device = _kiosk(session, device_id)
    state = watch_state(session, now)
    if have_version is not None and have_version == state.version:
        return {"version": state.version, "issued_at": _ts(now), "max_age_s": settings.watch_max_age_s,
                "secret": state.cache_secret.hex(), "page": 0, "pages": 1, "entries": [], "unchanged": True}
    scope = (WatchEntry.active.is_(True)) & (
        (WatchEntry.building_id.is_(None)) | (WatchEntry.building_id == device.building_id))
    total = session.scalar(select(func.count()).select_from(WatchEntry).where(scope)) or 0
    size = settings.watch_page_size
    pages = max(1, -(-total // size))
    if page >= pages:
        raise VisitorError("not_found", f"page {page} of {pages}")
    chunk = session.execute(select(WatchEntry.id, WatchEntry.first, WatchEntry.last, WatchEntry.dob)
                            .where(scope).order_by(WatchEntry.id).offset(page * size).limit(size))
    rows = screening.cache_entries((screening.WatchEntry(*row) for row in chunk), state.cache_secret)
    return {
        "version": state.version, "issued_at": _ts(now), "max_age_s": settings.watch_max_age_s,
        "secret": state.cache_secret.hex(), "nicknames": [list(g) for g in screening.NICKNAMES],
        "page": page, "pages": pages, "entries": rows,
    }


# --------------------------------------------------------------------------- sign-in
def _ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hold(session: Session, visit: VisitRecord, reason: str, hits: list[int], now: datetime) -> VisitHold:
    hold = VisitHold(visit_id=visit.id, reason=reason, entry_ids=hits, created_at=now)
    session.add(hold)
    session.flush()
    # Silent to the visitor: the kiosk only says "please see the front desk".
    raise_alert(session, key=f"visit-hold:{visit.id}", kind="watchlist_hit" if hits else "visit_held",
                severity="critical" if hits else "warning",
                message=(f"Sign-in held for the desk at {visit.device_id}: {visit.label} "
                         f"({'possible watch-list match' if hits else 'screening could not run'})"),
                now=now, building_id=visit.building_id, device_id=visit.device_id)
    log.info("visit held visit=%s reason=%s entries=%d", visit.id, reason, len(hits))
    return hold


def _existing(session: Session, visit_id: str, device_id: str) -> VisitRecord | None:
    visit = session.get(VisitRecord, visit_id)
    if visit is not None and visit.device_id != device_id:
        raise VisitorError("bad_request", "visit id already used by another kiosk")
    return visit


def _result(visit: VisitRecord, building: Building | None) -> dict:
    return {
        "outcome": "held" if visit.status in ("held", "refused") else "admitted",
        "visit": visit.id,
        "escort_required": visit.escort_required, "expires_at": _ts(visit.expires_at),
        "host_name": visit.host_name, "destination_name": visit.destination_name,
        "building_name": building.name if building else "",
    }


def sign_in(session: Session, settings: VisitorSettings, device_id: str, body, now: datetime) -> dict:
    """Screen a visitor and record the visit: ``admitted`` (print) or ``held`` (see the desk).

    ``body`` is a ``visit.sign_in`` body. Its date of birth is used for screening and the
    fingerprint here, and stored nowhere. A repeated request (same visit id) gets the same answer.
    """
    device = _kiosk(session, device_id)
    building = session.get(Building, device.building_id)
    existing = _existing(session, body.visit, device_id)
    if existing is not None:
        return _result(existing, building)
    host = _host(session, device.building_id, body.host)
    dest = _destination(session, device.building_id, body.destination)
    dob = date.fromisoformat(body.dob) if body.dob else None
    index = watch_index(session, settings, now)
    fingerprint = screening.person_fingerprint(settings.fingerprint_key, body.first, body.last, dob)
    dismissed = session.scalars(select(WatchDismissal.entry_id).where(WatchDismissal.fingerprint == fingerprint))
    verdict = index.screen(body.first, body.last, dob, dismissed=list(dismissed))
    hits = _building_scope(session, device.building_id, verdict.hits)
    del dob  # data minimisation: the date of birth goes no further than screening
    visit = VisitRecord(
        id=body.visit, device_id=device_id, building_id=device.building_id,
        status="held" if hits else "pending", category=body.category, first=body.first, last=body.last,
        company=body.company, purpose=body.purpose,
        host_id=host.staff_id if host else None, host_name=host.name if host else "",
        destination_id=dest.slug if dest else None, destination_name=dest.name if dest else "",
        escort_required=escort_required(session, body.category, body.company),
        id_source=body.id_source, screened_by="hub", offline=False,
        token_hash=body.token_sha256, fingerprint=fingerprint,
        signed_in_at=now, expires_at=expiry(settings, building, now))
    visit.photo, visit.photo_key_id = _encrypt_photo(session, body.photo_jpeg, body.visit, now)
    session.add(visit)
    session.flush()
    if hits:
        _hold(session, visit, "possible_match", hits, now)
    return _result(visit, building)


def record_local_sign_in(session: Session, device_id: str, body, now: datetime,
                         settings: VisitorSettings | None = None) -> VisitRecord:
    """Record a sign-in a kiosk decided alone while the hub was away (``visit.local_sign_in``)."""
    device = _kiosk(session, device_id)
    existing = _existing(session, body.visit, device_id)
    if existing is not None:
        return existing
    at = datetime.fromisoformat(body.signed_in_at.replace("Z", "+00:00"))
    held = body.screening != "clear"
    host = session.scalars(select(Person).where(Person.staff_id == body.host)).first() if body.host else None
    dest = session.scalars(select(VisitDestination).where(
        VisitDestination.building_id == device.building_id, VisitDestination.slug == body.destination)).first() \
        if body.destination else None
    visit = VisitRecord(
        id=body.visit, device_id=device_id, building_id=device.building_id,
        status="held" if held else "on_site", category=body.category, first=body.first, last=body.last,
        company=body.company, purpose=body.purpose,
        host_id=body.host, host_name=host.name if host else "",
        destination_id=body.destination, destination_name=dest.name if dest else "",
        escort_required=body.escort_required or escort_required(session, body.category, body.company),
        id_source=body.id_source, screened_by="kiosk_cache", offline=True,
        token_hash=body.token_sha256, fingerprint=None, signed_in_at=at,
        expires_at=datetime.fromisoformat(body.expires_at.replace("Z", "+00:00")) if body.expires_at else None,
        printed_at=None if held else at)
    visit.photo, visit.photo_key_id = _encrypt_photo(session, body.photo_jpeg, body.visit, now)
    session.add(visit)
    session.flush()
    # The kiosk's verdict is not trusted blindly: screen again against the list as it is now
    # (entries added since the kiosk's copy, a kiosk that got it wrong). No date of birth ever
    # leaves the kiosk in an offline sign-in, so this check is by name alone.
    rescreened = _rescreen(session, settings, visit, now) if settings is not None else []
    kiosk_hits = _building_scope(session, device.building_id, body.hits)
    if held:
        _hold(session, visit, "possible_match" if body.screening == "possible_match" else "stale_cache",
              sorted(set(kiosk_hits) | set(rescreened)), now)
    elif rescreened:
        _onsite_match(session, visit, rescreened, now)
    return visit


def _rescreen(session: Session, settings: VisitorSettings, visit: VisitRecord, now: datetime) -> list[int]:
    """Entry ids of the building's watch list that the visitor's name matches now (no date of birth)."""
    verdict = watch_index(session, settings, now).screen(visit.first, visit.last, None, dismissed=[])
    return _building_scope(session, visit.building_id, verdict.hits)


def _onsite_match(session: Session, visit: VisitRecord, hits: list[int], now: datetime) -> VisitHold:
    """A visitor the kiosk admitted offline matches the list: the desk must go and find them."""
    hold = VisitHold(visit_id=visit.id, reason="onsite_match", entry_ids=hits, created_at=now)
    session.add(hold)
    session.flush()
    raise_alert(session, key=f"visit-hold:{visit.id}", kind="watchlist_hit", severity="critical",
                message=(f"Possible watch-list match ALREADY ON SITE: {visit.label} signed in at "
                         f"{visit.device_id} at {_ts(visit.signed_in_at)} while the hub was away, "
                         f"and has a badge"),
                now=now, building_id=visit.building_id, device_id=visit.device_id)
    log.warning("offline visitor matches the watch list visit=%s entries=%d", visit.id, len(hits))
    return hold


def confirm_printed(session: Session, device_id: str, visit_id: str, now: datetime) -> VisitRecord | None:
    """``visit.signed_in``: the badge printed, the visitor is on site."""
    visit = session.get(VisitRecord, visit_id)
    if visit is None or visit.device_id != device_id:
        log.warning("signed_in for unknown visit device=%s visit=%s", device_id, visit_id)
        return None
    if visit.status == "pending":
        visit.status = "on_site"
    visit.printed_at = visit.printed_at or now
    return visit


def abandon(session: Session, device_id: str, visit_id: str, now: datetime) -> VisitRecord | None:
    """``visit.abandoned``: admitted but no badge printed, so the visit never started."""
    visit = session.get(VisitRecord, visit_id)
    if visit is None or visit.device_id != device_id or visit.status != "pending":
        return None
    visit.status = "abandoned"
    visit.signed_out_at = now
    return visit


# --------------------------------------------------------------------------- sign-out
def _close(visit: VisitRecord, how: str, now: datetime) -> None:
    visit.status = "closed_unsigned" if how == "closing" else "signed_out"
    visit.signed_out_at = now
    visit.signed_out_how = how


def sign_out(session: Session, device_id: str, *, how: str, now: datetime, token: str | None = None,
             visit_id: str | None = None) -> dict:
    """Close an open visit of this kiosk's building by badge token or visit id."""
    device = _kiosk(session, device_id)
    if token:
        visit = session.scalars(select(VisitRecord).where(VisitRecord.token_hash == token_hash(token))).first()
    elif visit_id:
        visit = session.get(VisitRecord, visit_id)
    else:
        raise VisitorError("bad_request", "a token or a visit id is needed")
    if visit is None or visit.building_id != device.building_id:
        raise VisitorError("unknown_badge")
    if visit.status not in ("on_site", "pending"):
        raise VisitorError("visit_closed", visit.status)
    _close(visit, how, now)
    card = _end_pool_loan(session, visit, how, now)
    return {"visit": visit.id, "label": visit.label, **({"pool_card": card} if card else {})}


def _end_pool_loan(session: Session, visit: VisitRecord, how: str, now: datetime) -> int | None:
    """A closed visit's pool card (ADR 0003) is revoked at every door; its number, if it had one."""
    from hub.visitors import pool  # NOTE: lazy, pool imports this module

    return pool.on_visit_closed(session, visit, how, now)


def record_sign_out(session: Session, device_id: str, visit_id: str, how: str, now: datetime) -> None:
    """``visit.signed_out`` event (a sign-out the kiosk did alone): close if still open."""
    visit = session.get(VisitRecord, visit_id)
    if visit is None:
        log.warning("signed_out for unknown visit device=%s visit=%s", device_id, visit_id)
        return
    if visit.status in ("on_site", "pending"):
        _close(visit, how, now)
        _end_pool_loan(session, visit, how, now)


def find_own_visit(session: Session, device_id: str, first: str, last: str) -> dict:
    """Open visits in this building whose name is exactly the caller's (accents and case aside).

    Only ``First L.`` and the time in are returned: a search never shows anyone else's name.
    """
    device = _kiosk(session, device_id)
    want = (screening.normalise(first), screening.normalise(last))
    if not all(want):
        return {"matches": []}
    rows = session.scalars(select(VisitRecord).where(
        VisitRecord.building_id == device.building_id, VisitRecord.status.in_(("on_site", "pending")))
        .order_by(VisitRecord.signed_in_at))
    matches = [{"visit": v.id, "label": v.label, "signed_in_at": _ts(v.signed_in_at)} for v in rows
               if (screening.normalise(v.first), screening.normalise(v.last)) == want]
    return {"matches": matches[:5]}


# --------------------------------------------------------------------------- directory
def directory(session: Session, settings: VisitorSettings, device_id: str, now: datetime) -> dict:
    """Hosts (active staff of the building) and destinations for a kiosk's pick lists."""
    device = _kiosk(session, device_id)
    building = session.get(Building, device.building_id)
    hosts = [p for p in session.scalars(select(Person).where(Person.kind == "staff", Person.status == "active")
                                        .order_by(Person.name))
             if device.building_id in {b.id for b in p.buildings}]
    dests = session.scalars(select(VisitDestination).where(
        VisitDestination.building_id == device.building_id, VisitDestination.active.is_(True))
        .order_by(VisitDestination.name))
    host_rows = [{"id": p.staff_id, "name": p.name[:120], "detail": p.title[:120]} for p in hosts]
    dest_rows = [{"id": d.slug, "name": d.name} for d in dests]
    from hub.visitors import pool  # NOTE: lazy, pool imports this module

    pool_cards = pool.is_enabled(session, device.building_id)
    digest = hashlib.sha256(repr((host_rows, dest_rows, settings.closing, pool_cards)).encode()).digest()
    return {"version": int.from_bytes(digest[:6], "big"), "building": building.name if building else "",
            "tz": building.tz if building else "UTC", "hosts": host_rows, "destinations": dest_rows,
            "visit_hours": settings.visit_hours, "closing": settings.closing, "pool_cards": pool_cards}


def add_destination(session: Session, building_id: str, slug: str, name: str) -> VisitDestination:
    """Add a place visitors may be sent to."""
    dest = VisitDestination(building_id=building_id, slug=slug, name=name[:120])
    session.add(dest)
    session.flush()
    return dest


# --------------------------------------------------------------------------- the desk
def open_holds(session: Session, building_id: str | None = None) -> list[VisitHold]:
    """Holds still waiting for (or marked not sure by) the desk, oldest first.

    Besides held sign-ins, a visitor already on site whom the hub's re-screening matched
    (``onsite_match``) stays listed until the desk decides.
    """
    waiting_on_site = ((VisitHold.reason == "onsite_match") & VisitRecord.status.in_(("on_site", "pending"))
                       & ((VisitHold.decision.is_(None)) | (VisitHold.decision == "not_sure")))
    stmt = (select(VisitHold).join(VisitRecord).where((VisitRecord.status == "held") | waiting_on_site)
            .order_by(VisitHold.created_at))
    if building_id is not None:
        stmt = stmt.where(VisitRecord.building_id == building_id)
    return list(session.scalars(stmt))


def decide_hold(session: Session, hold_id: int, decision: str, *, by: str, now: datetime,
                false_match: bool = False) -> VisitHold:
    """The desk's answer: ``admit`` (optionally a remembered false match), ``refuse`` or ``not_sure``."""
    hold = session.get(VisitHold, hold_id)
    if hold is None:
        raise VisitorError("not_found", f"hold {hold_id}")
    if decision not in ("admit", "refuse", "not_sure"):
        raise VisitorError("bad_request", "decision must be admit, refuse or not_sure")
    visit = hold.visit
    on_site_already = hold.reason == "onsite_match"
    if on_site_already:
        if visit.status not in ("on_site", "pending") or hold.decision in ("admit", "refuse"):
            raise VisitorError("visit_closed", visit.status)
    elif visit.status != "held":
        raise VisitorError("visit_closed", visit.status)
    hold.decision, hold.decided_by, hold.decided_at = decision, by[:64], now
    if decision == "admit":
        visit.status = "on_site" if not on_site_already else visit.status
        if false_match and visit.fingerprint:
            hold.false_match = True
            for entry_id in hold.entry_ids:
                if session.scalars(select(WatchDismissal).where(
                        WatchDismissal.entry_id == entry_id,
                        WatchDismissal.fingerprint == visit.fingerprint)).first() is None:
                    session.add(WatchDismissal(entry_id=entry_id, fingerprint=visit.fingerprint,
                                               created_at=now, created_by=by[:64]))
    elif decision == "refuse":
        visit.status = "refused"
        visit.signed_out_at = now
        visit.signed_out_how = "desk"
    session.flush()
    return hold


#: how long after the desk's decision the hub keeps telling the kiosk (then the desk hands a badge over)
DECISION_WINDOW = timedelta(minutes=30)


@dataclass(frozen=True)
class DeskDecision:
    """A desk decision the kiosk that holds the visit must hear (``visit.decided``)."""

    hold_id: int
    device_id: str
    visit_id: str
    decision: str  # admit | refuse
    decided_at: datetime
    escort_required: bool
    expires_at: str | None
    host_name: str
    destination_name: str


def decisions_to_tell(session: Session, now: datetime, window: timedelta = DECISION_WINDOW) -> list[DeskDecision]:
    """Admits whose badge has not printed yet, and refusals, decided within ``window`` of ``now``."""
    holds = session.scalars(select(VisitHold).join(VisitRecord).where(
        VisitHold.decision.in_(("admit", "refuse")), VisitHold.decided_at >= now - window)
        .order_by(VisitHold.decided_at))
    out = []
    for hold in holds:
        visit = hold.visit
        if hold.decision == "admit" and (visit.status != "on_site" or visit.printed_at is not None):
            continue  # printed (the kiosk's visit.signed_in came back), or closed since
        if hold.decision == "refuse" and visit.status != "refused":
            continue
        out.append(DeskDecision(hold.id, visit.device_id, visit.id, hold.decision, hold.decided_at,
                                visit.escort_required, _ts(visit.expires_at), visit.host_name[:120],
                                visit.destination_name[:120]))
    return out


def on_site(session: Session, building_id: str) -> list[VisitRecord]:
    """Visitors signed in and not out (the emergency roster)."""
    return list(session.scalars(select(VisitRecord).where(
        VisitRecord.building_id == building_id, VisitRecord.status.in_(OPEN_STATES))
        .order_by(VisitRecord.signed_in_at)))


def close_at_closing(session: Session, building_id: str, now: datetime, *,
                     signed_in_before: datetime | None = None) -> list[VisitRecord]:
    """Close every visit still open as ``not signed out``; return them for the desk's list.

    With ``signed_in_before``, only visits that began before that instant (an evening visitor
    who signed in after closing time is left alone until the next one).
    """
    still = [v for v in on_site(session, building_id) if v.status in ("on_site", "pending")
             and (signed_in_before is None or v.signed_in_at < signed_in_before)]
    for visit in still:
        _close(visit, "closing", now)
        _end_pool_loan(session, visit, "closing", now)
    if still:
        raise_alert(session, key=f"not-signed-out:{building_id}:{now.date().isoformat()}",
                    kind="visits_not_signed_out", severity="warning",
                    message=f"{len(still)} visit(s) not signed out at closing time",
                    now=now, building_id=building_id)
    session.flush()
    return still


def shred_photos(session: Session, *, older_than: datetime) -> int:
    """Destroy the photo keys of visits that ended before ``older_than``; return how many."""
    visits = session.scalars(select(VisitRecord).where(
        VisitRecord.photo_key_id.is_not(None), VisitRecord.signed_out_at.is_not(None),
        VisitRecord.signed_out_at < older_than))
    count = 0
    for visit in visits:
        key = session.get(VisitPhotoKey, visit.photo_key_id)
        if key is not None:
            session.delete(key)
        visit.photo_key_id = None
        visit.photo = None
        count += 1
    session.flush()
    return count


def close_due(session: Session, settings: VisitorSettings, now: datetime) -> list[VisitRecord]:
    """At each building's last closing time before ``now``, close the visits that began before it.

    Idempotent (a closed visit is no longer open) and late-proof: run after a hub outage, it
    closes them at the closing time, not at the time it ran.
    """
    buildings = session.scalars(select(VisitRecord.building_id).where(
        VisitRecord.status.in_(("on_site", "pending"))).distinct()).all()
    closed: list[VisitRecord] = []
    for building_id in sorted(buildings):
        building = session.get(Building, building_id)
        closing = schedule.last_closing(now, building.tz if building else None, settings.closing)
        done = close_at_closing(session, building_id, closing, signed_in_before=closing)
        if done:
            log.info("closing time building=%s closed=%d", building_id, len(done))
        closed += done
    return closed


def shred_due(session: Session, settings: VisitorSettings, now: datetime) -> int:
    """Shred the photos of visits that ended more than ``photo_retention_days`` ago; how many."""
    count = shred_photos(session, older_than=schedule.photo_cutoff(now, settings.photo_retention_days))
    if count:
        log.info("photos shredded count=%d retention_days=%d", count, settings.photo_retention_days)
    return count
