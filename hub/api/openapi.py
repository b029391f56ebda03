"""The OpenAPI 3.1 document served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

_ERROR = {"description": "Error", "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Error"}}}}


def _op(summary: str, action: str, *, params: list[dict] | None = None,
        body: dict | None = None, ok: str = "200", schema: str | None = None,
        content: str = "application/json") -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary, "x-gatehouse-action": action,
        "parameters": params or [],
        "responses": {ok: {"description": "OK", "content": {content: {
            "schema": {"$ref": f"#/components/schemas/{schema}"} if schema else {"type": "string"}}}},
            "400": _ERROR, "401": _ERROR, "403": _ERROR, "404": _ERROR, "409": _ERROR,
            "422": _ERROR},
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": body}
    return op


def _path(name: str, desc: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": desc,
            "schema": {"type": "string"}}


def _query(name: str, desc: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": desc,
            "schema": {"type": kind}}


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
                    _query("building", "only this building"), _query("status", "active, on_leave or terminated"),
                    _query("after", "cursor: the last staff id of the previous page"),
                    _query("limit", "1-1000 (default 100)", "integer")]),
                "post": _op("Add a person", "people.write", body=_json_body("PersonIn"),
                            ok="201", schema="Person"),
            },
            "/people/import": {"post": _op(
                "Import the HR CSV export (dry_run=1 shows the plan)", "people.write",
                params=[_query("dry_run", "1 to only show the plan")],
                body={"text/csv": {"schema": {"type": "string"}}}, schema="ImportResult")},
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
                ok="201", schema="Revocation")},
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
                _query("building", "building id"), _query("door", "door id"),
                _query("device", "device id"), _query("holder", "staff id"),
                _query("type", "event type, e.g. access.denied"),
                _query("since", "ISO-8601 time with zone"), _query("until", "ISO-8601 time with zone"),
                _query("cursor", "next_cursor of the previous page"),
                _query("limit", "1-1000 (default 100)", "integer")], schema="Events")},
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
                "PersonIn": {"type": "object", "required": ["staff_id", "name", "buildings"],
                             "properties": {
                                 "staff_id": {"type": "string"}, "name": {"type": "string"},
                                 "kind": {"enum": ["staff", "vendor", "custodial"]},
                                 "title": {"type": "string"}, "company": {"type": "string"},
                                 "has_dpa": {"type": "boolean"}, "can_escort": {"type": "boolean"},
                                 "buildings": {"type": "array", "items": {"type": "string"}}}},
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
                              "properties": {"building": {"type": "string"},
                                             "uid": {"type": "string", "description": "8, 14 or 20 hex digits"},
                                             "approver": {"type": "string"},
                                             "pin": {"type": "string", "description": "4-8 digits"},
                                             "label": {"type": "string"}}},
                "KeycardStatus": {"type": "object", "required": ["status"], "properties": {
                    "status": {"enum": ["returned", "lost", "stolen", "revoked"]}}},
                "Keycard": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "building": {"type": "string"},
                    "status": {"type": "string"}}},
                "Credentials": {"type": "object"},
                "TerminateIn": {"type": "object", "properties": {"reason": {"type": "string"}}},
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
