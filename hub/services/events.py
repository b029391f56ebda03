"""Device events: stored once per (device, seq), their side effects, and search with cursors."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from link import messages as m
from hub.models import Device, Door, Event
from hub.services import alerts
from hub.services.errors import Invalid


@dataclass(frozen=True)
class IncomingEvent:
    """A verified event envelope, ready to store."""

    device_id: str
    seq: int
    type: str
    at: datetime
    body: m.Body


def _row(item: IncomingEvent, building_id: str | None, now: datetime) -> dict[str, Any]:
    body = item.body
    # NOTE: a body's fields are in its __dict__; getattr on a missing one goes through
    # pydantic's slow __getattr__ and an exception, once per event.
    fields = body.__dict__
    return {
        "device_id": item.device_id, "seq": item.seq, "type": item.type, "at": item.at,
        "received_at": now, "building_id": building_id,
        "door_id": fields.get("door"), "holder": fields.get("holder"),
        "cred": fields.get("cred"), "reason": fields.get("reason"),
        "severity": fields.get("severity", "info"), "body": _stored_body(body),
    }


#: Body fields never kept in the event log: a visitor's photo goes only to the visitor record,
#: encrypted and crypto-shredded on schedule (hub.visitors), never into plain JSON.
_NOT_LOGGED = frozenset({"photo_jpeg"})


def _stored_body(body: m.Body) -> dict[str, Any]:
    return {k: v for k, v in m.encode_body(body).items() if k not in _NOT_LOGGED}


_COLUMNS = ("device_id", "seq", "type", "at", "received_at", "building_id", "door_id", "holder",
            "cred", "reason", "severity", "body")
_PG_TYPES = ("varchar", "bigint", "varchar", "timestamptz", "timestamptz", "varchar", "varchar",
             "varchar", "varchar", "varchar", "varchar", "json")
_PG_INSERT = text(
    f"INSERT INTO events ({', '.join(_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"CAST(:{c} AS {t}[])" for c, t in zip(_COLUMNS, _PG_TYPES, strict=True))
    + ") ON CONFLICT (device_id, seq) DO NOTHING RETURNING device_id, seq")


def store(session: Session, items: list[IncomingEvent], buildings: dict[str, str | None],
          now: datetime) -> list[IncomingEvent]:
    """Insert each (device, seq) at most once; return the items that were new.

    One Core ``INSERT .. ON CONFLICT DO NOTHING RETURNING`` for the batch (no ORM objects):
    the unique (device_id, seq) constraint decides, so two hub instances racing on the same
    event still store it once.
    """
    first: dict[tuple[str, int], IncomingEvent] = {}
    for item in items:  # a batch can hold the same event twice (a device re-sent it)
        first.setdefault((item.device_id, item.seq), item)
    if not first:
        return []
    rows = [_row(i, buildings.get(i.device_id), now) for i in first.values()]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # NOTE: one array per column, not a VALUES row per event: psycopg re-parses a statement
        # with thousands of placeholders on every execute (most of the batch's CPU).
        arrays = {c: [r[c] for r in rows] for c in _COLUMNS}
        arrays["body"] = [json.dumps(b) for b in arrays["body"]]
        inserted = {(r[0], r[1]) for r in session.connection().execute(_PG_INSERT, arrays)}
        return [item for key, item in first.items() if key in inserted]
    insert = sqlite.insert
    table = Event.__table__
    stmt = insert(table).on_conflict_do_nothing(index_elements=["device_id", "seq"]).returning(
        table.c.device_id, table.c.seq)
    inserted = {(r[0], r[1]) for r in session.connection().execute(stmt, rows)}
    return [item for key, item in first.items() if key in inserted]


_ALERTING = {"door.forced", "door.held", "device.tamper", "device.fault", "alert.wrong_pins"}


def apply_effects(session: Session, new: Iterable[IncomingEvent], buildings: dict[str, str | None],
                  now: datetime) -> None:
    """Door live state and alerts, from events stored for the first time (visits: hub.visitors)."""
    new = list(new)
    wanted = {d for d in (getattr(i.body, "door", None) for i in new) if d is not None}
    doors = {d.id: d for d in session.scalars(select(Door).where(Door.id.in_(sorted(wanted))))} \
        if wanted else {}
    for item in new:
        body, building = item.body, buildings.get(item.device_id)
        door_id = getattr(body, "door", None)
        if door_id is not None:
            door = doors.get(door_id)
            if door is not None and door.device_id == item.device_id and (
                    door.last_event_at is None or item.at >= door.last_event_at):
                door.last_event_at, door.last_event_type = item.at, item.type
                if item.type == "door.opened" or item.type == "door.forced":
                    door.is_open = True
                elif item.type == "door.closed":
                    door.is_open = False
        if item.type in _ALERTING or (isinstance(body, m.AccessDenied)
                                      and body.reason == "revoked"):
            what = item.type if item.type != "access.denied" else "revoked card presented"
            alerts.raise_alert(
                session, key=f"{item.type}:{item.device_id}:{door_id or ''}:{item.seq}",
                kind=item.type.replace(".", "_"),
                severity=body.severity if body.severity != "info" else "warning",
                building_id=building, device_id=item.device_id, now=now,
                message=f"{what} at {door_id or item.device_id}"
                        + (f" (holder {body.holder})" if getattr(body, "holder", None) else ""))


def committed_above(session: Session, device_id: str, upto: int, limit: int = 10_000) -> list[int]:
    """Sequence numbers stored for ``device_id`` above ``upto``, ascending."""
    return list(session.scalars(select(Event.seq).where(
        Event.device_id == device_id, Event.seq > upto).order_by(Event.seq).limit(limit)))


def building_map(session: Session) -> dict[str, str | None]:
    """Device id -> building id, for every device."""
    return {d: b for d, b in session.execute(select(Device.id, Device.building_id))}


# --------------------------------------------------------------------------- search
def encode_cursor(at: datetime, event_id: int) -> str:
    """An opaque cursor after the event (at, id)."""
    raw = json.dumps([at.isoformat(), event_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """Undo :func:`encode_cursor`, or Invalid."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at_text, event_id = json.loads(raw)
        at = datetime.fromisoformat(at_text)
        if at.tzinfo is None or type(event_id) is not int:
            raise ValueError
        return at, event_id
    except (ValueError, TypeError):
        raise Invalid("cursor is not one this API returned", field="cursor") from None


@dataclass
class EventPage:
    """One page of events, newest first, and the cursor for the next."""

    events: list[Event]
    next_cursor: str | None


def search(session: Session, *, buildings: frozenset[str] | None = None,
           building_id: str | None = None, door_id: str | None = None,
           device_id: str | None = None, holder: str | None = None, type: str | None = None,
           since: datetime | None = None, until: datetime | None = None,
           cursor: str | None = None, limit: int = 100) -> EventPage:
    """Events matching every given filter, newest first; ``buildings`` limits the scope."""
    if not 1 <= limit <= 1000:
        raise Invalid("limit must be 1 to 1000", field="limit")
    stmt = select(Event)
    if buildings is not None:
        stmt = stmt.where(Event.building_id.in_(sorted(buildings)))
    for column, value in ((Event.building_id, building_id), (Event.door_id, door_id),
                          (Event.device_id, device_id), (Event.holder, holder),
                          (Event.type, type)):
        if value is not None:
            stmt = stmt.where(column == value)
    if since is not None:
        stmt = stmt.where(Event.at >= since)
    if until is not None:
        stmt = stmt.where(Event.at < until)
    if cursor:
        at, event_id = decode_cursor(cursor)
        # NOTE: the same as (at < :at OR (at = :at AND id < :id)), spelt so that SQLite and
        # PostgreSQL seek the (at, id) / (filter, at) index instead of scanning it from the top.
        stmt = stmt.where(Event.at <= at, or_(Event.at < at, Event.id < event_id))
    rows = list(session.scalars(stmt.order_by(Event.at.desc(), Event.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return EventPage(rows, encode_cursor(rows[-1].at, rows[-1].id) if more and rows else None)
