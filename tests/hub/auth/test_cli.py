"""Console commands: ``init`` (first account), ``account invite``, ``token create``/``revoke``,
``audit verify`` through the argparse registration hook."""

from __future__ import annotations

import argparse
import io
import re

from sqlalchemy import func, select

from hub.auth import cli, seeds, totp
from hub.auth.models import Account, ApiToken
from hub.db import get_database
from hub.keyring import get_keyring
from tests.hub.auth.conftest import PASSWORD, login, AccountInfo

KEY = re.compile(r"^Key: ([A-Z2-7]+)$", re.M)


class Script:
    """A console that answers from a list and records what was printed."""

    def __init__(self, clock, answers: list[str]) -> None:
        self.answers = list(answers)
        self.out = io.StringIO()
        self.clock = clock

    def next(self, prompt: str) -> str:
        print(prompt, file=self.out)
        answer = self.answers.pop(0)
        if answer == "<totp>":
            secret = KEY.search(self.out.getvalue()).group(1)
            return totp.code_at(secret, self.clock.now())
        return answer

    def console(self) -> cli.Console:
        return cli.Console(ask=self.next, secret=self.next, out=self.out)


def _run(app, argv: list[str], console: cli.Console) -> int:
    parser = argparse.ArgumentParser(prog="gatehouse-hub")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    args.console = console
    return args.handler(app, args)


def test_init_creates_the_first_privacy_team_account_once(app, clock) -> None:
    script = Script(clock, ["Dana Admin", "short", PASSWORD, PASSWORD, "000000", "<totp>"])
    assert _run(app, ["init", "--username", "dana"], script.console()) == 0
    out = script.out.getvalue()
    assert "refused: Use at least 12 characters." in out
    assert "that code does not match" in out
    assert "Created dana (privacy_team)" in out
    assert len(re.findall(r"^  [A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$", out, re.M)) == 10
    assert PASSWORD not in out
    with get_database(app).session() as s:
        account = s.scalar(select(Account).where(Account.username == "dana"))
        assert account.role == "privacy_team"
        assert account.totp_secret.startswith("v1:")  # sealed at rest
        secret = seeds.unseal(get_keyring(app).vault, "dana", account.totp_secret)
        assert secret == KEY.search(script.out.getvalue()).group(1)
    # the new account signs in with password + TOTP
    client = app.test_client()
    assert login(client, AccountInfo(account.id, "dana", PASSWORD, secret, "privacy_team", []),
                 clock).status_code == 302
    assert client.get("/auth/accounts").status_code == 200
    # a second init is refused: no way to add a back-door admin
    again = Script(clock, [])
    assert _run(app, ["init", "--username", "eve"], again.console()) == 1
    assert "already has accounts" in again.out.getvalue()


def test_init_without_a_confirmed_app_creates_nothing(app, clock) -> None:
    script = Script(clock, ["Dana", PASSWORD, PASSWORD, "000000", "111111", "222222"])
    assert _run(app, ["init", "--username", "dana"], script.console()) == 2
    with get_database(app).session() as s:
        assert s.scalar(select(func.count()).select_from(Account)) == 0


def test_no_account_exists_in_a_fresh_install(app) -> None:
    with get_database(app).session() as s:
        assert s.scalar(select(func.count()).select_from(Account)) == 0


def test_account_invite_prints_a_working_one_time_link(app, clock) -> None:
    script = Script(clock, [])
    status = _run(app, ["account", "invite", "jlee", "--name", "Jo Lee", "--role", "principal",
                        "--building", "hs-1", "--building", "es-3",
                        "--base-url", "https://hub.test/"], script.console())
    assert status == 0
    link = re.search(r"https://hub\.test(/auth/invitation/\S+)", script.out.getvalue()).group(1)
    page = app.test_client().get(link)
    assert page.status_code == 200 and "Jo Lee" in page.get_data(as_text=True)
    bad = Script(clock, [])
    assert _run(app, ["account", "invite", "kim", "--name", "Kim", "--role", "front_desk"],
                bad.console()) == 2
    assert "exactly one building" in bad.out.getvalue()


def test_token_create_and_revoke(app, clock) -> None:
    script = Script(clock, [])
    status = _run(app, ["token", "create", "--name", "hr-import", "--role", "principal",
                        "--building", "hs-1", "--action", "people.write", "--days", "30"],
                  script.console())
    assert status == 0
    raw = script.out.getvalue().strip().splitlines()[-1]
    assert raw.startswith("gh_")
    with get_database(app).session() as s:
        token = s.scalar(select(ApiToken))
        assert token.token_hash != raw and raw not in token.token_hash
        assert token.actions_json == '["people.write"]'
        token_id = token.id
    refused = Script(clock, [])
    assert _run(app, ["token", "create", "--name", "x", "--role", "auditor", "--action",
                      "people.write"], refused.console()) == 2
    revoke = Script(clock, [])
    assert _run(app, ["token", "revoke", str(token_id)], revoke.console()) == 0
    with get_database(app).session() as s:
        assert s.get(ApiToken, token_id).revoked_at is not None


def test_audit_verify_command_reports_ok(app, clock) -> None:
    _run(app, ["account", "invite", "jlee", "--name", "Jo", "--role", "auditor"],
         Script(clock, []).console())
    script = Script(clock, [])
    assert _run(app, ["audit", "verify"], script.console()) == 0
    assert script.out.getvalue().startswith("audit log OK: 1 rows")
