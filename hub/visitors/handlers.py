"""What the hub's MQTT bridge calls for kiosk visit messages.

The bridge has already verified the envelope (signature, sender = the topic's device,
sequence) and decoded its body with the class registered in ``link.visits``. These functions
only read attributes of the body.

Interface for the bridge (``hub/bridge.py``)::

    handle_request(session, settings, device_id, type_name, body, now) -> link.messages.Response
        # for REQUEST_TYPES on dev/<kiosk>/req; publish the result on hub/<kiosk>/resp.
        # Never raises for bad input: answers ok=False with error=<reason>.
    handle_event(session, settings, device_id, type_name, body, now) -> None
        # for EVENT_TYPES on dev/<kiosk>/events, inside the transaction that stores the event,
        # before the hub acks it; idempotent (the kiosk re-sends until acked).

``session`` is a SQLAlchemy session the caller commits (after ``handle_request`` too);
``settings`` is one long-lived :class:`hub.visitors.services.VisitorSettings` per process
(it caches the watch-list index), e.g. ``VisitorSettings.from_site_key(keyring.site_key)``;
``now`` is the hub's aware UTC time. The per-type functions (``sign_in``, ``sign_out``,
``find``, ``directory``, ``watchlist``, ``pool_assign``, ``on_signed_in``, ``on_signed_out``,
``on_local_sign_in``, ``on_abandoned``) have the same arguments minus ``type_name``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from link.messages import Response
from hub.visitors import pool, services
from hub.visitors.services import VisitorError, VisitorSettings

log = logging.getLogger("gatehouse.hub.visitors")


def sign_in(session: Session, settings: VisitorSettings, device_id: str, body: Any, now: datetime) -> dict:
    """``visit.sign_in`` -> SignInResult data."""
    return services.sign_in(session, settings, device_id, body, now)


def sign_out(session: Session, settings: VisitorSettings, device_id: str, body: Any, now: datetime) -> dict:
    """``visit.sign_out`` -> SignOutResult data."""
    return services.sign_out(session, device_id, how=body.how, now=now, token=body.token, visit_id=body.visit)


def find(session: Session, settings: VisitorSettings, device_id: str, body: Any, now: datetime) -> dict:
    """``visit.find`` -> FindResult data."""
    return services.find_own_visit(session, device_id, body.first, body.last)


def directory(session: Session, settings: VisitorSettings, device_id: str, body: Any, now: datetime) -> dict:
    """``visit.directory`` -> DirectoryResult data."""
    return services.directory(session, settings, device_id, now)


def watchlist(session: Session, settings: VisitorSettings, device_id: str, body: Any, now: datetime) -> dict:
    """``visit.watchlist`` -> WatchlistResult data (one page)."""
    return services.watchlist_page(session, settings, device_id, body.page, now,
                                   have_version=getattr(body, "have_version", None))


def pool_assign(session: Session, settings: VisitorSettings, device_id: str, body: Any, now: datetime) -> dict:
    """``visit.pool_assign`` -> PoolAssignResult data (ADR 0003)."""
    return pool.assign_from_kiosk(session, settings, device_id, body, now)


def on_signed_in(session: Session, settings: VisitorSettings, device_id: str, body: Any, now: datetime) -> None:
    """``visit.signed_in``: the badge printed."""
    services.confirm_printed(session, device_id, body.visit, now)


def on_signed_out(session: Session, settings: VisitorSettings, device_id: str, body: Any, now: datetime) -> None:
    """``visit.signed_out``: a sign-out the kiosk recorded (possibly while the hub was away)."""
    services.record_sign_out(session, device_id, body.visit, body.how, now)


def on_local_sign_in(session: Session, settings: VisitorSettings, device_id: str, body: Any, now: datetime) -> None:
    """``visit.local_sign_in``: a sign-in decided on the cached watch list."""
    services.record_local_sign_in(session, device_id, body, now, settings)


def on_abandoned(session: Session, settings: VisitorSettings, device_id: str, body: Any, now: datetime) -> None:
    """``visit.abandoned``: no badge printed after an admission."""
    services.abandon(session, device_id, body.visit, now)


Handler = Callable[[Session, VisitorSettings, str, Any, datetime], Any]

REQUEST_TYPES: dict[str, Handler] = {
    "visit.sign_in": sign_in, "visit.sign_out": sign_out, "visit.find": find,
    "visit.directory": directory, "visit.watchlist": watchlist, "visit.pool_assign": pool_assign,
}
EVENT_TYPES: dict[str, Handler] = {
    "visit.signed_in": on_signed_in, "visit.signed_out": on_signed_out,
    "visit.local_sign_in": on_local_sign_in, "visit.abandoned": on_abandoned,
}


def handle_request(session: Session, settings: VisitorSettings, device_id: str, type_name: str,
                   body: Any, now: datetime) -> Response:
    """Answer one kiosk request; errors become ``ok=False`` answers, never exceptions."""
    handler = REQUEST_TYPES.get(type_name)
    if handler is None:
        return Response(corr=body.corr, ok=False, error="bad_request")
    try:
        data = handler(session, settings, device_id, body, now)
    except VisitorError as exc:
        # Services raise before they write, so nothing is half-done in the session.
        log.info("visit request refused device=%s type=%s reason=%s", device_id, type_name, exc.reason)
        return Response(corr=body.corr, ok=False, error=exc.reason)
    return Response(corr=body.corr, ok=True, data=data)


def handle_event(session: Session, settings: VisitorSettings, device_id: str, type_name: str,
                 body: Any, now: datetime) -> None:
    """Apply one kiosk visit event; unknown kiosks and visits are logged and skipped."""
    handler = EVENT_TYPES.get(type_name)
    if handler is None:
        log.warning("not a visit event device=%s type=%s", device_id, type_name)
        return
    try:
        handler(session, settings, device_id, body, now)
    except VisitorError as exc:
        log.warning("visit event skipped device=%s type=%s reason=%s", device_id, type_name, exc.reason)
