"""API routes: people, credentials, terminations, revocations, doors, events, visits."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any

from flask import Response, current_app, jsonify, request
from sqlalchemy import select

from hub import auth
from hub.api import bp
from hub.api.openapi import document
from hub.auth.permissions import PUBLIC, PermissionDenied, declare, register_resolver
from hub.db import get_session
from hub.keyring import get_keyring
from hub.models import (Building, Device, Door, Keycard, KeyHolding, Person, Revocation,
                        SecretHolding)
from hub.services import buildings, credentials, events, hr_import, people, revocations
from hub.services.errors import Invalid, ServiceError
from hub.visitors import services as visitor_services


# --------------------------------------------------------------------------- errors
def api_error(status: int, code: str, message: str, *, field: str | None = None,
              details: list[str] | None = None) -> Response:
    """The one error shape of the API."""
    body: dict[str, Any] = {"error": code, "message": message}
    if field:
        body["field"] = field
    if details:
        body["details"] = details
    response = jsonify(body)
    response.status_code = status
    return response


@bp.errorhandler(ServiceError)
def _service_error(exc: ServiceError) -> Response:
    get_session().rollback()
    return api_error(exc.status, exc.code, exc.message, field=exc.field, details=exc.details)


@bp.errorhandler(PermissionDenied)
def _denied(exc: PermissionDenied) -> Response:
    get_session().rollback()
    if exc.reason == "building_scope":
        return api_error(404, "not_found", "Not found.")
    return api_error(exc.status, "forbidden", "You do not have access to this.")


@lru_cache(maxsize=1)
def _documented_queries() -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """(METHOD, OpenAPI path) -> {query parameter: its schema}, as the OpenAPI document states."""
    return {(method.upper(), path): {p["name"]: p.get("schema", {}) for p in op.get("parameters", [])
                                     if p["in"] == "query"}
            for path, ops in document()["paths"].items() for method, op in ops.items()}


def _query_problem(name: str, text: str, schema: dict[str, Any]) -> str | None:
    """Why ``text`` does not fit the documented ``schema`` of query parameter ``name``, or None."""
    if "enum" in schema and text not in schema["enum"]:
        return f"{name} must be one of {', '.join(schema['enum'])}"
    if schema.get("type") == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        if not text.isascii() or not text.isdigit() or (low is not None and int(text) < low) \
                or (high is not None and int(text) > high):
            return f"{name} must be a whole number from {low} to {high}"
    if "pattern" in schema and not re.search(schema["pattern"], text):
        return f"{name} is not in the expected form ({schema['pattern']})"
    return None


@bp.before_request
def _refuse_unknown_query_parameters() -> Response | None:
    """Query parameters are checked against the OpenAPI document: unknown ones are refused, never
    ignored, and each value must fit its documented pattern, enum or range.

    A mistyped ``?dryrun=1`` must not quietly run a real HR import; the document is the one list of
    what each route takes, so the API and what it publishes cannot drift apart.
    """
    rule = request.url_rule
    if rule is None:
        return None
    path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule.removeprefix(bp.url_prefix or ""))
    allowed = _documented_queries().get((request.method, path))
    if allowed is None:
        return None
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        return api_error(422, "invalid", f"unknown query parameter(s): {', '.join(unknown)[:200]}; "
                         f"this route takes: {', '.join(sorted(allowed)) or 'none'}", field=unknown[0][:64])
    for name, schema in allowed.items():
        values = request.args.getlist(name)
        if len(values) > 1:
            return api_error(422, "invalid", f"{name} may be given once", field=name)
        problem = _query_problem(name, values[0], schema) if values else None
        if problem:
            return api_error(422, "invalid", problem, field=name)
    return None


def _json() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise Invalid("the request body must be a JSON object", field="body")
    return data


def _str(data: dict[str, Any], key: str, *, required: bool = True, default: str = "") -> str:
    value = data.get(key, None)
    if value is None:
        if required:
            raise Invalid(f"{key} is required", field=key)
        return default
    if not isinstance(value, str):
        raise Invalid(f"{key} must be a string", field=key)
    return value


def _bool(data: dict[str, Any], key: str, default: bool = False) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise Invalid(f"{key} must be true or false", field=key)
    return value


def _time_arg(name: str) -> datetime | None:
    text = request.args.get(name)
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"{name} must be an ISO-8601 time with a zone", field=name) from None
    if value.tzinfo is None:
        raise Invalid(f"{name} must carry a time zone (e.g. 2026-03-02T14:00:00Z)", field=name)
    return value


def _flag_arg(name: str) -> bool:
    """A yes/no query flag; anything else is refused (a mistyped ``dry_run`` must never apply)."""
    text = request.args.get(name)
    if text is None:
        return False
    value = text.strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    raise Invalid(f"{name} must be 1 or 0 (true/false, yes/no)", field=name)


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    text = request.args.get(name)
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise Invalid(f"{name} must be a whole number from {low} to {high}", field=name)
    return int(text)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _scope(action: str, building: str | None) -> frozenset[str] | None:
    """Buildings a list may show; a named building must be in the actor's scope."""
    actor = auth.current_actor()
    if building is not None:
        auth.require(actor, action, building)
        return frozenset({building})
    return auth.visible_buildings(actor)


def _notify_bridge() -> None:
    bridge = current_app.extensions.get("gatehouse.bridge")
    if bridge is not None:
        bridge.notify()


# --------------------------------------------------------------------------- resolvers
def _person_buildings(session, staff_id: str) -> frozenset[str] | None:
    p = session.scalars(select(Person).where(Person.staff_id == staff_id)).first()
    return None if p is None else frozenset(b.id for b in p.buildings)


def _revocation_buildings(session, value: str) -> frozenset[str] | None:
    if not value.isdigit():
        return None
    rev = session.get(Revocation, int(value))
    return None if rev is None else frozenset(b.id for b in rev.person.buildings)


def _card_buildings(session, value: str) -> frozenset[str] | None:
    card = session.get(Keycard, int(value)) if value.isdigit() else None
    return None if card is None else frozenset({card.building_id})




# --------------------------------------------------------------------------- serialisers
def person_json(p: Person) -> dict[str, Any]:
    """A person as the API shows it."""
    return {"staff_id": p.staff_id, "name": p.name, "kind": p.kind, "title": p.title,
            "status": p.status, "company": p.company, "has_dpa": p.has_dpa,
            "can_escort": p.can_escort, "buildings": [b.id for b in p.buildings],
            "groups": [f"{g.building_id}/{g.slug}" for g in p.groups],
            "terminated_at": _iso(p.terminated_at)}


def revocation_json(session, rev: Revocation) -> dict[str, Any]:
    """A revocation with its per-door state and checklist."""
    doors = revocations.door_states(session, rev)
    return {
        "id": rev.id, "revocation_id": rev.id, "staff_id": rev.person.staff_id,
        "reason": rev.reason, "created_at": _iso(rev.created_at), "created_by": rev.created_by,
        "complete": all(d.state == "confirmed" for d in doors),
        "summary": {s: sum(1 for d in doors if d.state == s)
                    for s in ("confirmed", "pending", "offline")},
        "doors": [{"door": d.door_id, "name": d.door_name, "device": d.device_id,
                   "state": d.state, "version": d.version, "acked_version": d.acked_version,
                   "confirmed_at": _iso(d.confirmed_at), "offline_since": _iso(d.offline_since)}
                  for d in doors],
        "checklist": [{"id": i.id, "kind": i.kind, "building": i.building_id,
                       "description": i.description, "records_room": i.records_room,
                       "due_at": _iso(i.due_at), "done_at": _iso(i.done_at)}
                      for i in rev.checklist],
    }


# --------------------------------------------------------------------------- routes
@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description of this API."""
    return jsonify(document())


@bp.get("/people")
def people_list() -> Response:
    """People, by staff id, with cursor pagination (``after``)."""
    scope = _scope("people.read", request.args.get("building"))
    status = request.args.get("status")
    if status is not None and status not in people.STATUSES:
        raise Invalid(f"status must be one of {', '.join(people.STATUSES)}", field="status")
    limit = _int_arg("limit", 100, 1, 1000)
    s = get_session()
    rows: list[Person] = []
    if scope is None:
        rows = people.list_people(s, status=status, limit=limit + 1,
                                  after=request.args.get("after"))
    else:
        seen: dict[str, Person] = {}
        for b in sorted(scope):
            for p in people.list_people(s, building_id=b, status=status, limit=limit + 1,
                                        after=request.args.get("after")):
                seen[p.staff_id] = p
        rows = [seen[k] for k in sorted(seen)][:limit + 1]
    more = len(rows) > limit
    rows = rows[:limit]
    return jsonify({"people": [person_json(p) for p in rows],
                    "next_cursor": rows[-1].staff_id if more and rows else None})


@bp.post("/people")
def people_create() -> Response:
    """Add a person."""
    data = _json()
    bids = data.get("buildings", [])
    if not isinstance(bids, list) or not all(isinstance(b, str) for b in bids) or not bids:
        raise Invalid("buildings must be a non-empty list of building ids", field="buildings")
    for b in bids:
        auth.require(auth.current_actor(), "people.write", b)
    spec = people.PersonSpec(staff_id=_str(data, "staff_id"), name=_str(data, "name"),
                             kind=_str(data, "kind", required=False, default="staff"),
                             title=_str(data, "title", required=False),
                             buildings=bids, company=_str(data, "company", required=False),
                             has_dpa=_bool(data, "has_dpa"), can_escort=_bool(data, "can_escort"))
    s = get_session()
    p = people.create_person(s, spec, actor=auth.current_actor(), now=auth.now())
    s.commit()
    return jsonify(person_json(p)), 201


@bp.get("/people/<staff_id>")
def person_get(staff_id: str) -> Response:
    """One person."""
    return jsonify(person_json(people.get_person(get_session(), staff_id)))


@bp.get("/people/<staff_id>/credentials")
def person_credentials(staff_id: str) -> Response:
    """Keycards, physical keys and codes a person holds or held (never a secret value)."""
    s = get_session()
    p = people.get_person(s, staff_id)
    scope = auth.visible_buildings(auth.current_actor())
    cards = [c for c in s.scalars(select(Keycard).where(Keycard.person_id == p.id))
             if scope is None or c.building_id in scope]
    keys = [h for h in s.scalars(select(KeyHolding).where(KeyHolding.person_id == p.id))
            if scope is None or h.key.building_id in scope]
    codes = [h for h in s.scalars(select(SecretHolding).where(SecretHolding.person_id == p.id))
             if scope is None or h.secret.building_id in scope]
    return jsonify({
        "staff_id": p.staff_id,
        "keycards": [{"id": c.id, "building": c.building_id, "label": c.label,
                      "status": c.status, "has_pin": c.pin_hash is not None,
                      "issued_at": _iso(c.issued_at), "approved_by": c.approved_by,
                      "ended_at": _iso(c.ended_at)} for c in cards],
        "keys": [{"id": h.id, "building": h.key.building_id, "mark": h.key.mark,
                  "opens": h.key.opens, "status": h.status, "issued_at": _iso(h.issued_at),
                  "approved_by": h.approved_by, "ended_at": _iso(h.ended_at)} for h in keys],
        "codes": [{"id": h.secret_id, "building": h.secret.building_id,
                   "kind": h.secret.kind, "label": h.secret.label,
                   "issued_at": _iso(h.issued_at), "ended_at": _iso(h.ended_at)}
                  for h in codes],
    })


@bp.post("/people/<staff_id>/keycards")
def keycard_issue(staff_id: str) -> Response:
    """Enrol a keycard by its typed UID (hex, 4, 7 or 10 bytes), with an approver."""
    data = _json()
    building = _str(data, "building")
    auth.require(auth.current_actor(), "credential.write", building)
    s = get_session()
    p = people.get_person(s, staff_id)
    pin = data.get("pin")
    if pin is not None and not isinstance(pin, str):
        raise Invalid("pin must be a string of 4 to 8 digits", field="pin")
    card = credentials.enrol_card(s, get_keyring().site_key, person=p, building_id=building,
                                  uid_text=_str(data, "uid"), approver=_str(data, "approver"),
                                  actor=auth.current_actor(), now=auth.now(), pin=pin,
                                  label=_str(data, "label", required=False))
    s.commit()
    _notify_bridge()
    return jsonify({"id": card.id, "building": card.building_id, "status": card.status}), 201


@bp.post("/keycards/<int:card_id>/status")
def keycard_status(card_id: int) -> Response:
    """A keycard returned, lost or stolen: every door revokes it."""
    data = _json()
    s = get_session()
    card = credentials.get_card(s, card_id)
    versions = credentials.end_card(s, card, _str(data, "status"), actor=auth.current_actor(),
                                    now=auth.now())
    s.commit()
    _notify_bridge()
    return jsonify({"id": card.id, "status": card.status, "devices": sorted(versions)})


@bp.post("/people/<staff_id>/terminate")
def person_terminate(staff_id: str) -> Response:
    """Terminate: revoke everything, push to every door; answers the revocation and door states."""
    data = request.get_json(silent=True) if request.data else {}
    if not isinstance(data, dict):
        raise Invalid("the request body must be a JSON object", field="body")
    reason = _str(data, "reason", required=False, default="terminated")
    s = get_session()
    p = people.get_person(s, staff_id)
    already = p.status == "terminated"
    rev = revocations.terminate(s, p, actor=auth.current_actor(), now=auth.now(),
                                reason=reason[:200] or "terminated",
                                key_return_days=current_app.config["KEY_RETURN_DAYS"])
    s.commit()
    _notify_bridge()
    return jsonify(revocation_json(s, rev)), 200 if already else 201


@bp.get("/revocations/<int:revocation_id>")
def revocation_get(revocation_id: int) -> Response:
    """Door by door: confirmed, pending or offline, with times."""
    s = get_session()
    return jsonify(revocation_json(s, revocations.get_revocation(s, revocation_id)))


@bp.get("/buildings/<building_id>/doors")
def doors_list(building_id: str) -> Response:
    """A building's doors with their live state."""
    s = get_session()
    buildings.get_building(s, building_id)
    out = []
    for d in buildings.list_doors(s, building_id):
        dev: Device | None = d.device
        out.append({
            "door": d.id, "name": d.name, "kind": d.kind, "mode": d.mode,
            "device": dev.id if dev else None,
            "online": bool(dev and dev.online), "offline_since": _iso(dev.offline_since) if dev else None,
            "acl_version": dev.acl_version if dev else None,
            "acl_acked": dev.acl_acked if dev else None,
            "is_open": d.is_open, "last_event": d.last_event_type,
            "last_event_at": _iso(d.last_event_at)})
    return jsonify({"building": building_id, "doors": out})


@bp.get("/buildings/<building_id>/visits")
def visits_on_site(building_id: str) -> Response:
    """Visitors on site: signed in (or held at the desk) and not yet signed out."""
    s = get_session()
    buildings.get_building(s, building_id)
    return jsonify({"building": building_id, "visits": [
        {"visit": v.id, "status": v.status, "name": f"{v.first} {v.last}".strip(),
         "category": v.category, "company": v.company, "host": v.host_name,
         "destination": v.destination_name, "escort_required": v.escort_required,
         "signed_in_at": _iso(v.signed_in_at), "expires_at": _iso(v.expires_at),
         "kiosk": v.device_id} for v in visitor_services.on_site(s, building_id)]})


def _outside(session, scope: frozenset[str] | None, door_id: str | None,
             device_id: str | None) -> bool:
    """True when the door or device asked for is registered to a building outside ``scope``.

    Its events carry that building, so the caller may see none of them; answering at once
    spares walking every event of a busy door only to filter each one out by building.
    """
    if scope is None:
        return False
    for model, value in ((Door, door_id), (Device, device_id)):
        row = session.get(model, value) if value else None
        if row is not None and row.building_id not in scope:
            return True
    return False


@bp.get("/events")
def events_search() -> Response:
    """Events newest first; filters and an opaque ``cursor`` for the next page."""
    scope = _scope("event.read", request.args.get("building"))
    s = get_session()
    door_id, device_id = request.args.get("door"), request.args.get("device")
    since, until = _time_arg("since"), _time_arg("until")
    limit, cursor = _int_arg("limit", 100, 1, 1000), request.args.get("cursor")
    if cursor:
        events.decode_cursor(cursor)
    if _outside(s, scope, door_id, device_id):
        page = events.EventPage([], None)
    else:
        page = events.search(s, buildings=scope, door_id=door_id, device_id=device_id,
                             holder=request.args.get("holder"), type=request.args.get("type"),
                             since=since, until=until, cursor=cursor, limit=limit)
    return jsonify({"events": [
        {"id": e.id, "device": e.device_id, "seq": e.seq, "type": e.type, "at": _iso(e.at),
         "received_at": _iso(e.received_at), "building": e.building_id, "door": e.door_id,
         "holder": e.holder, "reason": e.reason, "severity": e.severity, "body": e.body}
        for e in page.events], "next_cursor": page.next_cursor})


@bp.post("/people/import")
def people_import() -> Response:
    """HR CSV (text/csv body); ``?dry_run=1`` shows the plan and writes nothing."""
    dry_run = _flag_arg("dry_run")
    if request.content_length is not None and request.content_length > hr_import.MAX_BYTES:
        raise Invalid("file is too large", field="file")
    data = request.get_data(cache=False)
    s = get_session()
    known = set(s.scalars(select(Building.id)))
    rows = hr_import.parse(data, known)
    for b in sorted({b for r in rows for b in r.buildings}):
        auth.require(auth.current_actor(), "people.write", b)
    if dry_run:
        plan = hr_import.plan(s, rows)
        revs = []
    else:
        plan, revs = hr_import.apply(s, data, actor=auth.current_actor(), now=auth.now(),
                                     key_return_days=current_app.config["KEY_RETURN_DAYS"])
        s.commit()
        _notify_bridge()
    return jsonify({"dry_run": dry_run,
                    "summary": plan.summary,
                    "changes": [{"line": c.line, "staff_id": c.staff_id, "action": c.action,
                                 "fields": list(c.fields), "note": c.note}
                                for c in plan.changes],
                    "revocations": [r.id for r in revs]})


@bp.get("/buildings/<building_id>/master-list.csv")
def master_list_csv(building_id: str) -> Response:
    """The building's master list as CSV (holders and dates, never a code); audited."""
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






def declare_endpoints() -> None:
    """Put this blueprint's endpoints and object resolvers in the permission table (idempotent)."""
    register_resolver("staff_id", _person_buildings)
    register_resolver("revocation_id", _revocation_buildings)
    register_resolver("card_id", _card_buildings)
    declare("api.openapi", PUBLIC)
    declare("api.people_list", "people.read")
    declare("api.people_create", {"POST": "people.write"})
    declare("api.person_get", "people.read", object_arg="staff_id")
    declare("api.person_credentials", "credential.read", object_arg="staff_id")
    declare("api.keycard_issue", {"POST": "credential.write"}, object_arg="staff_id")
    declare("api.keycard_status", {"POST": "credential.write"}, object_arg="card_id")
    declare("api.person_terminate", {"POST": "person.terminate"}, object_arg="staff_id")
    declare("api.revocation_get", "revocation.read", object_arg="revocation_id")
    declare("api.doors_list", "door.read", building_arg="building_id")
    declare("api.visits_on_site", "visitor.read", building_arg="building_id")
    declare("api.events_search", "event.read")
    declare("api.people_import", {"POST": "people.write"})
    declare("api.master_list_csv", "credential.export", building_arg="building_id")
