"""Password rules (NIST SP 800-63B), argon2id parameters, rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.auth import passwords


@pytest.mark.parametrize("candidate, reason", [
    ("short pass", "too_short"),
    ("x" * 65, "too_long"),
    ("password1234", "common"),
    ("Password1234", "common"),  # case does not help
    ("qwertyuiop123", "common"),
    ("iloveyou2024!", "common"),
    ("aaaaaaaaaaaaaa", "sequence"),
    ("abcdefghijklmn", "sequence"),
    ("98765432109876", "sequence"),
    ("xyzxyzxyzxyzxyz", "sequence"),
    ("gatehouse!2026", "context"),
    ("mjohnson-wins-always", "personal"),
    ("tab\there is bad1", "control"),
])
def test_refused(candidate: str, reason: str) -> None:
    result = passwords.check(candidate, username="mjohnson", display_name="Mary Johnson")
    assert not result.ok
    assert result.reason == reason
    with pytest.raises(passwords.PasswordRejected) as exc:
        passwords.require_acceptable(candidate, username="mjohnson", display_name="Mary Johnson")
    assert exc.value.reason == reason


@pytest.mark.parametrize("candidate", [
    "violet cabinet mossy ladder",
    "correct-horse-lamp-2",  # no composition rules: lower case and dashes are fine
    "x" * 4 + "7Kq!p2Lm9zR",
    "élan vital du matin",  # any Unicode
    "y" * 3 + "9" * 3 + "the end yes",
])
def test_accepted(candidate: str) -> None:
    assert passwords.check(candidate, username="mjohnson").ok


def test_length_bounds_are_12_and_64() -> None:
    base = "k7#Qm2vLp9!z"
    assert len(base) == 12 and passwords.check(base).ok
    assert not passwords.check(base[:11]).ok
    long = "the quick brown fox jumps over the lazy dog near 17 red barns ok"[:64]
    assert len(long) == 64
    assert passwords.check(long).ok
    assert passwords.check(long + "a").reason == "too_long"


def test_shipped_list_is_loaded_and_large() -> None:
    words = passwords.common_passwords()
    assert len(words) > 10_000
    assert "passwordpassword" in words
    assert all(len(w) >= 12 for w in list(words)[:1000])


def test_argon2id_parameters_meet_owasp() -> None:
    stored = passwords.hash_password("violet cabinet mossy ladder")
    assert stored.startswith("$argon2id$")
    params = dict(p.split("=") for p in stored.split("$")[3].split(","))
    assert int(params["m"]) >= 19 * 1024
    assert int(params["t"]) >= 2
    assert passwords.verify_password(stored, "violet cabinet mossy ladder")
    assert not passwords.verify_password(stored, "violet cabinet mossy ladder ")
    assert not passwords.verify_password(None, "anything at all here")
    assert not passwords.verify_password("not-a-hash", "anything at all here")
    assert not passwords.needs_rehash(stored)


def test_rotation_due_after_interval() -> None:
    changed = datetime(2025, 3, 1, tzinfo=UTC)
    assert not passwords.rotation_due(changed, changed + timedelta(days=364), 365)
    assert passwords.rotation_due(changed, changed + timedelta(days=365), 365)
    assert not passwords.rotation_due(changed, changed + timedelta(days=4000), 0)
    assert passwords.rotation_due(None, changed, 365)


def test_settings_are_validated() -> None:
    from hub.auth.config import AuthSettings, AuthToml

    assert AuthSettings.from_config({}).idle_timeout_s == 300
    for bad in ({"AUTH_IDLE_TIMEOUT_S": "300"}, {"AUTH_IDLE_WARNING_S": 400},
                {"AUTH_PASSWORD_ROTATION_DAYS": -1}, {"AUTH_IDLE_TIMEOUT_SECONDS": 300}):
        with pytest.raises(ValueError):
            AuthSettings.from_config(bad)
    assert AuthToml(password_rotation_days=0).to_config()["AUTH_PASSWORD_ROTATION_DAYS"] == 0
    with pytest.raises(ValueError):
        AuthToml.model_validate({"idle_timeout": 300})
    with pytest.raises(ValueError):
        AuthToml.model_validate({"idle_timeout_s": "300"})
