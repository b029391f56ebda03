"""Property tests for everything in the accounts layer that reads text from outside."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.auth import passwords, services, totp
from hub.auth.guard import safe_next
from hub.auth.permissions import Actor, Role, decide

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@given(st.text(max_size=200))
def test_password_check_never_raises_and_bounds_length(candidate: str) -> None:
    result = passwords.check(candidate, username="mjohnson", display_name="Mary Johnson")
    if result.ok:
        assert passwords.MIN_LENGTH <= len(passwords.normalise(candidate)) <= passwords.MAX_LENGTH
    else:
        assert result.reason and result.message


@given(st.text(max_size=300))
def test_safe_next_only_returns_local_paths(target: str) -> None:
    result = safe_next(target)
    if result is not None:
        parts = urlsplit(result)
        assert result.startswith("/") and not result.startswith("//")
        assert not parts.scheme and not parts.netloc and "\\" not in result


@given(st.text(max_size=20), st.integers(min_value=0, max_value=2**40))
def test_totp_match_never_raises(code: str, last_step: int) -> None:
    step = totp.match_step(SECRET, code, NOW, last_step)
    assert step is None or step > last_step


@given(st.text(max_size=100))
def test_usernames_are_normalised_or_refused(raw: str) -> None:
    try:
        name = services.normalise_username(raw)
    except services.AccountError:
        return
    assert services.USERNAME.match(name) and name == name.lower()


@given(st.lists(st.text(max_size=70), max_size=4), st.sampled_from([r.value for r in Role] + ["x"]))
def test_scope_validation_is_total(buildings: list[str], role: str) -> None:
    try:
        role_enum, cleaned = services.validate_scope(role, buildings)
    except services.AccountError:
        return
    actor = Actor(1, "a", role_enum, frozenset(cleaned))
    for building in cleaned:
        assert decide(actor, "building.read", building).allowed


@pytest.fixture
def one_client(app):
    return app.test_client()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(username=st.text(max_size=80), password=st.text(max_size=120))
def test_login_form_answers_any_text_without_error(one_client, username: str, password: str) -> None:
    csrf = one_client.csrf()
    response = one_client.post("/auth/login", data={"csrf_token": csrf, "username": username,
                                                    "password": password, "next": username})
    assert response.status_code == 401
    assert "Sign-in failed" in response.get_data(as_text=True)


@pytest.fixture
def auditor_client(app, signed_in):
    client, _account = signed_in("auditor")
    return client


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(action=st.text(max_size=70), building=st.text(max_size=70), before=st.text(max_size=20))
def test_audit_filters_answer_any_text_without_error(auditor_client, action, building, before) -> None:
    response = auditor_client.get("/auth/audit", query_string={"action": action, "building": building,
                                                               "before": before})
    assert response.status_code in (200, 400)
