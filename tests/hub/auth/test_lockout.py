"""Sign-in lockout with back-off, per account name and per client address, and answers that
never tell whether an account exists."""

from __future__ import annotations

import re

import pytest

from hub.auth.throttle import is_locked, lock_seconds
from tests.hub.auth.conftest import login

CSRF_VALUE = re.compile(r'(value|content)="[^"]*"')


@pytest.mark.parametrize("failures, seconds", [
    (0, 0), (4, 0), (5, 60), (6, 120), (7, 240), (8, 480), (11, 3600), (60, 3600),
])
def test_backoff_doubles_to_a_cap(failures: int, seconds: int) -> None:
    assert lock_seconds(failures, 5, 60, 3600) == seconds


def test_is_locked_boundary(clock) -> None:
    now = clock.now()
    assert is_locked(now.replace(second=1), now)
    assert not is_locked(now, now)
    assert not is_locked(None, now)


def _post_login(client, username: str, password: str, addr: str = "10.0.0.5"):
    csrf = client.csrf()
    return client.post("/auth/login", data={"csrf_token": csrf, "username": username,
                                            "password": password},
                       environ_base={"REMOTE_ADDR": addr})


def _normalised(response) -> tuple[int, str]:
    body = CSRF_VALUE.sub(lambda m: f'{m.group(1)}=""', response.get_data(as_text=True))
    return response.status_code, body, sorted(k for k, _v in response.headers if k != "Set-Cookie")


def test_account_locks_after_five_failures_and_unlocks_with_time(app, clock, make_account) -> None:
    account = make_account("principal", ["hs-1"])
    client = app.test_client()
    for _ in range(5):
        assert _post_login(client, account.username, "wrong password here").status_code == 401
    # locked: even the right password is refused, with the same answer
    assert _post_login(client, account.username, account.password).status_code == 401
    clock.advance(seconds=59)
    assert _post_login(client, account.username, account.password).status_code == 401
    clock.advance(seconds=61)
    assert login(client, account, clock, step_s=0).status_code == 302


def test_lock_backs_off_after_further_failures(app, clock, make_account) -> None:
    account = make_account("auditor")
    client = app.test_client()
    for _ in range(5):
        _post_login(client, account.username, "wrong password here")
    clock.advance(seconds=60)
    _post_login(client, account.username, "wrong password again")  # 6th failure: 120 s
    clock.advance(seconds=119)
    assert _post_login(client, account.username, account.password).status_code == 401
    clock.advance(seconds=1)
    assert _post_login(client, account.username, account.password).status_code == 302


def test_answers_are_identical_for_existing_and_missing_accounts(app, clock, make_account) -> None:
    account = make_account("front_desk", ["hs-1"])
    a, b = app.test_client(), app.test_client()
    for attempt in range(7):  # through the lock threshold
        real = _post_login(a, account.username, f"wrong password {attempt}!", addr="10.0.0.7")
        ghost = _post_login(b, "nobody-here", f"wrong password {attempt}!", addr="10.0.0.8")
        assert _normalised(real) == _normalised(ghost)


def test_client_address_locks_after_many_names(app, clock, make_account) -> None:
    account = make_account("principal", ["hs-1"])
    client = app.test_client()
    for n in range(20):
        _post_login(client, f"guess{n}", "wrong password here", addr="192.0.2.9")
    # a real account from that address is refused while the address is locked ...
    assert _post_login(client, account.username, account.password, addr="192.0.2.9").status_code == 401
    # ... but not from another address
    assert _post_login(client, account.username, account.password, addr="192.0.2.10").status_code == 302


def test_second_factor_failures_count_too(app, clock, make_account) -> None:
    account = make_account("principal", ["hs-1"])
    client = app.test_client()
    assert _post_login(client, account.username, account.password).status_code == 302
    for _ in range(4):
        csrf = client.csrf("/auth/second-factor")
        bad = client.post("/auth/second-factor", data={"csrf_token": csrf, "method": "totp",
                                                       "code": "000000"},
                          environ_base={"REMOTE_ADDR": "10.0.0.5"})
        assert bad.status_code == 401
    csrf = client.csrf("/auth/second-factor")
    fifth = client.post("/auth/second-factor", data={"csrf_token": csrf, "method": "totp",
                                                     "code": "000000"},
                        environ_base={"REMOTE_ADDR": "10.0.0.5"})
    assert fifth.status_code == 401
    # the lock ended the half-done sign-in; the password alone is refused while locked
    assert client.get("/auth/second-factor").status_code == 302
    assert _post_login(client, account.username, account.password).status_code == 401


def test_failure_reasons_are_logged_but_typed_names_are_not(app, clock, make_account, caplog) -> None:
    import logging

    from hub.auth import totp

    caplog.set_level(logging.WARNING, logger="hub.auth")
    account = make_account("principal", ["hs-1"])
    client = app.test_client()
    _post_login(client, "violet cabinet mossy ladder", "oops typed in the name field")
    assert "reason=unknown_account account=-" in caplog.text
    assert "violet cabinet" not in caplog.text and "oops" not in caplog.text
    _post_login(client, account.username, "wrong password here")
    assert f"reason=bad_password account={account.id}" in caplog.text
    clock.advance(seconds=30)
    code = totp.code_at(account.secret, clock.now())
    for attempt in range(2):
        _post_login(client, account.username, account.password)
        csrf = client.csrf("/auth/second-factor")
        client.post("/auth/second-factor", data={"csrf_token": csrf, "method": "totp", "code": code})
        if attempt == 0:
            csrf = client.csrf("/auth/account")
            client.post("/auth/logout", data={"csrf_token": csrf})
    assert f"reason=totp_replay account={account.id}" in caplog.text
    assert code not in caplog.text
