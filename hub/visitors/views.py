"""The front desk's visitor pages: held sign-ins (photo beside the watch-list entry), who is on
site, and the building's watch list.

Thin views over :mod:`hub.visitors.services`. Every endpoint is declared in the accounts
layer's permission table (``visitor.read`` to look, ``visitor.manage`` to decide or change);
held sign-ins and photos are resolved to their building so a desk sees only its own. No inline
script (the hub's CSP). Call :func:`init_app` from ``hub.create_app``.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, make_response, redirect, render_template, request, url_for
from sqlalchemy import select

from hub.auth import current_actor, declare, now, record, register_resolver
from hub.db import get_session
from hub.visitors import services
from hub.visitors.models import VisitHold, VisitRecord, WatchEntry
from hub.visitors.services import VisitorError

bp = Blueprint("visitors", __name__, template_folder="templates", url_prefix="/visitors")

DECLARED = {
    "visitors.desk": ({"GET": "visitor.read"}, {"building_arg": "building"}),
    "visitors.decide": ({"POST": "visitor.manage"}, {"object_arg": "hold_id"}),
    "visitors.photo": ({"GET": "visitor.read"}, {"object_arg": "visit_id"}),
    "visitors.watchlist": ({"GET": "visitor.read", "POST": "visitor.manage"}, {"building_arg": "building"}),
}


def _hold_buildings(session, hold_id: str) -> frozenset[str] | None:
    try:
        hold = session.get(VisitHold, int(hold_id))
    except ValueError:
        return None
    return None if hold is None else frozenset({hold.visit.building_id})


def _visit_buildings(session, visit_id: str) -> frozenset[str] | None:
    visit = session.get(VisitRecord, visit_id)
    return None if visit is None else frozenset({visit.building_id})


def init_app(app) -> None:
    """Register the pages and declare them to the guard."""
    for endpoint, (actions, scope) in DECLARED.items():
        declare(endpoint, actions, **scope)
    register_resolver("hold_id", _hold_buildings)
    register_resolver("visit_id", _visit_buildings)
    app.register_blueprint(bp)
    from hub.visitors import pool_views  # pool visitor cards (ADR 0003)

    pool_views.init_app(app)


@bp.get("/<building>/desk")
def desk(building: str):
    """Held sign-ins waiting for a decision, and who is on site."""
    session = get_session()
    holds = services.open_holds(session, building)
    entries = {}
    for hold in holds:
        for entry_id in hold.entry_ids:
            entry = session.get(WatchEntry, entry_id)
            if entry is not None:
                entries[entry_id] = entry
    return render_template("visitors/desk.html", building=building, holds=holds, entries=entries,
                           message=request.args.get("m", "")[:40],
                           on_site=[v for v in services.on_site(session, building) if v.status != "held"])


@bp.post("/holds/<hold_id>")
def decide(hold_id: str):
    """Admit (optionally: not this person), refuse, or not sure."""
    session = get_session()
    hold = session.get(VisitHold, int(hold_id))
    decision = request.form.get("decision", "")
    actor = current_actor()
    try:
        services.decide_hold(session, hold.id, decision, by=actor.label if actor else "", now=now(),
                             false_match=request.form.get("false_match") == "1")
    except VisitorError as exc:
        session.rollback()
        return redirect(url_for("visitors.desk", building=hold.visit.building_id, m=exc.reason))
    record(session, actor, "visitor.hold_decided", hold.visit.building_id, None,
           {"hold": hold.id, "decision": decision, "false_match": hold.false_match},
           target=f"visit:{hold.visit_id}", now=now())
    session.commit()
    return redirect(url_for("visitors.desk", building=hold.visit.building_id))


@bp.get("/photo/<visit_id>")
def photo(visit_id: str):
    """A visit's photo (decrypted for this response only, never cached)."""
    session = get_session()
    data = services.photo_bytes(session, session.get(VisitRecord, visit_id))
    if data is None:
        abort(404)
    response = make_response(data)
    response.mimetype = "image/jpeg"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<building>/watchlist", methods=["GET", "POST"])
def watchlist(building: str):
    """The watch list as this building sees it; add one person or import a CSV."""
    session = get_session()
    actor = current_actor()
    report = None
    error = None
    if request.method == "POST":
        try:
            upload = request.files.get("csv")
            if upload is not None and upload.filename:
                text = upload.read(5_000_000).decode("utf-8-sig", errors="replace")
                report = services.import_watch_csv(session, text, now=now(), by=actor.label if actor else "",
                                                   building_id=building)
                record(session, actor, "visitor.watchlist_import", building, None,
                       {"added": report.added, "refused": len(report.errors)}, now=now())
            else:
                dob_text = request.form.get("dob", "").strip()
                dob = date.fromisoformat(dob_text) if dob_text else None
                entry = services.add_watch_entry(
                    session, first=request.form.get("first", ""), last=request.form.get("last", ""), dob=dob,
                    kind=request.form.get("kind", ""), note=request.form.get("note", ""),
                    building_id=building, by=actor.label if actor else "", now=now())
                record(session, actor, "visitor.watchlist_add", building, None, {"entry": entry.id},
                       target=f"watch:{entry.id}", now=now())
            session.commit()
        except (VisitorError, ValueError) as exc:
            session.rollback()
            error = str(exc) if isinstance(exc, VisitorError) else "the date of birth must be YYYY-MM-DD"
    entries = session.scalars(select(WatchEntry).where(
        WatchEntry.active.is_(True),
        (WatchEntry.building_id.is_(None)) | (WatchEntry.building_id == building))
        .order_by(WatchEntry.last, WatchEntry.first)).all()
    return render_template("visitors/watchlist.html", building=building, entries=entries, report=report,
                           error=error, kinds=services.WATCH_KINDS)
