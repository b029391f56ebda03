"""The kiosk's touch web app (Flask): sign in, sign out, in English, Spanish or Portuguese.

Chromium in kiosk mode shows it full screen at 800x480 or 1280x800; every target is at
least 64 px and text is typed on the on-screen keyboard (``static/keyboard.js``). No inline
script (the Content-Security-Policy forbids it). The browser holds only a random draft id in
a SameSite=Strict cookie; what the visitor entered stays in this process and is forgotten
after ``idle_s`` without a touch, at the welcome screen, and when the sign-in ends.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, abort, current_app, g, jsonify, make_response, redirect, render_template, request, url_for
from flask_babel import Babel, get_locale, lazy_gettext as _l

from hardware.errors import CameraError
from kiosk import flow, i18n, text
from kiosk.flow import Draft
from kiosk.service import Kiosk, Outcome

log = logging.getLogger("gatehouse.kiosk.web")

COOKIE = "kiosk_draft"

#: Every message a visitor can see, by the key the service answers with.
MESSAGES = {
    "camera": _l("The camera is not working right now. Please see the front desk."),
    "camera_dark": _l("The camera sees only darkness. Please see the front desk."),
    "hold_card": _l("Hold the back of your ID inside the frame, barcode towards the camera."),
    "not_licence": _l("That barcode is not from a driver's licence or state ID. You can type your name instead."),
    "licence_incomplete": _l("We could not read your name from this ID. You can type your name instead."),
    "no_face": _l("We cannot see your face. Please look at the camera and try again."),
    "many_faces": _l("We see more than one person. Please stand alone in front of the camera."),
    "printer": _l("The badge printer needs attention. Please see the front desk, and thank you for your patience."),
    "see_desk": _l("Please see the front desk to finish signing in."),
    "bad_host": _l("Please choose who you are visiting again."),
    "badge_printing": _l("Your badge is printing. Please wear it where it can be seen."),
    "goodbye": _l("You are signed out. Thank you for visiting!"),
    "hold_badge": _l("Hold your badge's square code up to the camera."),
    "not_our_badge": _l("That code is not one of our visitor badges. Please try again or find yourself by name."),
    "visit_closed": _l("This visit is already signed out."),
    "cannot_check": _l("We cannot check this badge right now. Please see the front desk."),
    "need_name": _l("Please type your first and last name."),
    "not_found": _l("We could not find an open visit with that name. Please see the front desk."),
    "need_choice": _l("Please choose who or where you are visiting."),
    "expired": _l("We cleared the screen to protect your information. Please start again."),
    # staff-facing
    "no_staff_pin": _l("The staff menu is not set up on this kiosk."),
    "wrong_pin": _l("Wrong PIN."),
    "pin_locked": _l("Too many wrong PINs. Try again in five minutes."),
    "roster_printed": _l("The roster is printing."),
    "lockdown_on": _l("Lockdown requested. The hub has locked the building."),
    "lockdown_off": _l("Lockdown ended."),
    "lockdown_unanswered": _l("The hub did not answer. Use the phone or the panic button."),
    "lockdown_refused": _l("The hub refused the request."),
}

STAFF_COOKIE = "kiosk_staff"
STAFF_S = 120

CATEGORY_LABELS = {
    "visitor": _l("Visitor"),
    "contractor": _l("Contractor or vendor"),
    "volunteer": _l("Volunteer"),
    "parent": _l("Parent picking up a student"),
}

bp = Blueprint("kiosk", __name__)


class DraftStore:
    """Drafts by id, in memory only; a kiosk has one screen, so a handful at most."""

    def __init__(self, limit: int = 8) -> None:
        self._drafts: dict[str, Draft] = {}
        self._lock = threading.Lock()
        self.limit = limit

    def get(self, draft_id: str | None) -> Draft | None:
        """The draft, if it exists."""
        with self._lock:
            return self._drafts.get(draft_id or "")

    def put(self, draft: Draft) -> None:
        """Keep a draft, forgetting the oldest beyond the limit."""
        with self._lock:
            self._drafts[draft.id] = draft
            while len(self._drafts) > self.limit:
                oldest = min(self._drafts.values(), key=lambda d: d.touched_at)
                del self._drafts[oldest.id]

    def drop(self, draft_id: str | None) -> None:
        """Forget a draft (the date of birth and photo with it)."""
        with self._lock:
            self._drafts.pop(draft_id or "", None)

    def expire(self, now: datetime, idle_s: float) -> int:
        """Forget every idle draft; how many."""
        with self._lock:
            gone = [d.id for d in self._drafts.values() if flow.is_expired(d, now, idle_s)]
            for draft_id in gone:
                del self._drafts[draft_id]
        return len(gone)

    def __len__(self) -> int:
        with self._lock:
            return len(self._drafts)


def _kiosk() -> Kiosk:
    return current_app.extensions["gatehouse.kiosk"]


def _drafts() -> DraftStore:
    return current_app.extensions["gatehouse.drafts"]


def _now() -> datetime:
    return _kiosk().clock()


def _select_locale() -> str:
    draft = getattr(g, "draft", None)
    if draft is not None:
        return draft.lang
    if getattr(g, "lang", None):
        return g.lang  # the visitor's language outlives the draft for the result page
    lang = request.args.get("lang", "")
    return lang if lang in current_app.config["LANGUAGES"] else current_app.config["LANGUAGES"][0]


@bp.before_app_request
def _load_draft() -> None:
    now = _now()
    store = _drafts()
    if store.expire(now, _kiosk().idle_s):
        log.info("idle drafts forgotten")
    g.draft = store.get(request.cookies.get(COOKIE))


@bp.after_app_request
def _headers(response):
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _save(draft: Draft, response) -> Any:
    _drafts().put(draft)
    response.set_cookie(COOKIE, draft.id, httponly=True, samesite="Strict")
    return response


def _forget(response) -> Any:
    draft = getattr(g, "draft", None)
    if draft is not None:
        _drafts().drop(draft.id)
    g.draft = None
    response.delete_cookie(COOKIE)
    return response


def _need_draft(step: str | None = None) -> Draft:
    draft = g.draft
    if draft is None:
        abort(redirect(url_for("kiosk.welcome", m="expired")))
    if step is not None and not flow.may_enter(draft, step):
        abort(redirect(url_for(f"kiosk.in_{flow.next_step(draft)}")))
    return draft


def _touch(**changes) -> Draft:
    draft = flow.touch(g.draft, _now(), **changes)
    g.draft = draft
    _drafts().put(draft)
    return draft


def _page(template: str, **context) -> Any:
    return render_template(template, messages=MESSAGES, categories=CATEGORY_LABELS,
                           idle_s=_kiosk().idle_s, draft=g.draft, **context)


# --------------------------------------------------------------------------- welcome
@bp.get("/")
def welcome():
    """Language choice, sign in, sign out. Anything half-entered is forgotten here."""
    message = request.args.get("m")
    response = make_response(_page("welcome.html", message=MESSAGES.get(message or ""),
                                   languages=current_app.config["LANGUAGES"]))
    return _forget(response)


@bp.post("/start")
def start():
    """Begin signing in or out, in the chosen language."""
    lang = request.form.get("lang", "en")
    mode = request.form.get("mode", "in")
    draft = flow.new_draft(lang if lang in current_app.config["LANGUAGES"] else "en", _now())
    target = url_for("kiosk.out_scan") if mode == "out" else url_for("kiosk.in_category")
    return _save(draft, redirect(target))


@bp.get("/reset")
def reset():
    """The idle timer's target: back to the welcome screen, everything forgotten."""
    # The draft may already be gone (idle); the cookie still says someone was here.
    was_used = g.draft is not None or bool(request.cookies.get(COOKIE))
    idle = request.args.get("idle") == "1" and was_used
    return _forget(redirect(url_for("kiosk.welcome", m="expired" if idle else None)))


# --------------------------------------------------------------------------- sign in
@bp.route("/in/category", methods=["GET", "POST"])
def in_category():
    """Visitor, contractor or vendor, volunteer, parent."""
    _need_draft("category")
    if request.method == "POST":
        category = request.form.get("category")
        if category in flow.CATEGORIES:
            _touch(category=category)
            return redirect(url_for("kiosk.in_id"))
    return _page("category.html")


@bp.get("/in/id")
def in_id():
    """Scan the back of the ID (card guide on the live preview)."""
    _need_draft("id")
    _touch()
    return _page("id_scan.html")


@bp.post("/in/id/scan")
def in_id_scan():
    """One scan attempt, polled by the page; JSON ``{next}`` or ``{message}``."""
    draft = _need_draft("id")
    outcome = _kiosk().scan_licence()
    if outcome.kind == "found":
        data = outcome.data
        _touch(first=data["first"], last=data["last"], dob=data["dob"], id_source="scanned")
        return jsonify(next=url_for("kiosk.in_photo"))
    return jsonify(message=str(MESSAGES.get(outcome.message, "")), final=outcome.kind == "error",
                   lang=draft.lang)


@bp.route("/in/id/type", methods=["GET", "POST"])
def in_id_type():
    """Type the name instead (the front desk checks the ID by eye)."""
    draft = _need_draft("id")
    error = None
    if request.method == "POST":
        first = text.clean_name(request.form.get("first"))
        last = text.clean_name(request.form.get("last"))
        if first and last:
            _touch(first=first, last=last, dob=None, id_source="typed")
            return redirect(url_for("kiosk.in_photo"))
        error = MESSAGES["need_name"]
        _touch()
    return _page("id_type.html", error=error, first=draft.first, last=draft.last)


@bp.route("/in/photo", methods=["GET", "POST"])
def in_photo():
    """Take the visitor's photo: exactly one face."""
    _need_draft("photo")
    error = None
    if request.method == "POST":
        outcome = _kiosk().take_photo()
        if outcome.kind == "photo":
            _touch(photo_jpeg=outcome.data["jpeg"])
            return redirect(url_for("kiosk.in_host"))
        error = MESSAGES.get(outcome.message)
        _touch()
    return _page("photo.html", error=error)


@bp.route("/in/host", methods=["GET", "POST"])
def in_host():
    """Who and where: from the hub's directory (cached)."""
    draft = _need_draft("host")
    directory = _kiosk().directory()
    error = MESSAGES.get(request.args.get("m", ""))
    if request.method == "POST":
        host = request.form.get("host") or None
        dest = request.form.get("destination") or None
        host_ok = host is None or any(h.id == host for h in directory.hosts)
        dest_ok = dest is None or any(d.id == dest for d in directory.destinations)
        company = text.clean(request.form.get("company"), max_len=120)
        # With no directory yet (hub never reached) there is nothing to choose: the desk helps.
        nothing_to_choose = not directory.hosts and not directory.destinations
        if ((host or dest) or nothing_to_choose) and host_ok and dest_ok:
            _touch(host=host, destination=dest, company=company, where_chosen=True)
            return redirect(url_for("kiosk.in_confirm"))
        error = MESSAGES["need_choice"]
        _touch()
    return _page("host.html", directory=directory, error=error, company=draft.company)


@bp.route("/in/confirm", methods=["GET", "POST"])
def in_confirm():
    """Check and confirm; on confirm the visitor is screened and the badge prints."""
    draft = _need_draft("confirm")
    kiosk = _kiosk()
    if request.method == "POST":
        outcome = kiosk.sign_in(draft)
        if outcome.message == "bad_host":
            _touch(host=None, destination=None, where_chosen=False)
            return redirect(url_for("kiosk.in_host", m="bad_host"))
        # The sign-in is over either way: forget the draft (date of birth and photo included)
        # before the result page is drawn.
        _drafts().drop(draft.id)
        g.draft, g.lang = None, draft.lang
        response = make_response(_page("result.html", outcome=outcome,
                                       message=MESSAGES.get(outcome.message, MESSAGES["see_desk"])))
        response.delete_cookie(COOKIE)
        return response
    host, dest = kiosk._names(draft)
    return _page("confirm.html", host=host, destination=dest)


@bp.get("/in/photo.jpg")
def in_photo_jpg():
    """The photo just taken, for the confirm page (from the draft, never a file)."""
    draft = _need_draft("host")
    response = make_response(draft.photo_jpeg or b"")
    response.mimetype = "image/jpeg"
    return response


# --------------------------------------------------------------------------- sign out
@bp.get("/out")
def out_scan():
    """Show the badge's code to the camera."""
    _need_draft()
    _touch()
    return _page("out_scan.html")


@bp.post("/out/scan")
def out_scan_poll():
    """One badge scan attempt, polled by the page."""
    _need_draft()
    outcome = _kiosk().scan_badge()
    if outcome.kind == "none":
        return jsonify(message=str(MESSAGES.get(outcome.message, "")))
    if outcome.kind == "signed_out":
        return jsonify(next=url_for("kiosk.out_done", label=outcome.label, card=outcome.data.get("pool_card")))
    return jsonify(message=str(MESSAGES.get(outcome.message, MESSAGES["see_desk"])), final=False)


@bp.route("/out/name", methods=["GET", "POST"])
def out_name():
    """Find yourself by full name: only your own first name and initial are shown."""
    _need_draft()
    error, matches = None, None
    if request.method == "POST":
        _touch()
        outcome = _kiosk().find(request.form.get("first", ""), request.form.get("last", ""))
        if outcome.kind == "matches":
            matches = outcome.data["matches"]
        else:
            error = MESSAGES.get(outcome.message)
    return _page("out_name.html", error=error, matches=matches)


@bp.post("/out/visit")
def out_visit():
    """Sign out the visit chosen from the name search."""
    _need_draft()
    outcome = _kiosk().sign_out_visit(request.form.get("visit", ""))
    if outcome.kind == "signed_out":
        return redirect(url_for("kiosk.out_done", label=outcome.label, card=outcome.data.get("pool_card")))
    return _page("out_name.html", error=MESSAGES.get(outcome.message), matches=None)


@bp.get("/out/done")
def out_done():
    """Goodbye."""
    label = text.clean_name(request.args.get("label", ""))[:20]
    card = request.args.get("card", "")
    # a pool visitor card (ADR 0003), already deactivated by the hub: ask for it back
    card_data = {"pool_card": int(card)} if card.isdigit() and 0 < int(card) < 10_000 else {}
    if g.draft is not None:
        _drafts().drop(g.draft.id)
        g.draft, g.lang = None, g.draft.lang
    response = make_response(_page("result.html", outcome=Outcome("signed_out", "goodbye", label=label,
                                                                  data=card_data),
                                   message=MESSAGES["goodbye"]))
    response.delete_cookie(COOKIE)
    return response


# --------------------------------------------------------------------------- camera and staff
@bp.get("/camera.jpg")
def camera_jpg():
    """The live preview frame (only while someone is using the kiosk; never stored)."""
    _need_draft()
    try:
        data = _kiosk().preview_jpeg()
    except CameraError:
        abort(503)
    response = make_response(data)
    response.mimetype = "image/jpeg"
    return response


# --------------------------------------------------------------------------- staff
def _staff_ok() -> bool:
    tokens: dict[str, datetime] = current_app.extensions["gatehouse.staff"]
    token = request.cookies.get(STAFF_COOKIE, "")
    expiry = tokens.get(token)
    if expiry is None or _now() >= expiry:
        tokens.pop(token, None)
        return False
    return True


@bp.route("/staff", methods=["GET", "POST"])
def staff_login():
    """The staff PIN pad."""
    kiosk = _kiosk()
    error = None if kiosk.has_staff_pin else MESSAGES["no_staff_pin"]
    if request.method == "POST":
        outcome = kiosk.check_pin(request.form.get("pin", "")[:32])
        if outcome.kind == "ok":
            import secrets

            token = secrets.token_urlsafe(24)
            current_app.extensions["gatehouse.staff"] = {token: _now() + timedelta(seconds=STAFF_S)}
            response = redirect(url_for("kiosk.staff_menu"))
            response.set_cookie(STAFF_COOKIE, token, httponly=True, samesite="Strict", max_age=STAFF_S)
            return response
        error = MESSAGES.get(outcome.message)
    return _forget(make_response(_page("staff_login.html", error=error)))


@bp.route("/staff/menu", methods=["GET", "POST"])
def staff_menu():
    """Print the roster, request or end a lockdown, see the device state."""
    if not _staff_ok():
        return redirect(url_for("kiosk.staff_login"))
    kiosk = _kiosk()
    message = None
    if request.method == "POST":
        action = request.form.get("action")
        if action == "roster":
            outcome = kiosk.print_roster()
        elif action in ("lockdown_on", "lockdown_off"):
            outcome = kiosk.request_lockdown(action == "lockdown_on")
        else:
            abort(400)
        message = MESSAGES.get(outcome.message, "")
    return _page("staff_menu.html", message=message, health=kiosk.health(),
                 pool_cards=kiosk.directory().pool_cards)


@bp.post("/staff/leave")
def staff_leave():
    """End the staff session."""
    current_app.extensions["gatehouse.staff"].pop(request.cookies.get(STAFF_COOKIE, ""), None)
    response = redirect(url_for("kiosk.welcome"))
    response.delete_cookie(STAFF_COOKIE)
    return response


@bp.get("/favicon.ico")
def favicon():
    """No icon: answer quietly so the browser does not log an error."""
    return ("", 204)


@bp.get("/status")
def status():
    """Device health for staff and installers (no visitor data)."""
    return jsonify(_kiosk().health())


def start_sweeper(app: Flask, interval_s: float = 5.0) -> threading.Event:
    """Forget idle drafts every ``interval_s`` even when no page asks (a closed or crashed browser).

    Returns the event that stops the sweeper thread.
    """
    stop = threading.Event()
    kiosk: Kiosk = app.extensions["gatehouse.kiosk"]
    drafts: DraftStore = app.extensions["gatehouse.drafts"]

    def sweep() -> None:
        while not stop.wait(interval_s):
            if drafts.expire(kiosk.clock(), kiosk.idle_s):
                log.info("idle drafts forgotten by the sweeper")

    threading.Thread(target=sweep, name="kiosk-draft-sweeper", daemon=True).start()
    return stop


def create_app(kiosk: Kiosk, *, languages: list[str] | None = None, translations_dir: Path | None = None,
               test_config: dict[str, Any] | None = None) -> Flask:
    """The kiosk's Flask app around a running :class:`Kiosk`."""
    app = Flask(__name__)
    compiled = i18n.compile_catalogs(translations_dir or kiosk.store.dir / "translations")
    app.config.update(
        LANGUAGES=list(languages or ["en", "es", "pt"]),
        BABEL_TRANSLATION_DIRECTORIES=str(compiled),
        MAX_CONTENT_LENGTH=64 * 1024,
        SESSION_COOKIE_SAMESITE="Strict",
    )
    if test_config:
        app.config.update(test_config)
    Babel(app, locale_selector=_select_locale)
    app.extensions["gatehouse.kiosk"] = kiosk
    app.extensions["gatehouse.drafts"] = DraftStore()
    app.extensions["gatehouse.staff"] = {}
    app.jinja_env.globals["get_locale"] = get_locale
    app.register_blueprint(bp)
    from kiosk import pool_web  # NOTE: lazy, it imports this module (pool visitor cards, ADR 0003)

    app.register_blueprint(pool_web.bp)
    return app
