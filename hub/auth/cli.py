"""Console commands of the accounts layer, registered into ``gatehouse-hub`` by :func:`register`.

``init`` (the first privacy-team account, on the hub's console), ``account invite``,
``token create`` / ``token revoke`` and ``audit verify``. argparse only: ``hub/cli.py`` calls
``register(subparsers)`` and then ``args.handler(app, args)``, which returns the exit status.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import Any, TextIO

from sqlalchemy.exc import OperationalError, ProgrammingError

from hub.auth import audit, passwords, services, totp
from hub.auth.config import get_clock, get_settings
from hub.auth.permissions import ACTIONS, Role
from hub.keyring import get_keyring

Handler = Callable[[Any, argparse.Namespace], int]


class Console:
    """Questions and answers on the terminal (tests pass their own ``ask``/``secret``/``out``)."""

    def __init__(self, ask: Callable[[str], str] = input, secret: Callable[[str], str] = getpass.getpass,
                 out: TextIO | None = None) -> None:
        self.ask = ask
        self.secret = secret
        self.out = out or sys.stdout

    def say(self, text: str = "") -> None:
        """Print a line."""
        print(text, file=self.out)


def _console(args: argparse.Namespace) -> Console:
    return getattr(args, "console", None) or Console()


def _operator() -> str:
    """Who is at the console: the sudo user if any, else the login name (for the audit log)."""
    import os

    try:
        return os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _database(app: Any) -> Any:
    from hub.db import get_database

    return get_database(app)


def cmd_init(app: Any, args: argparse.Namespace) -> int:
    """Create the first privacy-team account interactively (refused once any account exists)."""
    con = _console(args)
    settings = get_settings(app)
    now = get_clock(app).now
    try:
        with _database(app).session() as s:
            from sqlalchemy import func, select

            from hub.auth.models import Account

            if s.scalar(select(func.count()).select_from(Account)):
                con.say("error: the hub already has accounts; invite people from the web UI "
                        "or with `gatehouse-hub account invite`.")
                return 1
    except (OperationalError, ProgrammingError):
        con.say("error: the database has no account tables yet; run `gatehouse-hub db upgrade` first.")
        return 1
    con.say("Creating the first Data Privacy Team account of this hub.")
    username = args.username or con.ask("User name: ")
    try:
        username = services.normalise_username(username)
    except services.AccountError as exc:
        con.say(f"error: {exc}")
        return 2
    display = args.name or con.ask("Full name: ")
    for _attempt in range(3):
        first = con.secret("Password (12-64 characters): ")
        result = passwords.check(first, username=username, display_name=display)
        if not result.ok:
            con.say(f"  refused: {result.message}")
            continue
        if con.secret("Password again: ") != first:
            con.say("  refused: the two passwords differ.")
            continue
        break
    else:
        con.say("error: no acceptable password after three attempts.")
        return 2
    secret = totp.new_secret()
    uri = totp.provisioning_uri(secret, username, settings.totp_issuer)
    con.say("Scan this with an authenticator app (or type the key by hand):")
    con.say(totp.qr_terminal(uri))
    con.say(f"Key: {secret}")
    step = None
    for _attempt in range(3):
        step = totp.match_step(secret, con.ask("6-digit code from the app: "), now(), 0)
        if step is not None:
            break
        con.say("  that code does not match; wait for the next one and try again.")
    if step is None:
        con.say("error: the authenticator app was not confirmed; nothing was created.")
        return 2
    with _database(app).session() as s:
        try:
            account = services.create_first_account(
                s, username=username, display_name=display, password=first, totp_secret=secret,
                totp_step=step, now=now(), vault=get_keyring(app).vault, operator=_operator())
        except (services.AccountError, passwords.PasswordRejected) as exc:
            con.say(f"error: {exc}")
            return 2
        codes = services.new_recovery_codes(s, account, now(), settings.recovery_codes)
    con.say(f"Created {username} (privacy_team). Recovery codes, each usable once — store them safely:")
    for code in codes:
        con.say(f"  {code}")
    return 0


def cmd_account_invite(app: Any, args: argparse.Namespace) -> int:
    """Print a one-time invitation link for a new account."""
    con = _console(args)
    settings = get_settings(app)
    with _database(app).session() as s:
        try:
            _inv, token = services.create_invitation(
                s, services.console_actor(_operator()), username=args.username,
                display_name=args.name, role=args.role, buildings=args.building or [],
                now=get_clock(app).now(), ttl_s=int(args.hours * 3600) if args.hours else settings.invitation_ttl_s)
        except services.AccountError as exc:
            con.say(f"error: {exc}")
            return 2
    base = (args.base_url or app.config.get("HUB_BASE_URL") or "https://localhost").rstrip("/")
    con.say(f"Invitation for {args.username} ({args.role}); send this link, it works once:")
    con.say(f"{base}/auth/invitation/{token}")
    return 0


def cmd_token_create(app: Any, args: argparse.Namespace) -> int:
    """Print a new API bearer token (shown once, stored hashed)."""
    con = _console(args)
    settings = get_settings(app)
    actions = [a for a in (args.action or [])] or None
    with _database(app).session() as s:
        try:
            token, raw = services.create_api_token(
                s, services.console_actor(_operator()), name=args.name, role=args.role,
                buildings=args.building or [], actions=actions, days=args.days,
                max_days=settings.api_token_max_days, now=get_clock(app).now())
        except services.AccountError as exc:
            con.say(f"error: {exc}")
            return 2
        token_id = token.id
    con.say(f"token {token_id} ({args.name}, {args.role}); use it as 'Authorization: Bearer <token>':")
    con.say(raw)
    return 0


def cmd_token_revoke(app: Any, args: argparse.Namespace) -> int:
    """Revoke an API token by id."""
    con = _console(args)
    with _database(app).session() as s:
        try:
            services.revoke_api_token(s, services.console_actor(_operator()), args.id,
                                      get_clock(app).now())
        except services.AccountError as exc:
            con.say(f"error: {exc}")
            return 2
    con.say(f"token {args.id} revoked")
    return 0


def cmd_audit_verify(app: Any, args: argparse.Namespace) -> int:
    """Check the audit hash chain; exit 1 and name the first broken row if it is broken."""
    con = _console(args)
    with _database(app).session() as s:
        result = audit.verify(s)
    con.say(result.describe())
    return 0 if result.ok else 1


def register(subparsers: Any) -> None:
    """Add ``init``, ``account``, ``token`` and ``audit`` to ``gatehouse-hub``'s subparsers.

    Each leaf sets ``args.handler``; call it as ``args.handler(app, args)`` for the exit status.
    """
    p = subparsers.add_parser("init", help="create the first Data Privacy Team account (console only)")
    p.add_argument("--username", help="user name (asked when omitted)")
    p.add_argument("--name", help="full name (asked when omitted)")
    p.set_defaults(handler=cmd_init)

    account = subparsers.add_parser("account", help="hub accounts")
    acc_sub = account.add_subparsers(dest="account_command", required=True)
    p = acc_sub.add_parser("invite", help="print a one-time invitation link")
    p.add_argument("username")
    p.add_argument("--name", required=True, help="the person's full name")
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--building", action="append", help="building id (repeat for several)")
    p.add_argument("--hours", type=float, help="link lifetime in hours (default from config: 72)")
    p.add_argument("--base-url", help="the hub's public URL, e.g. https://hub.district.org")
    p.set_defaults(handler=cmd_account_invite)

    token = subparsers.add_parser("token", help="API bearer tokens")
    tok_sub = token.add_subparsers(dest="token_command", required=True)
    p = tok_sub.add_parser("create", help="create a token scoped to a role and buildings")
    p.add_argument("--name", required=True, help="what the token is for, e.g. hr-import")
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--building", action="append", help="building id (repeat for several)")
    p.add_argument("--action", action="append", choices=sorted(a for a, g in ACTIONS.items() if g.token_ok),
                   help="limit the token to these actions (repeat); default: the role's actions")
    p.add_argument("--days", type=int, default=90, help="lifetime in days (default 90)")
    p.set_defaults(handler=cmd_token_create)
    p = tok_sub.add_parser("revoke", help="revoke a token by id")
    p.add_argument("id", type=int)
    p.set_defaults(handler=cmd_token_revoke)

    audit_p = subparsers.add_parser("audit", help="the audit log")
    aud_sub = audit_p.add_subparsers(dest="audit_command", required=True)
    p = aud_sub.add_parser("verify", help="check the hash chain; report the first broken link")
    p.set_defaults(handler=cmd_audit_verify)


def main(argv: list[str] | None = None, app: Any = None) -> int:
    """Run one of these commands on its own (``python -m hub.auth.cli audit verify``)."""
    parser = argparse.ArgumentParser(prog="gatehouse-hub")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    if app is None:
        from hub import create_app

        app = create_app()
    return int(args.handler(app, args))


if __name__ == "__main__":
    raise SystemExit(main())
