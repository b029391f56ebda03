"""Every registered route, for every role, answers as the permission table says.

The table is the single place that grants access; this walks ``app.url_map`` (so a new route is
covered the moment it is registered), signs in as each role, and checks who got through the
guard. A route missing from the table must be refused to everyone (fail secure).
"""

from __future__ import annotations

import logging
import re

import pytest

from hub.auth import services
from hub.auth.permissions import ACTIONS, ENDPOINTS, PARTIAL, PUBLIC, SIGNED_IN, Role
from hub.db import get_database
from tests.hub.auth.conftest import mint_session

BUILDING = "hs-1"
OTHER_BUILDING = "ms-2"
SCOPES = {
    Role.PRIVACY_TEAM: [],
    Role.PRINCIPAL: [BUILDING],
    Role.FRONT_DESK: [BUILDING],
    Role.AUDITOR: [],
}
GUARD_DENIAL = re.compile(r"auth\.denied by=guard status=(\d+) reason=(\w+)")


def _routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"OPTIONS", "HEAD"}):
            yield rule, method


def _url(rule, building: str) -> str:
    values = {}
    declared = ENDPOINTS.get(rule.endpoint)
    for arg in rule.arguments:
        converter = rule._converters[arg].__class__.__name__
        if declared is not None and arg == declared.building_arg:
            values[arg] = building
        elif converter in ("IntegerConverter", "NumberConverter"):
            values[arg] = 999999
        elif converter == "PathConverter":
            values[arg] = "nothing.css"
        else:
            values[arg] = "unknown-id"
    path = rule.build(values, append_unknown=False)[1]
    return path


def _guard_denied(caplog) -> int | None:
    """The status of the guard's refusal, or None if the guard let the request through.

    A 404 because the object named in the URL does not exist means the role check passed (the
    ids here are made up); building scope of real objects is tested in test_object_scope.py.
    """
    for record in caplog.records:
        match = GUARD_DENIAL.search(record.getMessage())
        if match and match.group(2) != "object_not_found":
            return int(match.group(1))
    return None


def _expected(rule_endpoint: str, method: str, role: Role | None, stage: str) -> bool:
    """Whether the guard should let this request through."""
    declared = ENDPOINTS.get(rule_endpoint)
    if declared is None:
        return False
    action = declared.action_for(method)
    if action is None:
        return False
    if action == PUBLIC:
        return True
    if declared.api:
        return False  # cookie sessions never reach the API; tokens are walked separately
    if stage == "anonymous":
        return False
    if action == PARTIAL:
        return True
    if stage != "full":
        return False
    if action == SIGNED_IN:
        return True
    return role in ACTIONS[action].roles


def _request(client, method: str, url: str, csrf: str | None):
    data = {"csrf_token": csrf} if csrf else {}
    headers = {"X-CSRFToken": csrf} if csrf else {}
    return client.open(url, method=method, data=data, headers=headers)


@pytest.fixture
def accounts(make_account):
    """One account per role."""
    return {role: make_account(role.value, SCOPES[role]) for role in Role}


def test_role_by_route_matrix(app, clock, accounts, caplog) -> None:
    caplog.set_level(logging.INFO, logger="hub.auth")
    checked = 0
    failures = []
    cases = [(role, "full") for role in Role] + [(Role.PRINCIPAL, "partial"), (None, "anonymous")]
    for rule, method in _routes(app):
        for role, stage in cases:
            client = app.test_client()
            account_id = accounts[role].id if role is not None else None
            csrf = mint_session(app, client, account_id, clock.now(), stage=stage)
            caplog.clear()
            response = _request(client, method, _url(rule, BUILDING), csrf)
            denied_status = _guard_denied(caplog)
            allowed = denied_status is None
            expected = _expected(rule.endpoint, method, role, stage)
            if allowed != expected:
                failures.append(f"{method} {rule.rule} as {role and role.value}/{stage}: "
                                f"expected {'allowed' if expected else 'denied'}, "
                                f"got {response.status_code} (guard {denied_status})")
            if not allowed:
                assert response.status_code in (302, 400, 401, 403, 404), (rule.rule, role, stage)
                if response.status_code == 302:
                    assert "/auth/login" in response.location or "/auth/reauth" in response.location
            if response.status_code >= 500:
                failures.append(f"{method} {rule.rule} as {role and role.value}/{stage}: "
                                f"server error {response.status_code}")
            checked += 1
    assert checked > 0
    assert not failures, "\n".join(failures)


def test_out_of_scope_building_is_refused(app, clock, accounts, caplog) -> None:
    """For routes naming a building in the URL, a building outside the role's scope is refused."""
    caplog.set_level(logging.INFO, logger="hub.auth")
    failures = []
    for rule, method in _routes(app):
        declared = ENDPOINTS.get(rule.endpoint)
        if declared is None or declared.building_arg is None or declared.api:
            continue
        action = declared.action_for(method)
        for role in (Role.PRINCIPAL, Role.FRONT_DESK):
            if action not in ACTIONS or role not in ACTIONS[action].roles:
                continue
            client = app.test_client()
            csrf = mint_session(app, client, accounts[role].id, clock.now())
            caplog.clear()
            response = _request(client, method, _url(rule, OTHER_BUILDING), csrf)
            if _guard_denied(caplog) != 403 or response.status_code != 403:
                failures.append(f"{method} {rule.rule} as {role.value} for {OTHER_BUILDING}: "
                                f"{response.status_code}")
    assert not failures, "\n".join(failures)


def test_api_routes_by_token_role(app, clock, caplog) -> None:
    """API routes take bearer tokens only; each role's token gets exactly its actions."""
    caplog.set_level(logging.INFO, logger="hub.auth")
    tokens = {}
    with get_database(app).session() as s:
        for role in Role:
            _tok, raw = services.create_api_token(
                s, services.console_actor("test"), name=f"t-{role.value}", role=role.value,
                buildings=SCOPES[role], actions=None, days=30, max_days=366, now=clock.now())
            tokens[role] = raw
    failures = []
    for rule, method in _routes(app):
        declared = ENDPOINTS.get(rule.endpoint)
        if declared is None or not declared.api:
            continue
        action = declared.action_for(method)
        for role in [*Role, None]:
            client = app.test_client()
            headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
            caplog.clear()
            response = client.open(_url(rule, BUILDING), method=method, headers=headers, json={})
            allowed = _guard_denied(caplog) is None
            if action == PUBLIC:
                expected = True
            elif role is None or action is None:
                expected = False
            elif action in (PARTIAL, SIGNED_IN):
                expected = True
            else:
                expected = role in ACTIONS[action].roles
            if allowed != expected:
                failures.append(f"{method} {rule.rule} token {role and role.value}: "
                                f"expected {'allowed' if expected else 'denied'}, got {response.status_code}")
            if response.status_code >= 500:
                failures.append(f"{method} {rule.rule} token {role and role.value}: server error")
    assert not failures, "\n".join(failures)


def test_undeclared_route_is_refused_to_everyone(app, clock, accounts, caplog) -> None:
    """Fail secure: a view nobody put in the table is refused, even to the privacy team."""
    caplog.set_level(logging.INFO, logger="hub.auth")

    @app.route("/test-only/undeclared", methods=["GET", "POST"])
    def undeclared():
        return "secret stuff"

    for role in Role:
        client = app.test_client()
        csrf = mint_session(app, client, accounts[role].id, clock.now())
        for method in ("GET", "POST"):
            caplog.clear()
            response = _request(client, method, "/test-only/undeclared", csrf)
            assert response.status_code == 403
            assert b"secret stuff" not in response.data
            assert _guard_denied(caplog) == 403


def test_every_registered_route_is_in_the_table(app) -> None:
    """Every route the hub registers has a row in the permission table (else it is unreachable)."""
    missing = sorted({rule.endpoint for rule in app.url_map.iter_rules()} - set(ENDPOINTS))
    assert missing == [], f"declare these endpoints in hub.auth.permissions: {missing}"
