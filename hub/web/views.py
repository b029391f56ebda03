"""Page views: each parses input, calls a service, renders a template."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, current_app, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from hub import auth
from hub.auth.permissions import PUBLIC, declare, decide, register_resolver
from hub.db import get_session
from hub.keyring import get_keyring
from hub.models import ChecklistItem, Device, Keycard, KeyHolding, Secret, SecretHolding
from hub.models.credentials import TapEnrolment
from hub.services import alerts, buildings, credentials, devices, people, revocations
from hub.services.errors import ServiceError
from hub.web import bp


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _notify_bridge() -> None:
    bridge = current_app.extensions.get("gatehouse.bridge")
    if bridge is not None:
        bridge.notify()


@bp.errorhandler(ServiceError)
def _service_error(exc: ServiceError) -> tuple[str, int]:
    get_session().rollback()
    return render_template("web/error.html", error=exc), exc.status


def _secret_buildings(session, value: str) -> frozenset[str] | None:
    s = session.get(Secret, int(value)) if value.isdigit() else None
    return None if s is None else frozenset({s.building_id})


def _item_buildings(session, value: str) -> frozenset[str] | None:
    item = session.get(ChecklistItem, int(value)) if value.isdigit() else None
    return None if item is None else frozenset({item.building_id})




@bp.get("/")
def index() -> str:
    """Buildings in the signed-in account's scope."""
    scope = auth.visible_buildings(auth.current_actor())
    rows = [b for b in buildings.list_buildings(get_session()) if scope is None or b.id in scope]
    return render_template("web/index.html", buildings=rows)


@bp.get("/buildings/<building_id>")
def master_list(building_id: str) -> str:
    """The building's confidential master list (no code values): paged, searchable tables."""
    s = get_session()
    building = buildings.get_building(s, building_id)
    args = request.args
    q, status, page = credentials.parse_filter(args.get("q"), args.get("status"),
                                               args.get("page"),
                                               statuses=credentials.CARD_STATUSES,
                                               default_status="active")
    _q, pstatus, ppage = credentials.parse_filter(args.get("q"), args.get("pstatus"),
                                                  args.get("ppage"),
                                                  statuses=credentials.PERSON_STATUSES)
    _q, _s, kpage = credentials.parse_filter(None, None, args.get("kpage"), statuses=())
    _q, _s, spage = credentials.parse_filter(None, None, args.get("spage"), statuses=())
    keys = credentials.key_page(s, building_id, q=q, page=kpage)
    codes = credentials.secret_page(s, building_id, q=q, page=spage)
    cards = credentials.card_page(s, building_id, q=q, status=status, page=page)
    staff = credentials.person_page(s, building_id, q=q, status=pstatus, page=ppage)
    # One url_for for every row: links differ only by the staff id, whose alphabet
    # ([A-Za-z0-9._-], enforced by people.STAFF_ID_RE) needs no quoting in a path.
    person_url = url_for("web.person", staff_id="0")[:-1]
    filters = {k: v for k, v in (("q", q), ("status", status or "all"), ("pstatus", pstatus),
                                 ("page", page), ("ppage", ppage), ("kpage", kpage),
                                 ("spage", spage)) if v}
    return render_template("web/master_list.html", building=building, keys=keys, codes=codes,
                           cards=cards,
                           people=staff, counts=credentials.counts(s, building_id),
                           q=q, status=status or "all", pstatus=pstatus or "all",
                           filters=filters,
                           card_statuses=credentials.CARD_STATUSES,
                           person_statuses=credentials.PERSON_STATUSES,
                           alerts=alerts.open_alerts(s, building_id=building_id)[:50],
                           person_url=person_url)


@bp.get("/buildings/<building_id>/master-list/print")
def master_list_print(building_id: str) -> str:
    """The whole master list on paper: marked confidential, dated, signed by who printed it; audited."""
    s = get_session()
    building = buildings.get_building(s, building_id)
    ml, cards = credentials.printable(s, building_id)
    actor, now = auth.current_actor(), auth.now()
    rows = len(cards) + credentials.export_row_count(ml)
    credentials.record_export(s, building_id, kind="print", actor=actor, now=now, rows=rows)
    s.commit()
    return render_template("web/master_list_print.html", building=building, ml=ml, cards=cards,
                           printed_at=now, printed_by=actor.label)


@bp.get("/buildings/<building_id>/master-list.csv")
def master_list_csv(building_id: str) -> Response:
    """CSV export of the master list (every status); audited."""
    s = get_session()
    buildings.get_building(s, building_id)
    ml = credentials.master_list(s, building_id, include_ended=True)
    text = credentials.export_csv(ml)
    credentials.record_export(s, building_id, kind="csv", actor=auth.current_actor(),
                              now=auth.now(), rows=credentials.export_row_count(ml))
    s.commit()
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="master-list-{building_id}.csv"',
        "Cache-Control": "no-store"})


@bp.get("/buildings/<building_id>/devices")
def devices_page(building_id: str) -> str:
    """Controllers and kiosks with their state and ACL versions."""
    s = get_session()
    building = buildings.get_building(s, building_id)
    return render_template("web/devices.html", building=building,
                           devices=devices.list_devices(s, building_id))


@bp.get("/people/<staff_id>")
def person(staff_id: str) -> str:
    """A person: what they hold, and the Terminate button."""
    s = get_session()
    p = people.get_person(s, staff_id)
    scope = auth.visible_buildings(auth.current_actor())

    def visible(building_id: str) -> bool:
        return scope is None or building_id in scope

    cards = [c for c in s.scalars(select(Keycard).where(Keycard.person_id == p.id))
             if visible(c.building_id)]
    keys = [h for h in s.scalars(select(KeyHolding).where(KeyHolding.person_id == p.id))
            if visible(h.key.building_id)]
    codes = [h for h in s.scalars(select(SecretHolding).where(SecretHolding.person_id == p.id))
             if visible(h.secret.building_id)]
    actor = auth.current_actor()
    writable = frozenset(b.id for b in p.buildings
                         if decide(actor, "credential.write", b.id).allowed)
    readers = credentials.enrolment_readers(s, p, writable) if p.status == "active" else []
    return render_template("web/person.html", person=p, cards=cards, keys=keys, codes=codes,
                           revocations=revocations.for_person(s, p), readers=readers)


# --------------------------------------------------------------------------- enrolment by tapping
def _enrolment_buildings(session, value: str) -> frozenset[str] | None:
    wait = session.get(TapEnrolment, int(value)) if value.isdigit() else None
    return None if wait is None else frozenset({wait.building_id})


def _tap_json(state: credentials.TapState) -> dict[str, Any]:
    scope = auth.visible_buildings(auth.current_actor())
    visible = state.holder_building is not None and (scope is None
                                                      or state.holder_building in scope)
    return {"id": state.id, "state": state.state, "message": state.message,
            "seconds_left": state.seconds_left, "fingerprint": state.fingerprint,
            "seen_at": _iso(state.seen_at), "card_id": state.card_id,
            # a holder in another building is not named (objects out of scope do not exist)
            "holder": state.holder_staff_id if visible else None}


@bp.post("/people/<staff_id>/enrol-tap")
def enrol_tap_start(staff_id: str) -> Response:
    """Start waiting at the chosen door reader for the card to enrol; go to the waiting page."""
    s = get_session()
    p = people.get_person(s, staff_id)
    device_id = (request.form.get("device") or "").strip()
    device = s.get(Device, device_id) if device_id else None
    if device is not None:
        # the person's building is in scope (the guard checked); the reader's must be too
        auth.require(auth.current_actor(), "credential.write", device.building_id)
    wait = credentials.start_tap_enrolment(
        s, person=p, device_id=device_id, actor=auth.current_actor(), now=auth.now(),
        wait_s=int(current_app.config.get("TAP_ENROL_WAIT_S", credentials.TAP_WAIT_S)))
    s.commit()
    return redirect(url_for("web.enrolment", enrolment_id=wait.id), code=303)


@bp.get("/enrolments/<int:enrolment_id>")
def enrolment(enrolment_id: int) -> str:
    """The waiting page: tap the card now; enrolment.js shows it and the confirm form appears."""
    s = get_session()
    wait = credentials.get_tap_enrolment(s, enrolment_id)
    state = credentials.poll_tap_enrolment(s, wait, auth.now())
    s.commit()
    return render_template("web/enrolment.html", wait=wait, state=_tap_json(state),
                           device=s.get(Device, wait.device_id))


@bp.get("/enrolments/<int:enrolment_id>/state.json")
def enrolment_state(enrolment_id: int) -> Response:
    """What the waiting page polls: waiting (seconds left), seen, already enrolled, expired, ..."""
    s = get_session()
    wait = credentials.get_tap_enrolment(s, enrolment_id)
    state = credentials.poll_tap_enrolment(s, wait, auth.now())
    s.commit()
    return jsonify(_tap_json(state))


@bp.post("/enrolments/<int:enrolment_id>/confirm")
def enrolment_confirm(enrolment_id: int) -> Response:
    """Create the keycard from the tapped card, exactly as typed enrolment does (audited)."""
    s = get_session()
    wait = credentials.get_tap_enrolment(s, enrolment_id)
    pin = request.form.get("pin") or None
    credentials.confirm_tap_enrolment(s, wait, approver=request.form.get("approver", ""),
                                      actor=auth.current_actor(), now=auth.now(), pin=pin,
                                      label=(request.form.get("label") or "").strip())
    s.commit()
    _notify_bridge()
    return redirect(url_for("web.enrolment", enrolment_id=wait.id), code=303)


@bp.post("/enrolments/<int:enrolment_id>/cancel")
def enrolment_cancel(enrolment_id: int) -> Response:
    """Stop waiting and free the reader."""
    s = get_session()
    wait = credentials.get_tap_enrolment(s, enrolment_id)
    credentials.cancel_tap_enrolment(s, wait, now=auth.now())
    s.commit()
    return redirect(url_for("web.person", staff_id=wait.person.staff_id), code=303)


@bp.post("/people/<staff_id>/terminate")
def terminate(staff_id: str) -> Response:
    """Terminate and go to the per-door confirmation page."""
    s = get_session()
    p = people.get_person(s, staff_id)
    reason = (request.form.get("reason") or "terminated").strip()[:200] or "terminated"
    rev = revocations.terminate(s, p, actor=auth.current_actor(), now=auth.now(), reason=reason,
                                key_return_days=current_app.config["KEY_RETURN_DAYS"])
    s.commit()
    _notify_bridge()
    return redirect(url_for("web.revocation", revocation_id=rev.id), code=303)


def _revocation_data(revocation_id: int) -> tuple[Any, list[revocations.DoorState]]:
    s = get_session()
    rev = revocations.get_revocation(s, revocation_id)
    return rev, revocations.door_states(s, rev)


@bp.get("/revocations/<int:revocation_id>")
def revocation(revocation_id: int) -> str:
    """Door-by-door confirmation table (refreshed by revocation.js) and the checklist."""
    rev, doors = _revocation_data(revocation_id)
    return render_template("web/revocation.html", rev=rev, doors=doors)


@bp.get("/revocations/<int:revocation_id>/state.json")
def revocation_state(revocation_id: int) -> Response:
    """What the page's script polls: each door's state."""
    rev, doors = _revocation_data(revocation_id)
    return jsonify({"revocation_id": rev.id,
                    "complete": all(d.state == "confirmed" for d in doors),
                    "doors": [{"door": d.door_id, "state": d.state,
                               "confirmed_at": _iso(d.confirmed_at),
                               "offline_since": _iso(d.offline_since)} for d in doors]})


@bp.post("/checklist/<int:item_id>/done")
def checklist_done(item_id: int) -> Response:
    """Tick a checklist item (a key handed back, a badge collected, a code changed)."""
    s = get_session()
    item = s.get(ChecklistItem, item_id)
    if item is None:
        abort(404)
    revocations.complete_item(s, item, actor=auth.current_actor(), now=auth.now())
    s.commit()
    return redirect(url_for("web.revocation", revocation_id=item.revocation_id), code=303)


@bp.post("/secrets/<int:secret_id>/view")
def secret_view(secret_id: int) -> str:
    """Reveal a code to a re-authenticated principal; the view is audited before it is shown."""
    s = get_session()
    secret = credentials.get_secret(s, secret_id)
    value = credentials.view_secret(s, get_keyring().vault, secret, actor=auth.current_actor(),
                                    now=auth.now(), reason=request.form.get("reason", ""))
    s.commit()
    return render_template("web/secret.html", secret=secret, value=value)


def declare_endpoints() -> None:
    """Put this blueprint's endpoints and object resolvers in the permission table (idempotent)."""
    register_resolver("secret_id", _secret_buildings)
    register_resolver("item_id", _item_buildings)
    register_resolver("enrolment_id", _enrolment_buildings)
    declare("web.static", PUBLIC)
    declare("web.index", "building.read")
    declare("web.master_list", "credential.read", building_arg="building_id")
    declare("web.master_list_print", "credential.export", building_arg="building_id")
    declare("web.master_list_csv", "credential.export", building_arg="building_id")
    declare("web.devices_page", "device.read", building_arg="building_id")
    declare("web.person", "people.read", object_arg="staff_id")
    declare("web.terminate", {"POST": "person.terminate"}, object_arg="staff_id")
    declare("web.revocation", "revocation.read", object_arg="revocation_id")
    declare("web.revocation_state", "revocation.read", object_arg="revocation_id")
    declare("web.checklist_done", {"POST": "credential.write"}, object_arg="item_id")
    declare("web.secret_view", {"POST": "secret.view"}, object_arg="secret_id")
    declare("web.enrol_tap_start", {"POST": "credential.write"}, object_arg="staff_id")
    declare("web.enrolment", {"GET": "credential.write"}, object_arg="enrolment_id")
    declare("web.enrolment_state", {"GET": "credential.write"}, object_arg="enrolment_id")
    declare("web.enrolment_confirm", {"POST": "credential.write"}, object_arg="enrolment_id")
    declare("web.enrolment_cancel", {"POST": "credential.write"}, object_arg="enrolment_id")
