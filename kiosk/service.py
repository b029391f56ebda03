"""The kiosk service: camera, printers, hub link and local store behind the touch web app.

Every decision is made by the pure modules (:mod:`kiosk.flow`, :mod:`kiosk.aamva`,
:mod:`kiosk.screening`, :mod:`kiosk.badge`, :mod:`kiosk.vision`); this class does the I/O around
them and answers each action with an :class:`Outcome` whose ``message`` is a key the web layer
translates. Logs carry visit ids and reasons, never names, dates of birth or tokens.
"""

from __future__ import annotations

import base64
import hmac
import io
import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import cv2
import numpy as np
from PIL import Image
from pydantic import ValidationError

from hardware.errors import CameraError, HardwareError, PrinterError, PrinterOffline, PrinterOutOfPaper
from kiosk import aamva, badge, roster, text, vision
from link import visits as wire
from kiosk.flow import Draft
from kiosk.hublink import HubGateway, new_corr
from kiosk.screening import WatchCache
from link.watchkeys import normalise
from kiosk.store import KioskStore, token_hash
from link.envelope import format_at
from link.messages import LockdownRequest, VisitSignedIn, VisitSignedOut

log = logging.getLogger("gatehouse.kiosk")

PHOTO_WIDTH = 240


def utc_now() -> datetime:
    """The wall clock in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Outcome:
    """The answer to one visitor action; ``message`` is a key of ``kiosk.web.MESSAGES``."""

    kind: str
    message: str = ""
    visit: str | None = None
    label: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True for the happy outcomes."""
        return self.kind in ("found", "printed", "signed_out", "photo", "matches")


def new_visit_id() -> str:
    """A visit id the kiosk chooses (so an offline visit has one before the hub hears of it)."""
    return "v" + secrets.token_urlsafe(12)


class Kiosk:
    """One reception kiosk."""

    def __init__(self, *, kiosk_id: str, camera: Any, printers: Sequence[Any], gateway: HubGateway,
                 store: KioskStore, paper_dots: int = 384, hub_timeout_s: float = 2.0,
                 watch_max_age_s: int | None = None, visit_hours: int = 8, idle_s: int = 60,
                 staff_pin: str | None = None, clock: Callable[[], datetime] = utc_now) -> None:
        self.kiosk_id = kiosk_id
        self.camera = camera
        self.printers = list(printers)
        self.gateway = gateway
        self.store = store
        self.paper_dots = paper_dots
        self.hub_timeout_s = hub_timeout_s
        self.watch_max_age_s = watch_max_age_s
        self.visit_hours = visit_hours
        self.idle_s = idle_s
        self.clock = clock
        self.faces = vision.FaceFinder()
        self.faults: dict[str, str] = {}
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None
        self._camera_lock = threading.Lock()
        self._watch: tuple[datetime, WatchCache] | None = None
        self._staff_pin = staff_pin
        self._pin_failures = 0
        self._pin_locked_until: datetime | None = None
        #: the panic button's sender (:class:`kiosk.panic.PanicAlarm`), or None without a button
        self.panic: Any = None

    # ------------------------------------------------------------------ lifecycle
    def start(self, refresh_s: float = 300.0) -> None:
        """Refresh the directory and watch list now and every ``refresh_s`` while the hub answers."""
        self._stop.clear()
        self._refresher = threading.Thread(target=self._refresh_loop, args=(refresh_s,), daemon=True,
                                           name="kiosk-refresh")
        self._refresher.start()
        if self.panic is not None:
            self.panic.start()

    def _refresh_loop(self, refresh_s: float) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
                self.report_health()
            except Exception:
                log.exception("refresh failed")
            self._stop.wait(refresh_s if self.store.get_cache("watchlist") else min(refresh_s, 5.0))

    def stop(self) -> None:
        """Stop the refresher, the link and the devices."""
        self._stop.set()
        if self._refresher is not None:
            self._refresher.join(timeout=5)
        if self.panic is not None:
            self.panic.stop()
        self.gateway.close()
        for device in (self.camera, *self.printers):
            try:
                device.close()
            except Exception as exc:
                log.debug("close failed device=%s error=%s", device, exc)
        self.store.close()

    # ------------------------------------------------------------------ hub caches
    def refresh(self) -> bool:
        """Fetch the directory and every page of the watch list; False when the hub did not answer."""
        now = self.clock()
        resp = self.gateway.request(wire.DirectoryFetch(corr=new_corr()), self.hub_timeout_s)
        if resp is None or not resp.ok:
            return False
        try:
            directory = wire.DirectoryResult.model_validate(resp.data)
        except ValidationError:
            log.warning("hub sent a bad directory")
            return False
        self.store.put_cache("directory", directory.model_dump(mode="json"), now)
        current = self.store.get_cache("watchlist")
        have = current[0]["version"] if current else None
        pages: list[wire.WatchlistResult] = []
        page, total = 0, 1
        while page < total:
            body = wire.WatchlistFetch(corr=new_corr(), page=page, have_version=have if page == 0 else None)
            resp = self.gateway.request(body, self.hub_timeout_s * 5)
            if resp is None or not resp.ok:
                return False
            try:
                result = wire.WatchlistResult.model_validate(resp.data)
            except ValidationError:
                log.warning("hub sent a bad watch-list page")
                return False
            if result.unchanged and current is not None and result.version == have:
                # Same list: it is now confirmed current, so its age starts again.
                self.store.put_cache("watchlist", {**current[0], "issued_at": result.issued_at,
                                                   "max_age_s": result.max_age_s}, now)
                return True
            if pages and result.version != pages[0].version:
                return False  # the list changed mid-fetch: try again next time
            pages.append(result)
            total = result.pages
            page += 1
        first = pages[0]
        self.store.put_cache("watchlist", {
            "version": first.version, "issued_at": first.issued_at, "max_age_s": first.max_age_s,
            "secret": first.secret, "nicknames": first.nicknames,
            "entries": [list(e) for p in pages for e in p.entries]}, now)
        log.info("caches refreshed watchlist_version=%d entries=%d", first.version,
                 sum(len(p.entries) for p in pages))
        return True

    def directory(self) -> wire.DirectoryResult:
        """The cached directory (empty until the hub has answered once)."""
        cached = self.store.get_cache("directory")
        if cached is None:
            return wire.DirectoryResult(version=0)
        return wire.DirectoryResult.model_validate(cached[0])

    def watch_cache(self) -> WatchCache | None:
        """The cached, hashed watch list, or None when the hub never sent one."""
        fetched = self.store.cache_time("watchlist")
        if fetched is None:
            return None
        if self._watch is not None and self._watch[0] == fetched:
            return self._watch[1]
        cached = self.store.get_cache("watchlist")
        if cached is None:
            return None
        body = cached[0]
        max_age = self.watch_max_age_s or body["max_age_s"]
        cache = WatchCache.from_entries(
            version=body["version"], issued_at=datetime.fromisoformat(body["issued_at"].replace("Z", "+00:00")),
            max_age=timedelta(seconds=max_age), secret=bytes.fromhex(body["secret"]),
            nicknames=body["nicknames"], entries=body["entries"])
        self._watch = (fetched, cache)
        return cache

    def zone(self) -> ZoneInfo:
        """The building's time zone (from the directory), UTC until known."""
        try:
            return ZoneInfo(self.directory().tz)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    # ------------------------------------------------------------------ camera
    def frame(self) -> np.ndarray:
        """One camera frame (raises CameraError); never stored."""
        with self._camera_lock:
            try:
                frame = self.camera.grab(timeout_s=2.0)
            except CameraError as exc:
                self._fault("camera", "camera_missing", exc)
                raise
        self.faults.pop("camera", None)
        return frame

    def preview_jpeg(self, width: int = 640) -> bytes:
        """A small JPEG of what the camera sees, for the on-screen preview only."""
        frame = self.frame()
        scale = width / frame.shape[1]
        small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 70])
        if not ok:
            raise CameraError("cannot encode the preview")
        return buf.tobytes()

    def scan_licence(self) -> Outcome:
        """Look for a licence's PDF417 in the current frame and read name and date of birth."""
        try:
            frame = self.frame()
        except CameraError:
            return Outcome("error", "camera")
        if vision.is_blank(frame):
            return Outcome("none", "camera_dark")
        raw = vision.decode_pdf417(frame)
        if raw is None:
            return Outcome("none", "hold_card")
        try:
            holder = aamva.parse(raw)
        except aamva.AamvaError as exc:
            log.info("licence refused reason=%s", exc.reason)
            return Outcome("error", "not_licence" if exc.reason == "not_aamva" else "licence_incomplete")
        first, last = text.clean_name(holder.first), text.clean_name(holder.last)
        if not first or not last:
            return Outcome("error", "licence_incomplete")
        return Outcome("found", data={"first": first.title() if first.isupper() else first,
                                      "last": last.title() if last.isupper() else last, "dob": holder.dob})

    def take_photo(self) -> Outcome:
        """A photo with exactly one face, as a small JPEG for the badge."""
        try:
            frame = self.frame()
        except CameraError:
            return Outcome("error", "camera")
        if vision.is_blank(frame):
            return Outcome("error", "camera_dark")
        faces = self.faces.find(frame)
        if not faces:
            return Outcome("retry", "no_face")
        if len(faces) > 1:
            return Outcome("retry", "many_faces")
        portrait = vision.portrait(frame, faces[0])
        portrait.thumbnail((PHOTO_WIDTH, PHOTO_WIDTH * 5 // 4))
        buf = io.BytesIO()
        portrait.convert("RGB").save(buf, format="JPEG", quality=80)
        return Outcome("photo", data={"jpeg": buf.getvalue()})

    def scan_badge(self) -> Outcome:
        """Look for one of our badge QR codes in the current frame."""
        try:
            frame = self.frame()
        except CameraError:
            return Outcome("error", "camera")
        found = vision.decode_qr(frame)
        if found is None:
            return Outcome("none", "hold_badge")
        token = badge.token_from_qr(found)
        if token is None:
            log.info("sign-out refused reason=foreign_qr")
            return Outcome("error", "not_our_badge")
        return self.sign_out_token(token)

    # ------------------------------------------------------------------ printing
    def _ready_printer(self) -> Any | None:
        for printer in self.printers:
            try:
                if printer.status().is_ready:
                    return printer
                self._fault("printer", "printer_out_of_paper", None)
            except HardwareError as exc:
                self._fault("printer", "printer_offline", exc)
        return None

    def _print(self, printer: Any, image: Image.Image) -> Any | None:
        """Print on ``printer``, falling back to the others; the printer that printed, or None."""
        for candidate in [printer] + [p for p in self.printers if p is not printer]:
            try:
                candidate.print_image(image)
            except PrinterOutOfPaper as exc:
                self._fault("printer", "printer_out_of_paper", exc)
            except (PrinterOffline, PrinterError) as exc:
                self._fault("printer", "printer_offline", exc)
            else:
                self.faults.pop("printer", None)
                return candidate
        return None

    def _fault(self, part: str, word: str, exc: BaseException | None) -> None:
        changed = self.faults.get(part) != word
        self.faults[part] = word
        if changed:
            log.warning("fault part=%s fault=%s error=%s", part, word, type(exc).__name__ if exc else "-")
            self.report_health()

    def report_health(self) -> None:
        """Put the current faults on the retained status."""
        faults = sorted(set(self.faults.values()))
        cache = self.watch_cache()
        if cache is not None and not cache.is_fresh(self.clock()):
            faults.append("watchlist_stale")
        try:
            self.gateway.publish_status(faults=faults)
        except Exception as exc:
            log.debug("status not published error=%s", exc)

    def health(self) -> dict[str, Any]:
        """What staff see on the status page."""
        cache = self.watch_cache()
        now = self.clock()
        return {
            "kiosk": self.kiosk_id, "hub_connected": self.gateway.is_connected(),
            "outbox_depth": self.gateway.outbox_depth(), "faults": dict(self.faults),
            "camera": self.camera.state(), "printers": [p.state() for p in self.printers],
            "watchlist_version": cache.version if cache else None,
            "watchlist_fresh": bool(cache and cache.is_fresh(now)),
            "directory_version": self.directory().version,
            "panic": self.panic.state() if self.panic is not None else None,
        }

    # ------------------------------------------------------------------ sign-in
    def _expiry(self, now: datetime) -> datetime:
        directory = self.directory()
        zone = self.zone()
        hh, mm = (int(p) for p in directory.closing.split(":"))
        closing = datetime.combine(now.astimezone(zone).date(), time(hh, mm), zone).astimezone(UTC)
        until = now + timedelta(hours=directory.visit_hours if directory.version else self.visit_hours)
        return min(until, closing) if closing > now else until

    def _names(self, draft: Draft) -> tuple[str, str]:
        directory = self.directory()
        host = next((h.name for h in directory.hosts if h.id == draft.host), "")
        dest = next((d.name for d in directory.destinations if d.id == draft.destination), "")
        return host, dest

    def render_badge(self, draft: Draft, *, token: str, time_in: datetime, expires: datetime,
                     escort_required: bool, host_name: str, destination_name: str) -> Image.Image:
        """The badge image for this draft."""
        zone = self.zone()
        photo = Image.open(io.BytesIO(draft.photo_jpeg)) if draft.photo_jpeg else None
        return badge.render(badge.BadgeData(
            category=draft.category or "visitor", name=f"{draft.first} {draft.last}", host=host_name,
            destination=destination_name, time_in=time_in.astimezone(zone), expires=expires.astimezone(zone),
            token=token, escort_required=escort_required, photo=photo, building=self.directory().building),
            paper_dots=self.paper_dots)

    def sign_in(self, draft: Draft) -> Outcome:
        """Screen (at the hub, or on the cache when it is away), record, print. The DOB goes no further."""
        now = self.clock()
        printer = self._ready_printer()
        if printer is None:
            # Nothing is created: the visitor is sent to the desk before any record exists.
            return Outcome("error", "printer")
        visit, token = new_visit_id(), badge.new_token()
        photo_b64 = base64.b64encode(draft.photo_jpeg).decode("ascii") if draft.photo_jpeg else ""
        request = wire.VisitSignIn(
            corr=new_corr(), visit=visit, token_sha256=token_hash(token), category=draft.category or "visitor",
            first=draft.first, last=draft.last, dob=draft.dob.isoformat() if draft.dob else None,
            id_source=draft.id_source or "typed", host=draft.host, destination=draft.destination,
            purpose=draft.purpose, company=draft.company, photo_jpeg=photo_b64)
        response = self.gateway.request(request, self.hub_timeout_s)
        if response is None:
            return self._sign_in_locally(draft, printer, visit, token, photo_b64, now)
        del request  # it held the date of birth
        if not response.ok:
            log.info("hub refused sign-in visit=%s reason=%s", visit, response.error)
            return Outcome("held" if response.error == "unknown_kiosk" else "error",
                           {"unknown_host": "bad_host", "unknown_destination": "bad_host"}.get(
                               response.error or "", "see_desk"))
        try:
            result = wire.SignInResult.model_validate(response.data)
        except ValidationError:
            log.warning("hub answered sign-in with bad data visit=%s", visit)
            return Outcome("error", "see_desk")
        expires = (datetime.fromisoformat(result.expires_at.replace("Z", "+00:00"))
                   if result.expires_at else self._expiry(now))
        if result.outcome == "held":
            self.store.add_visit(visit=visit, token=token, first=draft.first, last=draft.last,
                                 category=draft.category or "visitor", host="", signed_in_at=now,
                                 expires_at=expires, state="held", offline=False, photo=draft.photo_jpeg)
            log.info("sign-in held visit=%s", visit)
            return Outcome("held", "see_desk", visit=visit)
        host_name, dest_name = self._names(draft)
        image = self.render_badge(draft, token=token, time_in=now, expires=expires,
                                  escort_required=result.escort_required,
                                  host_name=result.host_name or host_name,
                                  destination_name=result.destination_name or dest_name)
        if self._print(printer, image) is None:
            self.gateway.send_event(wire.VisitAbandoned(visit=visit, reason="printer"))
            return Outcome("error", "printer")
        self.store.add_visit(visit=visit, token=token, first=draft.first, last=draft.last,
                             category=draft.category or "visitor", host=result.host_name or host_name,
                             signed_in_at=now, expires_at=expires, state="on_site", offline=False,
                             photo=draft.photo_jpeg)
        self.gateway.send_event(VisitSignedIn(
            visit=visit, name=text.clean(f"{draft.first} {draft.last}", max_len=200),
            category=draft.category or "visitor", host=result.host_name[:200],
            destination=result.destination_name[:200], escort_required=result.escort_required,
            expires_at=format_at(expires), offline=False))
        log.info("signed in visit=%s escort=%s", visit, result.escort_required)
        return Outcome("printed", "badge_printing", visit=visit, label=text.initial_form(draft.first, draft.last),
                       data={"escort_required": result.escort_required,
                             "pool_cards": self.directory().pool_cards})

    def _sign_in_locally(self, draft: Draft, printer: Any, visit: str, token: str, photo_b64: str,
                         now: datetime) -> Outcome:
        cache = self.watch_cache()
        if cache is None:
            verdict_outcome, hits, version = "stale", (), None
        else:
            verdict = cache.screen(draft.first, draft.last, draft.dob, now)
            verdict_outcome, hits, version = verdict.outcome, verdict.hits, cache.version
        expires = self._expiry(now)
        # Offline the hub cannot check a vendor's data privacy agreement: fail secure, escort.
        escort = (draft.category == "contractor")
        event = dict(visit=visit, token_sha256=token_hash(token), category=draft.category or "visitor",
                     first=draft.first,
                     last=draft.last, id_source=draft.id_source or "typed", host=draft.host,
                     destination=draft.destination, purpose=draft.purpose, company=draft.company,
                     photo_jpeg=photo_b64, signed_in_at=format_at(now), screening=verdict_outcome,
                     hits=list(hits), cache_version=version, escort_required=escort,
                     expires_at=format_at(expires))
        if verdict_outcome != "clear":
            self.gateway.send_event(wire.VisitLocalSignIn(**event))
            self.store.add_visit(visit=visit, token=token, first=draft.first, last=draft.last,
                                 category=draft.category or "visitor", host="", signed_in_at=now,
                                 expires_at=expires, state="held", offline=True, photo=draft.photo_jpeg)
            log.info("offline sign-in held visit=%s screening=%s", visit, verdict_outcome)
            return Outcome("held", "see_desk", visit=visit)
        host_name, dest_name = self._names(draft)
        image = self.render_badge(draft, token=token, time_in=now, expires=expires, escort_required=escort,
                                  host_name=host_name, destination_name=dest_name)
        if self._print(printer, image) is None:
            return Outcome("error", "printer")  # nothing was queued: no visit exists anywhere
        self.gateway.send_event(wire.VisitLocalSignIn(**event))
        self.gateway.send_event(VisitSignedIn(
            visit=visit, name=text.clean(f"{draft.first} {draft.last}", max_len=200),
            category=draft.category or "visitor", host=host_name[:200], destination=dest_name[:200],
            escort_required=escort, expires_at=format_at(expires), offline=True))
        self.store.add_visit(visit=visit, token=token, first=draft.first, last=draft.last,
                             category=draft.category or "visitor", host=host_name, signed_in_at=now,
                             expires_at=expires, state="on_site", offline=True, photo=draft.photo_jpeg)
        log.info("offline sign-in visit=%s cache_version=%s", visit, version)
        # The visitor sees the same screen as online: nothing alarming.
        return Outcome("printed", "badge_printing", visit=visit, label=text.initial_form(draft.first, draft.last),
                       data={"escort_required": escort})

    # ------------------------------------------------------------------ sign-out
    def sign_out_token(self, token: str) -> Outcome:
        """Close the visit whose badge carries ``token``."""
        now = self.clock()
        resp = self.gateway.request(wire.VisitSignOut(corr=new_corr(), how="badge", token=token), self.hub_timeout_s)
        local = self.store.by_token(token)
        if resp is not None:
            if resp.ok:
                result = wire.SignOutResult.model_validate(resp.data)
                if local is not None:
                    self.store.end(local.visit, "signed_out", now)
                return Outcome("signed_out", "goodbye", visit=result.visit, label=result.label,
                               data={"pool_card": result.pool_card} if result.pool_card else {})
            if resp.error == "visit_closed":
                return Outcome("error", "visit_closed")
            if resp.error == "unknown_badge" and local is None:
                return Outcome("error", "not_our_badge")
            if local is None:
                return Outcome("error", "see_desk")
        if local is None:
            return Outcome("error", "cannot_check")
        if local.state not in ("on_site",):
            return Outcome("error", "visit_closed")
        self.gateway.send_event(VisitSignedOut(visit=local.visit, how="badge"))
        self.store.end(local.visit, "signed_out", now)
        log.info("signed out visit=%s offline=%s", local.visit, resp is None)
        return Outcome("signed_out", "goodbye", visit=local.visit, label=local.label)

    def find(self, first: str, last: str) -> Outcome:
        """The caller's own open visits by full name; only ``First L.`` comes back."""
        first, last = text.clean_name(first), text.clean_name(last)
        if not first or not last:
            return Outcome("error", "need_name")
        resp = self.gateway.request(wire.VisitFind(corr=new_corr(), first=first, last=last), self.hub_timeout_s)
        if resp is not None and resp.ok:
            matches = [{"visit": m.visit, "label": m.label} for m in wire.FindResult.model_validate(resp.data).matches]
        else:
            want = (normalise(first), normalise(last))
            matches = [{"visit": v.visit, "label": v.label} for v in self.store.on_site()
                       if v.state == "on_site" and (normalise(v.first), normalise(v.last)) == want][:5]
        if not matches:
            return Outcome("error", "not_found")
        return Outcome("matches", data={"matches": matches})

    def sign_out_visit(self, visit: str) -> Outcome:
        """Close a visit chosen from :meth:`find`."""
        now = self.clock()
        try:
            body = wire.VisitSignOut(corr=new_corr(), how="name", visit=visit)
        except ValidationError:
            return Outcome("error", "not_found")
        resp = self.gateway.request(body, self.hub_timeout_s)
        local = self.store.get(visit)
        if resp is not None:
            if resp.ok:
                result = wire.SignOutResult.model_validate(resp.data)
                if local is not None:
                    self.store.end(visit, "signed_out", now)
                return Outcome("signed_out", "goodbye", visit=visit, label=result.label,
                               data={"pool_card": result.pool_card} if result.pool_card else {})
            return Outcome("error", "visit_closed" if resp.error == "visit_closed" else "not_found")
        if local is None or local.state != "on_site":
            return Outcome("error", "cannot_check" if local is None else "visit_closed")
        self.gateway.send_event(VisitSignedOut(visit=visit, how="name"))
        self.store.end(visit, "signed_out", now)
        return Outcome("signed_out", "goodbye", visit=visit, label=local.label)

    # ------------------------------------------------------------------ staff
    @property
    def has_staff_pin(self) -> bool:
        """True when a staff PIN is configured (the staff menu exists)."""
        return bool(self._staff_pin)

    def check_pin(self, pin: str) -> Outcome:
        """The staff PIN; five wrong tries lock the menu for five minutes."""
        now = self.clock()
        if not self._staff_pin:
            return Outcome("error", "no_staff_pin")
        if self._pin_locked_until is not None and now < self._pin_locked_until:
            return Outcome("error", "pin_locked")
        if hmac.compare_digest(pin.encode("utf-8", "replace"), self._staff_pin.encode("utf-8")):
            self._pin_failures = 0
            return Outcome("ok")
        self._pin_failures += 1
        log.warning("staff pin refused failures=%d", self._pin_failures)
        if self._pin_failures >= 5:
            self._pin_failures = 0
            self._pin_locked_until = now + timedelta(minutes=5)
            return Outcome("error", "pin_locked")
        return Outcome("error", "wrong_pin")

    def print_roster(self) -> Outcome:
        """Print the visitors signed in here and not out (from the kiosk's own roster)."""
        now = self.clock()
        visits = self.store.on_site()
        image = roster.render(visits, printed_at=now.astimezone(self.zone()), building=self.directory().building,
                              paper_dots=self.paper_dots, photos=self.store.photos([v.visit for v in visits]))
        printer = self._ready_printer() or (self.printers[0] if self.printers else None)
        if printer is None or self._print(printer, image) is None:
            return Outcome("error", "printer")
        log.info("roster printed visits=%d", len(visits))
        return Outcome("printed", "roster_printed", data={"count": len(visits)})

    def request_lockdown(self, active: bool) -> Outcome:
        """Ask the hub to start (or end) a lockdown of this building."""
        body = LockdownRequest(corr=new_corr(), active=active, by="kiosk staff menu")
        resp = self.gateway.request(body, self.hub_timeout_s)
        if resp is None:
            log.warning("lockdown request unanswered active=%s", active)
            return Outcome("error", "lockdown_unanswered")
        if not resp.ok:
            return Outcome("error", "lockdown_refused")
        log.warning("lockdown requested active=%s", active)
        return Outcome("ok", "lockdown_on" if active else "lockdown_off")

    def parse_dob(self, value: str) -> date | None:
        """A typed date of birth (``YYYY-MM-DD``), or None."""
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
