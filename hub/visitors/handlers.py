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
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from link.messages import Body, Response
from link.visits import VisitDecided
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


class VisitorJobs:
    """The visitor work of the bridge's once-a-second ``tick``: the desk's verdicts out to kiosks,
    and every ``housekeeping_s`` the closing-time sign-out and photo shredding.

    ``run`` returns ``(kiosk, body)`` pairs to publish on ``hub/<kiosk>/resp`` after the
    session commits. An admit is repeated every ``resend_s`` until the kiosk's
    ``visit.signed_in`` shows the badge printed (a kiosk that was offline, or whose printer
    needed paper, still prints it); a refusal is repeated for ``refuse_repeat_s`` (the kiosk
    only forgets the held visit, so a missed one costs nothing but a stale roster line).
    """

    def __init__(self, settings: VisitorSettings, *, resend_s: float = 10.0, refuse_repeat_s: float = 120.0,
                 housekeeping_s: float = 60.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.resend_s = resend_s
        self.refuse_repeat_s = refuse_repeat_s
        self.housekeeping_s = housekeeping_s
        self._monotonic = monotonic
        self._housekept: float | None = None
        #: (hold id, decision) -> (first sent, last sent), monotonic seconds
        self._told: dict[tuple[int, str], tuple[float, float]] = {}

    def run(self, session: Session, now: datetime) -> list[tuple[str, Body]]:
        """Do what is due; the messages to publish once ``session`` has committed."""
        mono = self._monotonic()
        out: list[tuple[str, Body]] = []
        due = services.decisions_to_tell(session, now)
        for d in due:
            key = (d.hold_id, d.decision)
            first, last = self._told.get(key, (mono, None))
            if last is not None and mono - last < self.resend_s:
                continue
            if d.decision == "refuse" and mono - first > self.refuse_repeat_s:
                continue
            self._told[key] = (first, mono)
            try:
                body = VisitDecided(visit=d.visit_id, decision=d.decision, escort_required=d.escort_required,
                                    expires_at=d.expires_at, host_name=d.host_name,
                                    destination_name=d.destination_name)
            except ValidationError:
                # a name the wire refuses (a control character typed into the directory): the
                # badge prints without it rather than not at all
                log.warning("desk decision names refused by the wire visit=%s", d.visit_id)
                body = VisitDecided(visit=d.visit_id, decision=d.decision, escort_required=d.escort_required,
                                    expires_at=d.expires_at)
            out.append((d.device_id, body))
            log.info("desk decision sent device=%s visit=%s decision=%s", d.device_id, d.visit_id, d.decision)
        keep = {(d.hold_id, d.decision) for d in due}
        for key in [k for k in self._told if k not in keep]:
            del self._told[key]
        if self._housekept is None or mono - self._housekept >= self.housekeeping_s:
            self._housekept = mono
            services.close_due(session, self.settings, now)
            services.shred_due(session, self.settings, now)
        return out
