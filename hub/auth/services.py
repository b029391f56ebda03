"""Account use-cases: invitations, sign-in checks, second factors, recovery codes, API tokens.

Every function takes a SQLAlchemy session and ``now``; the caller commits. Changes are recorded
in the audit log in the same transaction. Web views, the CLI and tests all call these.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.auth import audit, passwords, seeds, totp
from hub.auth.models import (
    Account,
    AccountBuilding,
    ApiToken,
    Invitation,
    RecoveryCode,
    WebAuthnCredential,
)
from hub.auth.permissions import ACTIONS, BUILDING_ID, Actor, Role, require
from hub.auth.sessions import digest, end_all_sessions
from hub.auth.throttle import Throttle, account_key, addr_key

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{2,63}$")
TOKEN_PREFIX = "gh_"
_RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L


class AccountError(ValueError):
    """A refused account operation; ``reason`` is a short code, ``str()`` a sentence for the user."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def normalise_username(raw: str) -> str:
    """Lower-case, trimmed user name; raise :class:`AccountError` if it is not a valid one."""
    name = (raw or "").strip().lower()
    if not USERNAME.match(name):
        raise AccountError("username", "A user name is 3 to 64 characters: letters, digits, . _ @ -")
    return name


def validate_scope(role: str, buildings: list[str] | tuple[str, ...] | frozenset[str]) -> tuple[Role, list[str]]:
    """Check that the building list fits the role (district-wide roles hold none; front desk one)."""
    try:
        role_enum = Role(role)
    except ValueError:
        raise AccountError("role", f"Unknown role {role!r}.") from None
    cleaned = sorted({b.strip().lower() for b in buildings if b and b.strip()})
    for building in cleaned:
        if not BUILDING_ID.match(building):
            raise AccountError("building", f"{building!r} is not a building id.")
    if role_enum in (Role.PRIVACY_TEAM, Role.AUDITOR) and cleaned:
        raise AccountError("scope", "The privacy team and auditors are district-wide: no buildings.")
    if role_enum is Role.PRINCIPAL and not cleaned:
        raise AccountError("scope", "A principal needs at least one building.")
    if role_enum is Role.FRONT_DESK and len(cleaned) != 1:
        raise AccountError("scope", "A front-desk account belongs to exactly one building.")
    return role_enum, cleaned


def clean_label(text: str | None, default: str, limit: int = 64) -> str:
    """A short printable label from user input (control characters dropped)."""
    cleaned = "".join(ch for ch in (text or "") if ch.isprintable()).strip()[:limit]
    return cleaned or default


def actor_for(account: Account) -> Actor:
    """The :class:`Actor` of a signed-in account."""
    return Actor(account.id, account.username, Role(account.role), account.building_ids)


def console_actor(name: str = "init") -> Actor:
    """The actor of the hub's console (``gatehouse-hub`` run by the hub's operator)."""
    return Actor(None, name, Role.PRIVACY_TEAM, via="console")


# --- invitations -------------------------------------------------------------------------------

def create_invitation(
    session: Session, actor: Actor, *, username: str, display_name: str, role: str,
    buildings: list[str], now: datetime, ttl_s: int,
) -> tuple[Invitation, str]:
    """Invite someone: returns the invitation and its one-time token (shown once, stored hashed)."""
    require(actor, "account.manage")
    name = normalise_username(username)
    display = (display_name or "").strip()
    if not 1 <= len(display) <= 128 or not display.isprintable():
        raise AccountError("display_name", "Give the person's name (1 to 128 characters, no control characters).")
    role_enum, cleaned = validate_scope(role, buildings)
    if session.scalar(select(Account.id).where(Account.username == name)) is not None:
        raise AccountError("taken", "That user name is already in use.")
    # an earlier, unused invitation for the same name stops working
    for old in session.scalars(select(Invitation).where(Invitation.username == name,
                                                         Invitation.used_at.is_(None))):
        old.expires_at = min(old.expires_at, now)
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        token_hash=digest(token), username=name, display_name=display, role=role_enum.value,
        buildings_json=json.dumps(cleaned), created_by=actor.label, created_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
    )
    session.add(invitation)
    session.flush()
    audit.record(session, actor, "account.invite", cleaned[0] if len(cleaned) == 1 else None,
                 None, {"username": name, "display_name": display, "role": role_enum.value,
                        "buildings": cleaned, "expires_at": invitation.expires_at},
                 target=f"invitation:{invitation.id}", now=now)
    return invitation, token


def open_invitation(session: Session, token: str, now: datetime) -> Invitation:
    """Return the invitation a token names, or raise :class:`AccountError` (unknown, used, expired)."""
    if not token or len(token) > 128:
        raise AccountError("invitation_unknown", "This invitation link is not valid.")
    invitation = session.scalar(select(Invitation).where(Invitation.token_hash == digest(token)))
    if invitation is None:
        raise AccountError("invitation_unknown", "This invitation link is not valid.")
    if invitation.used_at is not None:
        raise AccountError("invitation_used", "This invitation link has already been used.")
    if now >= invitation.expires_at:
        raise AccountError("invitation_expired", "This invitation link has expired; ask for a new one.")
    return invitation


def activate_invitation(
    session: Session, token: str, *, password_hash: str, totp_secret: str | None,
    totp_step: int = 0, now: datetime, vault: seeds.Sealer,
) -> Account:
    """Create the invited account (password and a confirmed second factor) and spend the link."""
    invitation = open_invitation(session, token, now)
    if session.scalar(select(Account.id).where(Account.username == invitation.username)) is not None:
        raise AccountError("taken", "That user name is already in use.")
    account = Account(
        username=invitation.username, display_name=invitation.display_name, role=invitation.role,
        is_active=True, password_hash=password_hash, password_changed_at=now, created_at=now,
        totp_secret=seeds.seal(vault, invitation.username, totp_secret) if totp_secret else None,
        totp_last_step=totp_step, webauthn_user_id=secrets.token_bytes(32),
    )
    account.buildings = [AccountBuilding(building_id=b) for b in json.loads(invitation.buildings_json)]
    session.add(account)
    session.flush()
    invitation.used_at = now
    invitation.account_id = account.id
    audit.record(session, f"invitation:{invitation.id}", "account.activate", None, None,
                 {"username": account.username, "role": account.role,
                  "buildings": sorted(account.building_ids),
                  "second_factor": "totp" if totp_secret else "webauthn"},
                 target=f"account:{account.id}", now=now)
    return account


def create_first_account(
    session: Session, *, username: str, display_name: str, password: str, totp_secret: str,
    totp_step: int, now: datetime, vault: seeds.Sealer, operator: str = "init",
) -> Account:
    """``gatehouse-hub init``: the first privacy-team account, made on the hub's console."""
    if session.scalar(select(func.count()).select_from(Account)):
        raise AccountError("initialised", "The hub already has accounts; invite new people instead.")
    name = normalise_username(username)
    display = (display_name or "").strip() or name
    accepted = passwords.require_acceptable(password, username=name, display_name=display)
    account = Account(
        username=name, display_name=display, role=Role.PRIVACY_TEAM.value, is_active=True,
        password_hash=passwords.hash_password(accepted), password_changed_at=now, created_at=now,
        totp_secret=seeds.seal(vault, name, totp_secret), totp_last_step=totp_step,
        webauthn_user_id=secrets.token_bytes(32),
    )
    session.add(account)
    session.flush()
    audit.record(session, console_actor(operator), "account.init", None, None,
                 {"username": name, "role": account.role}, target=f"account:{account.id}", now=now)
    return account


# --- signing in --------------------------------------------------------------------------------

def throttle_for(session: Session, settings: Any) -> Throttle:
    """A :class:`Throttle` configured from :class:`hub.auth.config.AuthSettings`."""
    return Throttle(session, account_threshold=settings.account_lock_threshold,
                    addr_threshold=settings.addr_lock_threshold,
                    base_s=settings.lock_base_s, max_s=settings.lock_max_s)


log = logging.getLogger("hub.auth")


def check_password_login(
    session: Session, throttle: Throttle, *, username: str, password: str, addr: str | None,
    now: datetime,
) -> Account | None:
    """First step of sign-in. Returns the account, or None for *every* kind of failure.

    Unknown names, wrong passwords, disabled accounts and locks all look the same to the caller
    (and cost one argon2 verification each), so the answer never tells whether an account exists.
    The reason goes to the log only; a typed name that is no account is not logged (people type
    their password into the name field by mistake).
    """
    typed = (username or "").strip().lower()
    keys = [account_key(typed), addr_key(addr)]
    lookup = USERNAME.match(typed) is not None  # never send arbitrary text to the database
    account = session.scalar(select(Account).where(Account.username == typed)) if lookup else None
    who = f"account={account.id}" if account is not None else "account=-"
    if throttle.locked(keys, now):
        passwords.verify_password(None, password or "")  # same cost as a real attempt
        log.warning("auth.login_failed stage=password reason=locked %s addr=%s", who, addr)
        return None
    stored = account.password_hash if account is not None and account.is_active else None
    if not passwords.verify_password(stored, password or ""):
        throttle.fail(keys, now)
        reason = ("unknown_account" if account is None else
                  "disabled" if not account.is_active else "bad_password")
        log.warning("auth.login_failed stage=password reason=%s %s addr=%s", reason, who, addr)
        return None
    assert account is not None
    if passwords.needs_rehash(account.password_hash):
        account.password_hash = passwords.hash_password(password)
    return account


def check_totp(session: Session, throttle: Throttle, account: Account, code: str, *,
               addr: str | None, now: datetime, vault: seeds.Sealer) -> bool:
    """Second factor by TOTP; a code is accepted once (its step is remembered)."""
    keys = [account_key(account.username), addr_key(addr)]
    if throttle.locked(keys, now) or not account.totp_secret:
        log.warning("auth.login_failed stage=second_factor reason=%s account=%s addr=%s",
                    "locked" if account.totp_secret else "no_totp", account.id, addr)
        return False
    seed = seeds.unseal(vault, account.username, account.totp_secret)
    assert seed is not None
    step = totp.match_step(seed, code, now, account.totp_last_step or 0)
    if step is None:
        throttle.fail(keys, now)
        replay = totp.match_step(seed, code, now, -1) is not None
        log.warning("auth.login_failed stage=second_factor reason=%s account=%s addr=%s",
                    "totp_replay" if replay else "totp_wrong", account.id, addr)
        return False
    account.totp_last_step = step
    if not seeds.is_sealed(account.totp_secret):
        account.totp_secret = seeds.seal(vault, account.username, seed)  # seeds stored before sealing
    return True


def check_recovery_code(session: Session, throttle: Throttle, account: Account, code: str, *,
                        addr: str | None, now: datetime) -> bool:
    """Second factor by a one-time recovery code; the code is spent."""
    keys = [account_key(account.username), addr_key(addr)]
    if throttle.locked(keys, now):
        return False
    cleaned = "".join(ch for ch in (code or "").upper() if ch.isalnum())[:40]
    row = session.scalar(select(RecoveryCode).where(
        RecoveryCode.account_id == account.id, RecoveryCode.code_hash == digest(cleaned),
        RecoveryCode.used_at.is_(None)))
    if row is None:
        throttle.fail(keys, now)
        log.warning("auth.login_failed stage=second_factor reason=recovery_code_wrong account=%s "
                    "addr=%s", account.id, addr)
        return False
    row.used_at = now
    audit.record(session, actor_for(account), "account.recovery_code_used", None, None,
                 {"remaining": remaining_recovery_codes(session, account) - 1},
                 target=f"account:{account.id}", now=now)
    return True


def signed_in(session: Session, throttle: Throttle, account: Account, now: datetime) -> None:
    """Bookkeeping after a complete sign-in."""
    throttle.succeed(account_key(account.username))
    account.last_login_at = now


def new_recovery_codes(session: Session, account: Account, now: datetime, count: int) -> list[str]:
    """Replace the account's recovery codes; returns the new codes (shown once, stored hashed)."""
    for old in session.scalars(select(RecoveryCode).where(RecoveryCode.account_id == account.id)):
        session.delete(old)
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i:i + 4] for i in range(0, 16, 4)))
        session.add(RecoveryCode(account_id=account.id, code_hash=digest(raw), created_at=now))
    audit.record(session, actor_for(account), "account.recovery_codes_issued", None, None,
                 {"count": count}, target=f"account:{account.id}", now=now)
    return codes


def remaining_recovery_codes(session: Session, account: Account) -> int:
    """How many unused recovery codes the account still holds."""
    return int(session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.account_id == account.id, RecoveryCode.used_at.is_(None))) or 0)


def change_password(session: Session, account: Account, *, current: str, new: str,
                    now: datetime) -> None:
    """Change one's own password (current password required; the new one must pass the rules)."""
    if not passwords.verify_password(account.password_hash, current or ""):
        raise AccountError("current_password", "The current password is not right.")
    accepted = passwords.require_acceptable(new, username=account.username,
                                            display_name=account.display_name)
    if passwords.verify_password(account.password_hash, accepted):
        raise AccountError("same_password", "Choose a password different from the current one.")
    account.password_hash = passwords.hash_password(accepted)
    account.password_changed_at = now
    audit.record(session, actor_for(account), "account.password_changed", None, None, None,
                 target=f"account:{account.id}", now=now)


def set_totp(session: Session, account: Account, secret: str, step: int, now: datetime, *,
             vault: seeds.Sealer) -> None:
    """Replace the account's TOTP seed after a confirmed code."""
    before = {"totp": bool(account.totp_secret)}
    account.totp_secret = seeds.seal(vault, account.username, secret)
    account.totp_last_step = step
    audit.record(session, actor_for(account), "account.totp_set", None, before, {"totp": True},
                 target=f"account:{account.id}", now=now)


def add_webauthn_credential(session: Session, account: Account, *, credential_id: bytes,
                            public_key: bytes, sign_count: int, name: str, now: datetime) -> WebAuthnCredential:
    """Store a verified security key."""
    if session.scalar(select(WebAuthnCredential.id).where(
            WebAuthnCredential.credential_id == credential_id)) is not None:
        raise AccountError("webauthn_duplicate", "That security key is already registered.")
    cred = WebAuthnCredential(account_id=account.id, credential_id=credential_id,
                              public_key=public_key, sign_count=sign_count,
                              name=clean_label(name, "Security key"),
                              created_at=now)
    session.add(cred)
    session.flush()
    audit.record(session, actor_for(account), "account.webauthn_added", None, None,
                 {"key": cred.name, "credential": cred.id}, target=f"account:{account.id}", now=now)
    return cred


def remove_webauthn_credential(session: Session, account: Account, credential_pk: int,
                               now: datetime) -> None:
    """Remove a security key, unless it is the account's last second factor."""
    cred = session.get(WebAuthnCredential, credential_pk)
    if cred is None or cred.account_id != account.id:
        raise AccountError("not_found", "No such security key.")
    if not account.totp_secret and len(account.webauthn_credentials) <= 1:
        raise AccountError("last_factor", "Add another second factor before removing the last one.")
    account.webauthn_credentials.remove(cred)
    audit.record(session, actor_for(account), "account.webauthn_removed", None,
                 {"key": cred.name, "credential": credential_pk}, None,
                 target=f"account:{account.id}", now=now)


# --- account administration --------------------------------------------------------------------

def set_active(session: Session, actor: Actor, account_id: int, active: bool, now: datetime) -> Account:
    """Disable (or re-enable) an account; disabling ends every session at once."""
    require(actor, "account.manage")
    account = session.get(Account, account_id)
    if account is None:
        raise AccountError("not_found", "No such account.")
    if actor.account_id == account.id and not active:
        raise AccountError("self", "You cannot disable your own account.")
    if (not active and account.role == Role.PRIVACY_TEAM.value and account.is_active
            and not _other_active_privacy_team(session, account.id)):
        raise AccountError("last_privacy_team", "The hub must keep one active privacy-team account.")
    before = {"is_active": account.is_active}
    account.is_active = active
    if not active:
        end_all_sessions(session, account.id)
    audit.record(session, actor, "account.enable" if active else "account.disable", None, before,
                 {"is_active": active}, target=f"account:{account.id}", now=now)
    return account


def _other_active_privacy_team(session: Session, account_id: int) -> bool:
    return session.scalar(select(func.count()).select_from(Account).where(
        Account.role == Role.PRIVACY_TEAM.value, Account.is_active.is_(True),
        Account.id != account_id)) > 0


def change_scope(session: Session, actor: Actor, account_id: int, *, role: str,
                 buildings: list[str], now: datetime) -> Account:
    """Change an account's role and buildings; its sessions end so the new scope starts clean."""
    require(actor, "account.manage")
    account = session.get(Account, account_id)
    if account is None:
        raise AccountError("not_found", "No such account.")
    if actor.account_id == account.id:
        raise AccountError("self", "Ask another member of the privacy team to change your role.")
    role_enum, cleaned = validate_scope(role, buildings)
    if (account.role == Role.PRIVACY_TEAM.value and role_enum is not Role.PRIVACY_TEAM
            and account.is_active and not _other_active_privacy_team(session, account.id)):
        raise AccountError("last_privacy_team", "The hub must keep one active privacy-team account.")
    before = {"role": account.role, "buildings": sorted(account.building_ids)}
    account.role = role_enum.value
    account.buildings = [AccountBuilding(building_id=b) for b in cleaned]
    end_all_sessions(session, account.id)
    audit.record(session, actor, "account.scope", cleaned[0] if len(cleaned) == 1 else None, before,
                 {"role": role_enum.value, "buildings": cleaned}, target=f"account:{account.id}",
                 now=now)
    return account


def end_sessions(session: Session, actor: Actor, account_id: int, now: datetime) -> int:
    """End every session of an account (one's own: ``self.manage``; others: ``account.manage``)."""
    if actor.account_id != account_id:
        require(actor, "account.manage")
    count = end_all_sessions(session, account_id)
    audit.record(session, actor, "account.sessions_ended", None, None, {"sessions": count},
                 target=f"account:{account_id}", now=now)
    return count


def list_accounts(session: Session, actor: Actor) -> list[Account]:
    """Every account, for the privacy team and auditors."""
    require(actor, "account.read")
    return list(session.scalars(select(Account).order_by(Account.username)))


# --- API tokens --------------------------------------------------------------------------------

def create_api_token(
    session: Session, actor: Actor, *, name: str, role: str, buildings: list[str],
    actions: list[str] | None, days: int, max_days: int, now: datetime,
) -> tuple[ApiToken, str]:
    """Create a bearer token scoped to a role, buildings and optionally a list of actions."""
    require(actor, "token.manage")
    label = (name or "").strip()
    if not 1 <= len(label) <= 64 or not label.isprintable():
        raise AccountError("name", "Name the token (1 to 64 characters), e.g. hr-import.")
    role_enum, cleaned = validate_scope(role, buildings)
    if not 1 <= days <= max_days:
        raise AccountError("days", f"A token lives 1 to {max_days} days.")
    if actions is not None:
        for action in actions:
            grant = ACTIONS.get(action)
            if grant is None:
                raise AccountError("action", f"Unknown action {action!r}.")
            if role_enum not in grant.roles or not grant.token_ok:
                raise AccountError("action", f"A {role_enum.value} token cannot hold {action}.")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=label, token_hash=digest(raw), role=role_enum.value,
                     buildings_json=json.dumps(cleaned),
                     actions_json=json.dumps(sorted(set(actions))) if actions is not None else None,
                     created_by=actor.label, created_at=now, expires_at=now + timedelta(days=days))
    session.add(token)
    session.flush()
    audit.record(session, actor, "token.create", cleaned[0] if len(cleaned) == 1 else None, None,
                 {"name": label, "role": role_enum.value, "buildings": cleaned,
                  "actions": sorted(set(actions)) if actions is not None else None,
                  "expires_at": token.expires_at}, target=f"token:{token.id}", now=now)
    return token, raw


def revoke_api_token(session: Session, actor: Actor, token_id: int, now: datetime) -> None:
    """Revoke a token at once."""
    require(actor, "token.manage")
    token = session.get(ApiToken, token_id)
    if token is None:
        raise AccountError("not_found", "No such token.")
    token.revoked_at = now
    audit.record(session, actor, "token.revoke", None, None, {"revoked_at": now},
                 target=f"token:{token.id}", now=now)


def actor_for_token(session: Session, raw: str, now: datetime) -> Actor | None:
    """The :class:`Actor` of a bearer token, or None if it is unknown, expired or revoked."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 128:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(raw)))
    if token is None or token.revoked_at is not None or now >= token.expires_at:
        return None
    token.last_used_at = now
    actions = frozenset(json.loads(token.actions_json)) if token.actions_json else None
    return Actor(None, token.name, Role(token.role), frozenset(json.loads(token.buildings_json)),
                 via="token", token_actions=actions, token_id=token.id)
