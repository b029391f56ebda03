"""The hub's pages for pool visitor cards (ADR 0003): ``/visitors/<building>/pool``.

The front desk sees every card of the building's pool (free, lent to "First L." until when, to
collect after its loan ended with the doors' confirmation of the revocation), lends a card to a
visit, and records a card handed back. The principal (``door.manage``) turns the pool on and
picks the visitor access group; enrolling and retiring cards is part of the master list
(``credential.write``). Thin views over :mod:`hub.visitors.pool`; registered by
:func:`hub.visitors.views.init_app`. No inline script (the hub's CSP).
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from sqlalchemy import select

from hub.auth import current_actor, declare, now
from hub.db import get_session
from hub.keyring import get_keyring
from hub.models import AccessGroup
from hub.visitors import pool, services
from hub.visitors.models import VisitDestination
from hub.visitors.pool_models import PoolDestinationGroup
from hub.visitors.services import VisitorError

bp = Blueprint("visitors_pool", __name__, template_folder="templates", url_prefix="/visitors")

_B = {"building_arg": "building"}
DECLARED = {
    "visitors_pool.cards": ({"GET": "visitor.read"}, _B),
    "visitors_pool.lend": ({"POST": "visitor.manage"}, _B),
    "visitors_pool.returned": ({"POST": "visitor.manage"}, _B),
    "visitors_pool.settings": ({"POST": "door.manage"}, _B),
    "visitors_pool.enrol": ({"POST": "credential.write"}, _B),
    "visitors_pool.retire": ({"POST": "credential.write"}, _B),
}


def init_app(app) -> None:
    """Register the pool pages and declare them to the guard."""
    for endpoint, (actions, scope) in DECLARED.items():
        declare(endpoint, actions, **scope)
    app.register_blueprint(bp)


def _actor():
    actor = current_actor()
    return actor if actor is not None else "unknown"


def _number(field: str = "number") -> int:
    text = (request.form.get(field) or "").strip()
    if not text.isdigit() or not 1 <= int(text) <= pool.MAX_NUMBER:
        raise VisitorError("bad_request", f"the card number must be 1 to {pool.MAX_NUMBER}")
    return int(text)


def _done(building: str, action, ok: str):
    """Run ``action``; commit and say ``ok``, or roll back and say why not."""
    session = get_session()
    try:
        action(session)
    except VisitorError as exc:
        session.rollback()
        return redirect(url_for("visitors_pool.cards", building=building, m=str(exc)[:160]))
    session.commit()
    return redirect(url_for("visitors_pool.cards", building=building, ok=ok))


@bp.get("/<building>/pool")
def cards(building: str):
    """The building's pool: settings, every card's state, and the visits a card may be lent to."""
    session = get_session()
    row = pool.settings_for(session, building)
    groups = session.scalars(select(AccessGroup).where(AccessGroup.building_id == building,
                                                       AccessGroup.responder.is_(False))
                             .order_by(AccessGroup.slug)).all()
    group_of = {g.id: g.slug for g in groups}
    overrides = {r.destination: group_of.get(r.group_id, "?") for r in session.scalars(
        select(PoolDestinationGroup).where(PoolDestinationGroup.building_id == building))}
    destinations = session.scalars(select(VisitDestination).where(
        VisitDestination.building_id == building, VisitDestination.active.is_(True))
        .order_by(VisitDestination.name)).all()
    lendable = [v for v in services.on_site(session, building)
                if v.status in ("on_site", "pending") and pool.active_loan(session, v.id) is None]
    return render_template("visitors/pool.html", building=building, settings=row,
                           group=group_of.get(row.group_id) if row and row.group_id else None,
                           groups=groups, overrides=overrides, destinations=destinations,
                           rows=pool.overview(session, building), lendable=lendable,
                           message=request.args.get("m", "")[:160], ok=request.args.get("ok", "")[:80])


@bp.post("/<building>/pool/lend")
def lend(building: str):
    """The desk lends a card to a visit on site."""
    def act(session):
        pool.assign(session, building, request.form.get("visit", "")[:64], _number(), by=_actor(), now=now())
    return _done(building, act, "card lent")


@bp.post("/<building>/pool/returned")
def returned(building: str):
    """A card is back at the desk (a card still lent is deactivated first)."""
    return _done(building, lambda s: pool.mark_returned(s, building, _number(), actor=_actor(), now=now()),
                 "card returned")


@bp.post("/<building>/pool/settings")
def settings(building: str):
    """Turn the pool on or off, choose the visitor group, or a destination's narrower group."""
    def act(session):
        destination = request.form.get("destination", "").strip()
        group = request.form.get("group", "").strip() or None
        if destination:
            pool.set_destination_group(session, building, destination, group, actor=_actor(), now=now())
        else:
            pool.configure(session, building, enabled=request.form.get("enabled") == "1", group_slug=group,
                           actor=_actor(), now=now())
    return _done(building, act, "settings saved")


@bp.post("/<building>/pool/enrol")
def enrol(building: str):
    """Add a numbered card to the pool (its UID is read from the card and never stored)."""
    def act(session):
        pool.enrol_card(session, get_keyring(current_app).site_key, building_id=building, number=_number(),
                        uid_text=request.form.get("uid", "")[:64], approver=request.form.get("approver", ""),
                        actor=_actor(), now=now())
    return _done(building, act, "card enrolled")


@bp.post("/<building>/pool/retire")
def retire(building: str):
    """Take a card out of the pool for good (retired or lost); a loan in progress ends."""
    return _done(building, lambda s: pool.retire_card(s, building, _number(), request.form.get("status", ""),
                                                      actor=_actor(), now=now()), "card retired")
