"""The OpenAPI 3.1 document served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

_ERROR = {"description": "Error", "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Error"}}}}


def _op(summary: str, action: str, *, params: list[dict] | None = None,
        body: dict | None = None, ok: str = "200", schema: str | None = None,
        content: str = "application/json", body_required: bool = True,
        also_ok: dict[str, str] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary, "x-gatehouse-action": action,
        "parameters": params or [],
        "responses": {ok: {"description": "OK", "content": {content: {
            "schema": {"$ref": f"#/components/schemas/{schema}"} if schema else {"type": "string"}}}},
            "400": _ERROR, "401": _ERROR, "403": _ERROR, "404": _ERROR, "409": _ERROR,
            "422": _ERROR},
    }
    for code, description in (also_ok or {}).items():
        op["responses"][code] = {**op["responses"][ok], "description": description}
    if body is not None:
        op["requestBody"] = {"required": body_required, "content": body}
    return op


def _path(name: str, desc: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": desc,
            "schema": {"type": "string"}}


def _query(name: str, desc: str, kind: str = "string", **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": desc,
            "schema": {"type": kind, **schema}}


# What the API accepts, stated so that clients (and fuzzers) generate what the hub takes.
_LIMIT = _query("limit", "1-1000 (default 100)", "integer", minimum=1, maximum=1000)
_TIME = {"format": "date-time", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$"}
_FLAG = {"enum": ["1", "0", "true", "false", "yes", "no"]}
_STAFF_ID = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}
_SLUG = {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_-]{0,63}$"}
_TEXT_1_200 = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"}
_TEXT_200 = {"type": "string", "maxLength": 200}


def _json_body(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


_STAFF = _path("staff_id", "the district's staff id")
_BUILDING = _path("building_id", "building id")


def document() -> dict[str, Any]:
    """The whole document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Gatehouse hub API", "version": "1",
                 "description": "Bearer tokens are created by the Data Privacy Team "
                                "(`gatehouse-hub token create`) and scoped to a role and "
                                "buildings. Errors are JSON: {error, message, field?, details?}."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/people": {
                "get": _op("List people", "people.read", schema="PeopleList", params=[
                    _query("building", "only this building", **_SLUG), _query("status", "active, on_leave or terminated",
                                                               enum=["active", "on_leave", "terminated"]),
                    _query("after", "cursor: the last staff id of the previous page", **_STAFF_ID),
                    _LIMIT]),
                "post": _op("Add a person", "people.write", body=_json_body("PersonIn"),
                            ok="201", schema="Person"),
            },
            "/people/import": {"post": _op(
                "Import the HR CSV export (dry_run=1 shows the plan)", "people.write",
                params=[_query("dry_run", "1 to only show the plan (0 or absent applies it)", **_FLAG)],
                body={"text/csv": {"schema": {"type": "string", "minLength": 1}}}, schema="ImportResult")},
            "/people/{staff_id}": {"get": _op("One person", "people.read", params=[_STAFF],
                                              schema="Person")},
            "/people/{staff_id}/credentials": {"get": _op(
                "Keycards, keys and codes held (never a code's value)", "credential.read",
                params=[_STAFF], schema="Credentials")},
            "/people/{staff_id}/keycards": {"post": _op(
                "Enrol a keycard by typed UID", "credential.write", params=[_STAFF],
                body=_json_body("KeycardIn"), ok="201", schema="Keycard")},
            "/keycards/{card_id}/status": {"post": _op(
                "Mark a keycard returned, lost or stolen", "credential.write",
                params=[_path("card_id", "keycard id")], body=_json_body("KeycardStatus"),
                schema="Keycard")},
            "/people/{staff_id}/terminate": {"post": _op(
                "Terminate: revoke every credential on every door, open the checklist",
                "person.terminate", params=[_STAFF], body=_json_body("TerminateIn"),
                body_required=False, ok="201", schema="Revocation",
                also_ok={"200": "Already terminated: the same revocation, door by door"})},
            "/revocations/{revocation_id}": {"get": _op(
                "A revocation, door by door: confirmed, pending or offline", "revocation.read",
                params=[_path("revocation_id", "revocation id")], schema="Revocation")},
            "/buildings/{building_id}/doors": {"get": _op(
                "Doors with live state", "door.read", params=[_BUILDING], schema="Doors")},
            "/buildings/{building_id}/visits": {"get": _op(
                "Visitors on site", "visitor.read", params=[_BUILDING], schema="Visits")},
            "/buildings/{building_id}/master-list.csv": {"get": _op(
                "The whole master list as CSV (every export audited)", "credential.export",
                params=[_BUILDING],
                content="text/csv")},
            "/events": {"get": _op("Search events, newest first", "event.read", params=[
                _query("building", "building id", **_SLUG), _query("door", "door id", **_SLUG),
                _query("device", "device id", **_SLUG), _query("holder", "staff id", **_STAFF_ID),
                _query("type", "event type, e.g. access.denied"),
                _query("since", "ISO-8601 time with zone", **_TIME),
                _query("until", "ISO-8601 time with zone", **_TIME),
                _query("cursor", "next_cursor of the previous page (opaque)", pattern=r"^[A-Za-z0-9_-]{1,200}$"),
                _LIMIT], schema="Events")},
            "/openapi.json": {"get": {"summary": "This document", "security": [],
                                      "responses": {"200": {"description": "OK"}}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "message"], "properties": {
                    "error": {"type": "string"}, "message": {"type": "string"},
                    "field": {"type": "string"},
                    "details": {"type": "array", "items": {"type": "string"}}}},
                "PersonIn": {
                    "type": "object", "required": ["staff_id", "name", "buildings"],
                    "description": "A vendor needs a company; only staff may escort. A building must "
                                   "exist and be in the token's scope.",
                    "properties": {
                        "staff_id": _STAFF_ID, "name": _TEXT_1_200,
                        "kind": {"enum": ["staff", "vendor", "custodial"]},
                        "title": _TEXT_200, "company": _TEXT_200,
                        "has_dpa": {"type": "boolean"}, "can_escort": {"type": "boolean"},
                        "buildings": {"type": "array", "minItems": 1, "items": _SLUG}},
                    "allOf": [
                        {"if": {"properties": {"kind": {"const": "vendor"}}, "required": ["kind"]},
                         "then": {"required": ["company"],
                                  "properties": {"company": {"minLength": 1, "pattern": r"\S"}}}},
                        {"if": {"properties": {"can_escort": {"const": True}}, "required": ["can_escort"]},
                         "then": {"properties": {"kind": {"const": "staff"}}}}]},
                "Person": {"type": "object", "properties": {
                    "staff_id": {"type": "string"}, "name": {"type": "string"},
                    "kind": {"type": "string"}, "title": {"type": "string"},
                    "status": {"enum": ["active", "on_leave", "terminated"]},
                    "buildings": {"type": "array", "items": {"type": "string"}},
                    "groups": {"type": "array", "items": {"type": "string"}},
                    "terminated_at": {"type": ["string", "null"]}}},
                "PeopleList": {"type": "object", "properties": {
                    "people": {"type": "array", "items": {"$ref": "#/components/schemas/Person"}},
                    "next_cursor": {"type": ["string", "null"]}}},
                "KeycardIn": {"type": "object", "required": ["building", "uid", "approver"],
                              "description": "The person must be active and attached to the building; "
                                             "a card already enrolled answers 409.",
                              "properties": {
                                  "building": _SLUG,
                                  "uid": {"type": "string", "description": "8, 14 or 20 hex digits "
                                          "(spaces and colons between them are ignored)",
                                          "pattern": r"^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{14}|[0-9A-Fa-f]{20})$"},
                                  "approver": _TEXT_1_200,
                                  "pin": {"type": "string", "pattern": r"^[0-9]{4,8}$",
                                          "description": "4-8 digits"},
                                  "label": _TEXT_200}},
                "KeycardStatus": {"type": "object", "required": ["status"], "properties": {
                    "status": {"enum": ["returned", "lost", "stolen", "revoked"]}}},
                "Keycard": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "building": {"type": "string"},
                    "status": {"type": "string"}}},
                "Credentials": {"type": "object"},
                "TerminateIn": {"type": "object", "properties": {
                    "reason": {"type": ["string", "null"], "maxLength": 200}}},
                "DoorState": {"type": "object", "properties": {
                    "door": {"type": "string"}, "name": {"type": "string"},
                    "device": {"type": "string"},
                    "state": {"enum": ["confirmed", "pending", "offline"]},
                    "version": {"type": "integer"}, "acked_version": {"type": ["integer", "null"]},
                    "confirmed_at": {"type": ["string", "null"]},
                    "offline_since": {"type": ["string", "null"]}}},
                "Revocation": {"type": "object", "required": ["revocation_id", "doors"],
                               "properties": {
                                   "revocation_id": {"type": "integer"},
                                   "staff_id": {"type": "string"},
                                   "complete": {"type": "boolean"},
                                   "doors": {"type": "array",
                                             "items": {"$ref": "#/components/schemas/DoorState"}},
                                   "checklist": {"type": "array", "items": {"type": "object"}}}},
                "Doors": {"type": "object"}, "Visits": {"type": "object"},
                "Events": {"type": "object", "properties": {
                    "events": {"type": "array", "items": {"type": "object"}},
                    "next_cursor": {"type": ["string", "null"]}}},
                "ImportResult": {"type": "object"},
            },
        },
    }
