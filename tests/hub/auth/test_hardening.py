"""CSRF on every form, security headers, error pages without stack traces, hostile text escaped,
and bearer-token API routes: no CSRF, but the same scope checks."""

from __future__ import annotations

import logging

import pytest
from flask import Blueprint, jsonify

from hub.auth import services
from hub.auth.guard import CSP
from hub.auth.permissions import declare
from hub.db import get_database
from tests.hub.auth.conftest import mint_session

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_login_post_without_or_with_forged_csrf_is_refused(app, clock, make_account, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="hub.auth")
    account = make_account("auditor")
    client = app.test_client()
    client.get("/auth/login")
    form = {"username": account.username, "password": account.password}
    assert client.post("/auth/login", data=form).status_code == 400
    assert client.post("/auth/login", data={**form, "csrf_token": "forged"}).status_code == 400
    other = app.test_client()
    stolen = other.csrf()  # a valid token of another browser's session
    assert client.post("/auth/login", data={**form, "csrf_token": stolen}).status_code == 400
    assert "reason=csrf" in caplog.text
    assert client.get("/auth/account").status_code == 302  # nothing signed in


def test_signed_in_post_without_csrf_changes_nothing(app, clock, signed_in) -> None:
    client, _account = signed_in("privacy_team")
    refused = client.post("/auth/logout-everywhere", data={})
    assert refused.status_code == 400
    assert b"form expired" in refused.data
    assert client.get("/auth/account").status_code == 200  # still signed in
    foreign = client.post("/auth/accounts/invite", data={"username": "evil", "display_name": "E",
                                                         "role": "privacy_team"},
                          headers={"Referer": "https://evil.example/"})
    assert foreign.status_code == 400


def test_security_headers_on_every_response(app, clock, signed_in) -> None:
    client, _account = signed_in("auditor")
    for path in ("/auth/login", "/auth/account", "/no/such/page"):
        response = client.get(path)
        headers = response.headers
        assert headers["Content-Security-Policy"] == CSP
        assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
        assert "frame-ancestors 'none'" in CSP
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["Cache-Control"] == "no-store"


def test_no_hsts_over_plain_http(app) -> None:
    response = app.test_client().get("/auth/login", base_url="http://hub.test")
    assert "Strict-Transport-Security" not in response.headers


def test_errors_show_no_stack_trace(app, clock) -> None:
    @app.route("/test-only/boom")
    def boom():
        raise RuntimeError("database password is hunter2 at /srv/secret/path.py line 12")

    declare("boom", "public")
    client = app.test_client()
    response = client.get("/test-only/boom")
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "hunter2" not in text and "Traceback" not in text and "RuntimeError" not in text
    assert "Something went wrong" in text
    missing = client.get("/nothing/here")
    assert missing.status_code == 404 and "Traceback" not in missing.get_data(as_text=True)


def test_hostile_names_are_escaped_everywhere(app, clock, signed_in, make_account) -> None:
    admin, _ = signed_in("privacy_team")
    victim = make_account("front_desk", ["hs-1"], display_name=HOSTILE)
    pages = ["/auth/accounts", "/auth/audit"]
    for path in pages:
        html = admin.get(path).get_data(as_text=True)
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html, path
        assert "&lt;script&gt;" in html, path
    # the person's own header shows it escaped too
    from tests.hub.auth.conftest import login

    client = app.test_client()
    login(client, victim, clock)
    html = client.get("/auth/account").get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    # and the invitation page
    with get_database(app).session() as s:
        _inv, token = services.create_invitation(
            s, services.console_actor("test"), username="newbie", display_name=HOSTILE,
            role="auditor", buildings=[], now=clock.now(), ttl_s=600)
    html = app.test_client().get(f"/auth/invitation/{token}").get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;" in html


@pytest.fixture
def api_app(app):
    """The app with a test-only API blueprint declared like hub.api's routes."""
    bp = Blueprint("api_test", __name__, url_prefix="/api/test")

    @bp.route("/buildings/<building_id>/people", methods=["GET", "POST"])
    def people(building_id):
        return jsonify({"building": building_id, "people": ["someone"]})

    app.register_blueprint(bp)
    declare("api_test.people", {"GET": "people.read", "POST": "people.write"},
            building_arg="building_id", api=True)
    return app


def _token(app, clock, role, buildings, actions=None, days=30):
    with get_database(app).session() as s:
        token, raw = services.create_api_token(
            s, services.console_actor("test"), name="t", role=role, buildings=buildings,
            actions=actions, days=days, max_days=366, now=clock.now())
        return token.id, raw


def test_api_token_needs_no_csrf_but_is_scoped(api_app, clock, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="hub.auth")
    _id, raw = _token(api_app, clock, "principal", ["hs-1"])
    client = api_app.test_client()
    auth = {"Authorization": f"Bearer {raw}"}
    ok = client.post("/api/test/buildings/hs-1/people", headers=auth, json={})
    assert ok.status_code == 200  # no CSRF token needed with a bearer token
    other = client.get("/api/test/buildings/ms-2/people", headers=auth)
    assert other.status_code == 403
    assert other.get_json()["error"] == "forbidden" and "someone" not in other.get_data(as_text=True)
    assert "reason=building_scope" in caplog.text
    assert client.get("/api/test/buildings/hs-1/people").status_code == 401
    bad = client.get("/api/test/buildings/hs-1/people", headers={"Authorization": "Bearer gh_nope"})
    assert bad.status_code == 401 and bad.headers["WWW-Authenticate"].startswith("Bearer")


def test_api_ignores_the_cookie_session(api_app, clock, make_account) -> None:
    account = make_account("privacy_team")
    client = api_app.test_client()
    csrf = mint_session(api_app, client, account.id, clock.now())
    response = client.get("/api/test/buildings/hs-1/people", headers={"X-CSRFToken": csrf})
    assert response.status_code == 401


def test_api_token_action_list_expiry_and_revocation(api_app, clock) -> None:
    token_id, raw = _token(api_app, clock, "principal", ["hs-1"], actions=["people.read"], days=1)
    client = api_app.test_client()
    auth = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/test/buildings/hs-1/people", headers=auth).status_code == 200
    assert client.post("/api/test/buildings/hs-1/people", headers=auth, json={}).status_code == 403
    clock.advance(days=1)
    assert client.get("/api/test/buildings/hs-1/people", headers=auth).status_code == 401
    token_id, raw = _token(api_app, clock, "auditor", [])
    auth = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/test/buildings/ms-2/people", headers=auth).status_code == 200
    assert client.post("/api/test/buildings/ms-2/people", headers=auth, json={}).status_code == 403
    with get_database(api_app).session() as s:
        services.revoke_api_token(s, services.console_actor("test"), token_id, clock.now())
    assert client.get("/api/test/buildings/ms-2/people", headers=auth).status_code == 401


def test_token_creation_refuses_bad_scopes(app, clock) -> None:
    with get_database(app).session() as s:
        actor = services.console_actor("test")
        for kwargs in (
            {"role": "auditor", "buildings": [], "actions": ["people.write"]},
            {"role": "principal", "buildings": ["hs-1"], "actions": ["secret.view"]},
            {"role": "principal", "buildings": [], "actions": None},
            {"role": "front_desk", "buildings": ["hs-1", "ms-2"], "actions": None},
            {"role": "wizard", "buildings": [], "actions": None},
            {"role": "principal", "buildings": ["HS 1"], "actions": None},
        ):
            with pytest.raises(services.AccountError):
                services.create_api_token(s, actor, name="t", days=30, max_days=366,
                                          now=clock.now(), **kwargs)
        with pytest.raises(services.AccountError):
            services.create_api_token(s, actor, name="t", role="auditor", buildings=[],
                                      actions=None, days=400, max_days=366, now=clock.now())


def test_a_service_refusal_is_a_403_not_a_server_error(app, clock, signed_in, caplog) -> None:
    from hub.auth import current_actor, require

    caplog.set_level(logging.WARNING, logger="hub.auth")

    @app.route("/test-only/buildings/<building_id>/report")
    def report(building_id):
        require(current_actor(), "report.read", building_id)  # the service-level check
        return "QUARTERLY-FIGURES"

    declare("report", "building.read")
    client, _ = signed_in("principal", ["hs-1"])
    assert client.get("/test-only/buildings/hs-1/report").status_code == 200
    refused = client.get("/test-only/buildings/ms-2/report")
    assert refused.status_code == 403 and b"QUARTERLY-FIGURES" not in refused.data
    assert "by=service status=403 reason=building_scope" in caplog.text


def test_behind_a_trusted_proxy(tmp_path, clock) -> None:
    """nginx terminating TLS: the forwarded address is locked out, the forwarded HTTPS gets HSTS."""
    from tests.hub.auth.conftest import HttpsClient
    from tests.hub.conftest import make_test_app

    app = make_test_app(f"sqlite:///{tmp_path}/p.db", tmp_path, AUTH_CLOCK=clock,
                        AUTH_TRUSTED_PROXIES=1)
    app.test_client_class = HttpsClient
    try:
        client = app.test_client()
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
        page = client.get("/auth/login", base_url="http://hub.test", headers=forwarded)
        assert page.headers["Strict-Transport-Security"].startswith("max-age=")
        for n in range(20):
            csrf = client.csrf()
            client.post("/auth/login", headers=forwarded,
                        data={"csrf_token": csrf, "username": f"guess{n}", "password": "x" * 12})
        with get_database(app).session() as s:
            from hub.auth.models import LoginThrottle

            row = s.get(LoginThrottle, "addr:198.51.100.7")
            assert row is not None and row.failures == 20 and row.locked_until is not None
    finally:
        get_database(app).dispose()
