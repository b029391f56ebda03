"""The front desk's verdict on a visitor held at this kiosk: admit prints the badge, refuse prints nothing.

The hub sends ``visit.decided`` on ``hub/<kiosk>/resp`` (ADR 0004) when the desk decides a
hold. An admit prints the badge the visitor would have had at sign-in, from what the kiosk
kept for the held visit (name, photo, badge token) and what the hub adds (host, destination,
expiry, escort), then sends ``visit.signed_in`` so the hub stops repeating the admit. A
refusal only closes the visit on the kiosk's roster (a held one, or one the kiosk admitted while
the hub was away and the hub's re-screening then stopped). Nothing appears on the touch
screen either way: the visitor was already told "please see the front desk", and the screen
may be serving someone else by now. Repeats are harmless: only a visit still held here prints.
"""

from __future__ import annotations

import io
import logging
import threading
from datetime import datetime
from typing import Any

from PIL import Image, UnidentifiedImageError

from kiosk import badge, text
from link import visits as wire
from link.envelope import format_at
from link.messages import Body, VisitSignedIn

log = logging.getLogger("gatehouse.kiosk.verdicts")


class DeskVerdicts:
    """Applies ``visit.decided`` messages to a :class:`kiosk.service.Kiosk`."""

    def __init__(self, kiosk: Any) -> None:
        self.kiosk = kiosk
        self._lock = threading.Lock()

    def on_message(self, body: Body) -> None:
        """The link's callback: hand a verdict to a worker thread (printing takes a while)."""
        if isinstance(body, wire.VisitDecided):
            threading.Thread(target=self._apply_logged, args=(body,), name="kiosk-verdict", daemon=True).start()
        else:
            log.info("unexpected hub message type=%s", body.TYPE)

    def _apply_logged(self, body: wire.VisitDecided) -> None:
        try:
            self.apply(body)
        except Exception:
            log.exception("desk verdict failed visit=%s", body.visit)

    def apply(self, body: wire.VisitDecided) -> str:
        """Carry out one verdict; a word for the log and the tests (``printed``, ``refused``, ...)."""
        with self._lock:  # one verdict at a time: a repeat never prints a second badge
            kiosk = self.kiosk
            now = kiosk.clock()
            local = kiosk.store.get(body.visit)
            if local is None:
                log.info("verdict for a visit not held here visit=%s", body.visit)
                return "unknown"
            if body.decision == "refuse" and local.state in ("held", "on_site"):
                # on_site: a visitor admitted here while the hub was away, refused after its re-check
                kiosk.store.end(body.visit, "refused", now)
                log.info("desk refused visit=%s", body.visit)
                return "refused"
            if local.state != "held":
                return "done"  # already printed or closed: a repeat
            token = kiosk.store.held_token(body.visit)
            if token is None:
                log.warning("held visit has no badge token visit=%s", body.visit)
                return "no_token"
            expires = (datetime.fromisoformat(body.expires_at.replace("Z", "+00:00")) if body.expires_at
                       else kiosk._expiry(now))
            zone = kiosk.zone()
            image = badge.render(badge.BadgeData(
                category=local.category, name=f"{local.first} {local.last}", host=body.host_name,
                destination=body.destination_name, time_in=local.signed_in_at.astimezone(zone),
                expires=expires.astimezone(zone), token=token, escort_required=body.escort_required,
                photo=_photo(kiosk.store.photos([body.visit]).get(body.visit)),
                building=kiosk.directory().building), paper_dots=kiosk.paper_dots)
            printer = kiosk._ready_printer() or (kiosk.printers[0] if kiosk.printers else None)
            if printer is None or kiosk._print(printer, image) is None:
                log.warning("admitted badge not printed visit=%s (the hub will ask again)", body.visit)
                return "printer"
            kiosk.store.admitted(body.visit, body.host_name, expires)
            kiosk.gateway.send_event(VisitSignedIn(
                visit=body.visit, name=text.clean(f"{local.first} {local.last}", max_len=200),
                category=local.category, host=body.host_name, destination=body.destination_name,
                escort_required=body.escort_required, expires_at=format_at(expires), offline=local.offline))
            log.info("desk admitted visit=%s badge printed", body.visit)
            return "printed"


def _photo(jpeg: bytes | None) -> Image.Image | None:
    if not jpeg:
        return None
    try:
        photo = Image.open(io.BytesIO(jpeg))
        photo.load()
        return photo
    except (UnidentifiedImageError, OSError, ValueError):
        log.warning("stored photo unreadable: badge printed without it")
        return None
