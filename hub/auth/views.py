"""The accounts blueprint: sign-in with a second factor, invitations, re-authentication,
one's own account, account administration and the audit log pages.

Views stay thin: they read the form, call :mod:`hub.auth.services`, commit, and render.
Access to each endpoint is decided by the guard from the permission table, not here.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select

from hub.auth import audit, passwords, services, totp
from hub.auth.config import get_clock, get_settings
from hub.auth.guard import current_account, current_actor, deny, log, safe_next
from hub.auth.models import Account, AuditEntry, ServerSession, WebAuthnCredential
from hub.auth.permissions import BUILDING_ID, Role, visible_buildings
from hub.auth.sessions import FULL, digest, end_all_sessions, idle_deadline, prune_expired
from hub.auth.webauthn_ceremony import (
    CeremonyError,
    RelyingParty,
    authentication_options,
    credential_raw_id,
    registration_options,
    verify_authentication,
    verify_registration,
)

bp = Blueprint("auth", __name__, url_prefix="/auth", template_folder="templates",
               static_folder="static", static_url_path="/static")

LOGIN_FAILED = ("Sign-in failed. Check the user name and password. After repeated failures, "
                "sign-in for that name or from this computer pauses for a while.")
FACTOR_FAILED = "That code or key was not accepted. A code works only once."


def _db() -> Any:
    from hub.db import get_session

    return get_session()


def _now() -> Any:
    return get_clock(current_app).now()


def _settings() -> Any:
    return get_settings(current_app)


def _vault() -> Any:
    from hub.keyring import get_keyring

    return get_keyring(current_app).vault


def _throttle() -> Any:
    return services.throttle_for(_db(), _settings())


def _rp() -> RelyingParty:
    settings = _settings()
    host = (request.host or "localhost").rsplit(":", 1)[0] if not request.host.startswith("[") else request.host
    origin = settings.origin or request.host_url.rstrip("/")
    return RelyingParty(settings.rp_id or host, settings.rp_name, origin)


def _home() -> str:
    return current_app.config.get("AUTH_HOME_URL") or "/"


# --- signing in --------------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Step one: user name and password (same answer for every failure)."""
    ended = getattr(session, "ended", None) or request.args.get("reason")
    idle_s = _settings().idle_timeout_s
    idle = (f"{idle_s // 60} minute{'s' if idle_s >= 120 else ''}" if idle_s % 60 == 0
            else f"{idle_s} seconds")
    notice = {"idle": f"You were signed out after {idle} without activity.",
              "absolute": "Your session reached its 12-hour limit; sign in again.",
              "partial": "The sign-in took too long; start again.",
              "signed_out": "You are signed out."}.get(ended or "")
    if request.method == "GET":
        return render_template("auth/login.html", notice=notice, error=None,
                               next=safe_next(request.args.get("next")) or "")
    db = _db()
    now = _now()
    prune_expired(db, now, _settings())
    username = request.form.get("username", "")[:200]
    account = services.check_password_login(
        db, _throttle(), username=username, password=request.form.get("password", "")[:1024],
        addr=request.remote_addr, now=now)
    if account is not None and not account.has_second_factor:
        # fail secure: an account without a second factor never signs in
        log.warning("auth.login_refused reason=no_second_factor account=%s", account.id)
        account = None
    db.commit()
    if account is None:
        return render_template("auth/login.html", notice=None, error=LOGIN_FAILED,
                               next=safe_next(request.form.get("next")) or ""), 401
    session.partial(account.id)  # type: ignore[attr-defined]
    session["pending"] = {"purpose": "login", "next": safe_next(request.form.get("next"))}
    return redirect(url_for("auth.second_factor"))


def _pending_account() -> tuple[Account | None, dict[str, Any] | None]:
    pending = session.get("pending")
    account = current_account()
    if not isinstance(pending, dict) or account is None:
        return None, None
    return account, pending


def _complete(account: Account, pending: dict[str, Any], method: str) -> str:
    """Finish a sign-in or a re-authentication; returns where to go next."""
    db = _db()
    now = _now()
    nxt = pending.get("next") or _home()
    if pending.get("purpose") == "reauth" and getattr(session, "stage", None) == FULL:
        session.reauthenticated(now)  # type: ignore[attr-defined]
        audit.record(db, services.actor_for(account), "auth.reauth", None, None, {"method": method},
                     target=f"account:{account.id}", now=now)
    else:
        services.signed_in(db, _throttle(), account, now)
        session.sign_in(account.id, now)  # type: ignore[attr-defined]
        audit.record(db, services.actor_for(account), "auth.login", None, None,
                     {"method": method, "addr": request.remote_addr},
                     target=f"account:{account.id}", now=now)
    db.commit()
    return nxt


def _factor_failed(account: Account, pending: dict[str, Any]) -> Any:
    db = _db()
    db.commit()
    keys = [f"user:{account.username}", f"addr:{request.remote_addr or 'unknown'}"]
    if _throttle().locked(keys, _now()) and pending.get("purpose") == "login":
        session.end()  # type: ignore[attr-defined]
        return render_template("auth/login.html", notice=None, error=LOGIN_FAILED, next=""), 401
    return render_template("auth/second_factor.html", account=account, error=FACTOR_FAILED,
                           purpose=pending.get("purpose")), 401


@bp.route("/second-factor", methods=["GET", "POST"])
def second_factor() -> Any:
    """Step two: a TOTP code, a security key, or a recovery code."""
    account, pending = _pending_account()
    if account is None or pending is None:
        return redirect(url_for("auth.login"))
    if request.method == "GET":
        return render_template("auth/second_factor.html", account=account, error=None,
                               purpose=pending.get("purpose"))
    method = request.form.get("method", "totp")
    now = _now()
    db = _db()
    if method == "recovery":
        ok = services.check_recovery_code(db, _throttle(), account, request.form.get("code", ""),
                                          addr=request.remote_addr, now=now)
    elif method == "totp":
        ok = services.check_totp(db, _throttle(), account, request.form.get("code", ""),
                                 addr=request.remote_addr, now=now, vault=_vault())
    else:
        return deny(400, "bad_method")
    if not ok:
        return _factor_failed(account, pending)
    return redirect(_complete(account, pending, method))


@bp.route("/webauthn/login/begin", methods=["POST"])
def webauthn_login_begin() -> Any:
    """Security-key options for the pending sign-in or re-authentication."""
    account, pending = _pending_account()
    if account is None or pending is None:
        return deny(400, "no_pending_login")
    keys = [c.credential_id for c in account.webauthn_credentials]
    if not keys:
        return deny(400, "no_security_key", "This account has no security key.")
    options, challenge = authentication_options(_rp(), keys)
    session["webauthn"] = {"purpose": "authenticate", "challenge": challenge}
    return Response(options, mimetype="application/json")


@bp.route("/webauthn/login/finish", methods=["POST"])
def webauthn_login_finish() -> Any:
    """Verify the key's answer and complete the pending step."""
    account, pending = _pending_account()
    state = session.pop("webauthn", None)
    if account is None or pending is None or not isinstance(state, dict) \
            or state.get("purpose") != "authenticate":
        return deny(400, "no_challenge")
    credential = request.get_json(silent=True)
    db = _db()
    now = _now()
    throttle = _throttle()
    keys = [f"user:{account.username}", f"addr:{request.remote_addr or 'unknown'}"]
    if throttle.locked(keys, now):
        return deny(401, "locked", FACTOR_FAILED)
    try:
        raw_id = credential_raw_id(credential)
        stored = db.scalar(select(WebAuthnCredential).where(
            WebAuthnCredential.credential_id == raw_id, WebAuthnCredential.account_id == account.id))
        if stored is None:
            raise CeremonyError("unknown key")
        stored.sign_count = verify_authentication(
            _rp(), credential, state["challenge"], public_key=stored.public_key,
            sign_count=stored.sign_count)
        stored.last_used_at = now
    except CeremonyError as exc:
        throttle.fail(keys, now)
        db.commit()
        log.warning("auth.webauthn_failed account=%s detail=%s", account.id, exc)
        return deny(401, "webauthn_failed", FACTOR_FAILED)
    return jsonify({"redirect": _complete(account, pending, "webauthn")})


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    """Sign out of this browser."""
    session.end()  # type: ignore[attr-defined]
    return redirect(url_for("auth.login", reason="signed_out"))


@bp.route("/logout-everywhere", methods=["POST"])
def logout_everywhere() -> Any:
    """Sign out of every browser at once."""
    account = current_account()
    assert account is not None
    services.end_sessions(_db(), current_actor(), account.id, _now())  # type: ignore[arg-type]
    _db().commit()
    session.end()  # type: ignore[attr-defined]
    return redirect(url_for("auth.login", reason="signed_out"))


@bp.route("/reauth", methods=["GET", "POST"])
def reauth() -> Any:
    """Confirm password and second factor again before a sensitive action."""
    account = current_account()
    assert account is not None
    nxt = safe_next(request.values.get("next")) or url_for("auth.account")
    if request.method == "GET":
        return render_template("auth/reauth.html", next=nxt, error=None)
    db = _db()
    ok = services.check_password_login(
        db, _throttle(), username=account.username, password=request.form.get("password", "")[:1024],
        addr=request.remote_addr, now=_now())
    db.commit()
    if ok is None:
        return render_template("auth/reauth.html", next=nxt, error=LOGIN_FAILED), 401
    session["pending"] = {"purpose": "reauth", "next": nxt}
    return redirect(url_for("auth.second_factor"))


@bp.route("/session/extend", methods=["POST"])
def session_extend() -> Any:
    """'Stay signed in': any request counts as activity; this one just returns to the page."""
    return redirect(safe_next(request.form.get("next")) or _home())


@bp.route("/session/status")
def session_status() -> Any:
    """Seconds left in this session (does not count as activity)."""
    last_seen = getattr(session, "last_seen_at", None)
    created = getattr(session, "created_at", None)
    if getattr(session, "stage", None) != FULL or last_seen is None or created is None:
        return jsonify({"signed_in": False, "remaining_s": 0})
    left = (idle_deadline(last_seen, created, _settings()) - _now()).total_seconds()
    return jsonify({"signed_in": True, "remaining_s": max(0, int(left))})


# --- one's own account -------------------------------------------------------------------------

@bp.route("/account")
def account() -> Any:
    """One's own account: factors, recovery codes, password age, sessions."""
    acct = current_account()
    assert acct is not None
    db = _db()
    sessions = db.scalars(select(ServerSession).where(ServerSession.account_id == acct.id)
                          .order_by(ServerSession.last_seen_at.desc())).all()
    settings = _settings()
    due = (acct.password_changed_at + timedelta(days=settings.password_rotation_days)
           if settings.password_rotation_days else None)
    return render_template("auth/account.html", account=acct, sessions=sessions,
                           current=getattr(session, "id_hash", None), password_due=due,
                           recovery_left=services.remaining_recovery_codes(db, acct))


@bp.route("/password", methods=["GET", "POST"])
def password_change() -> Any:
    """Change one's password (forced when the yearly rotation is due)."""
    acct = current_account()
    assert acct is not None
    reason = request.args.get("reason")
    if request.method == "GET":
        return render_template("auth/password.html", error=None, reason=reason)
    new = request.form.get("new_password", "")
    if new != request.form.get("confirm_password", ""):
        return render_template("auth/password.html", error="The two new passwords differ.",
                               reason=reason), 400
    db = _db()
    try:
        services.change_password(db, acct, current=request.form.get("current_password", ""),
                                 new=new, now=_now())
    except (services.AccountError, passwords.PasswordRejected) as exc:
        return render_template("auth/password.html", error=str(exc), reason=reason), 400
    end_all_sessions(db, acct.id)  # every other browser signs in again with the new password
    db.commit()
    session.sign_in(acct.id, _now())  # type: ignore[attr-defined]
    return redirect(url_for("auth.account"))


@bp.route("/totp", methods=["GET", "POST"])
def totp_setup() -> Any:
    """Set up (or replace) the authenticator app."""
    acct = current_account()
    assert acct is not None
    state = session.get("totp_setup")
    if request.method == "GET" or not isinstance(state, dict):
        secret = totp.new_secret()
        session["totp_setup"] = {"secret": secret}
        uri = totp.provisioning_uri(secret, acct.username, _settings().totp_issuer)
        return render_template("auth/totp_setup.html", qr=totp.qr_data_uri(uri), secret=secret,
                               error=None, action=url_for("auth.totp_setup"))
    secret = state["secret"]
    step = totp.match_step(secret, request.form.get("code", ""), _now(), 0)
    if step is None:
        uri = totp.provisioning_uri(secret, acct.username, _settings().totp_issuer)
        return render_template("auth/totp_setup.html", qr=totp.qr_data_uri(uri), secret=secret,
                               error="That code does not match; try the next one.",
                               action=url_for("auth.totp_setup")), 400
    session.pop("totp_setup", None)
    services.set_totp(_db(), acct, secret, step, _now(), vault=_vault())
    _db().commit()
    return redirect(url_for("auth.account"))


@bp.route("/webauthn/register/begin", methods=["POST"])
def webauthn_register_begin() -> Any:
    """Options to register a new security key for one's own account."""
    acct = current_account()
    assert acct is not None
    options, challenge = registration_options(
        _rp(), user_id=acct.webauthn_user_id, username=acct.username,
        display_name=acct.display_name, existing=[c.credential_id for c in acct.webauthn_credentials])
    session["webauthn"] = {"purpose": "register", "challenge": challenge}
    return Response(options, mimetype="application/json")


@bp.route("/webauthn/register/finish", methods=["POST"])
def webauthn_register_finish() -> Any:
    """Verify and store a new security key."""
    acct = current_account()
    assert acct is not None
    state = session.pop("webauthn", None)
    body = request.get_json(silent=True)
    if not isinstance(state, dict) or state.get("purpose") != "register" or not isinstance(body, dict):
        return deny(400, "no_challenge")
    try:
        key = verify_registration(_rp(), body.get("credential"), state["challenge"])
        services.add_webauthn_credential(_db(), acct, credential_id=key.credential_id,
                                         public_key=key.public_key, sign_count=key.sign_count,
                                         name=str(body.get("name") or "Security key"), now=_now())
    except (CeremonyError, services.AccountError) as exc:
        log.warning("auth.webauthn_register_failed account=%s detail=%s", acct.id, exc)
        return deny(400, "webauthn_register_failed", "The security key could not be registered.")
    _db().commit()
    return jsonify({"redirect": url_for("auth.account")})


@bp.route("/webauthn/<int:key_id>/remove", methods=["POST"])
def webauthn_remove(key_id: int) -> Any:
    """Remove one of one's own security keys."""
    acct = current_account()
    assert acct is not None
    try:
        services.remove_webauthn_credential(_db(), acct, key_id, _now())
    except services.AccountError as exc:
        return deny(404 if exc.reason == "not_found" else 400, exc.reason, str(exc))
    _db().commit()
    return redirect(url_for("auth.account"))


@bp.route("/recovery-codes", methods=["POST"])
def recovery_codes() -> Any:
    """Issue a fresh set of recovery codes (the old ones stop working)."""
    acct = current_account()
    assert acct is not None
    codes = services.new_recovery_codes(_db(), acct, _now(), _settings().recovery_codes)
    _db().commit()
    return render_template("auth/recovery_codes.html", codes=codes, next=url_for("auth.account"))


# --- invitations -------------------------------------------------------------------------------

def _open_invitation(token: str) -> Any:
    try:
        return services.open_invitation(_db(), token, _now())
    except services.AccountError as exc:
        status = 404 if exc.reason == "invitation_unknown" else 410
        log.warning("auth.invitation_refused reason=%s addr=%s", exc.reason,
                                   request.remote_addr)
        return Response(render_template("auth/error.html", status=status, message=str(exc)), status)


def _invite_state(token: str) -> dict[str, Any] | None:
    state = session.get("invite")
    if isinstance(state, dict) and state.get("token_hash") == digest(token):
        return state
    return None


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def invitation(token: str) -> Any:
    """Accept an invitation: choose a password (step 1 of 2)."""
    inv = _open_invitation(token)
    if isinstance(inv, Response):
        return inv
    if request.method == "GET":
        return render_template("auth/invitation.html", invitation=inv, error=None)
    new = request.form.get("new_password", "")
    if new != request.form.get("confirm_password", ""):
        return render_template("auth/invitation.html", invitation=inv,
                               error="The two passwords differ."), 400
    result = passwords.check(new, username=inv.username, display_name=inv.display_name)
    if not result.ok:
        return render_template("auth/invitation.html", invitation=inv, error=result.message), 400
    session["invite"] = {"token_hash": digest(token), "password_hash": passwords.hash_password(new),
                         "totp_secret": totp.new_secret()}
    return redirect(url_for("auth.invitation_totp", token=token))


def _activate(token: str, state: dict[str, Any], *, totp_secret: str | None, step: int) -> Account:
    db = _db()
    now = _now()
    account = services.activate_invitation(db, token, password_hash=state["password_hash"],
                                           totp_secret=totp_secret, totp_step=step, now=now,
                                           vault=_vault())
    return account


def _finish_activation(account: Account) -> str:
    db = _db()
    now = _now()
    codes = services.new_recovery_codes(db, account, now, _settings().recovery_codes)
    db.commit()
    session.pop("invite", None)
    session.sign_in(account.id, now)  # type: ignore[attr-defined]
    session["fresh_recovery_codes"] = codes
    return url_for("auth.recovery_codes_show")


@bp.route("/invitation/<token>/totp", methods=["GET", "POST"])
def invitation_totp(token: str) -> Any:
    """Accept an invitation: set up the second factor (step 2 of 2)."""
    inv = _open_invitation(token)
    if isinstance(inv, Response):
        return inv
    state = _invite_state(token)
    if state is None:
        return redirect(url_for("auth.invitation", token=token))
    uri = totp.provisioning_uri(state["totp_secret"], inv.username, _settings().totp_issuer)
    page = {"invitation": inv, "qr": totp.qr_data_uri(uri), "secret": state["totp_secret"],
            "action": url_for("auth.invitation_totp", token=token), "token": token}
    if request.method == "GET":
        return render_template("auth/totp_setup.html", error=None, **page)
    step = totp.match_step(state["totp_secret"], request.form.get("code", ""), _now(), 0)
    if step is None:
        return render_template("auth/totp_setup.html",
                               error="That code does not match; try the next one.", **page), 400
    try:
        account = _activate(token, state, totp_secret=state["totp_secret"], step=step)
    except services.AccountError as exc:
        _db().rollback()
        return deny(409 if exc.reason == "taken" else 410, exc.reason, str(exc))
    return redirect(_finish_activation(account))


@bp.route("/invitation/<token>/webauthn/begin", methods=["POST"])
def invitation_webauthn_begin(token: str) -> Any:
    """Accept an invitation with a security key instead of an app: options."""
    inv = _open_invitation(token)
    if isinstance(inv, Response):
        return deny(410, "invitation_closed")
    state = _invite_state(token)
    if state is None:
        return deny(400, "no_invitation_state")
    user_id = bytes.fromhex(state.setdefault("user_id", secrets.token_hex(32)))
    options, challenge = registration_options(_rp(), user_id=user_id, username=inv.username,
                                              display_name=inv.display_name, existing=[])
    state["challenge"] = challenge
    session["invite"] = state
    return Response(options, mimetype="application/json")


@bp.route("/invitation/<token>/webauthn/finish", methods=["POST"])
def invitation_webauthn_finish(token: str) -> Any:
    """Accept an invitation with a security key instead of an app: verify and create the account."""
    inv = _open_invitation(token)
    if isinstance(inv, Response):
        return deny(410, "invitation_closed")
    state = _invite_state(token)
    body = request.get_json(silent=True)
    if state is None or "challenge" not in state or not isinstance(body, dict):
        return deny(400, "no_challenge")
    challenge = state.pop("challenge")
    session["invite"] = state
    try:
        key = verify_registration(_rp(), body.get("credential"), challenge)
        account = _activate(token, state, totp_secret=None, step=0)
        account.webauthn_user_id = bytes.fromhex(state["user_id"])
        services.add_webauthn_credential(_db(), account, credential_id=key.credential_id,
                                         public_key=key.public_key, sign_count=key.sign_count,
                                         name=str(body.get("name") or "Security key"), now=_now())
    except (CeremonyError, services.AccountError) as exc:
        _db().rollback()
        log.warning("auth.invitation_webauthn_failed detail=%s", exc)
        return deny(400, "webauthn_register_failed", "The security key could not be registered.")
    return jsonify({"redirect": _finish_activation(account)})


@bp.route("/recovery-codes/new")
def recovery_codes_show() -> Any:
    """Show freshly issued recovery codes once."""
    codes = session.pop("fresh_recovery_codes", None)
    if not codes:
        return redirect(url_for("auth.account"))
    return render_template("auth/recovery_codes.html", codes=codes, next=_home())


# --- account administration (privacy team) -----------------------------------------------------

@bp.route("/accounts")
def accounts() -> Any:
    """Every account with its role, buildings and state."""
    rows = services.list_accounts(_db(), current_actor())  # type: ignore[arg-type]
    return render_template("auth/accounts.html", accounts=rows, roles=[r.value for r in Role],
                           can_manage=current_actor().role is Role.PRIVACY_TEAM)  # type: ignore[union-attr]


@bp.route("/accounts/invite", methods=["GET", "POST"])
def account_invite() -> Any:
    """Invite a new account (one-time link shown once)."""
    roles = [r.value for r in Role]
    if request.method == "GET":
        return render_template("auth/invite.html", roles=roles, error=None, link=None, form={})
    form = {k: request.form.get(k, "") for k in ("username", "display_name", "role", "buildings")}
    buildings = [b for b in form["buildings"].replace(",", " ").split() if b]
    db = _db()
    try:
        _inv, token = services.create_invitation(
            db, current_actor(), username=form["username"],  # type: ignore[arg-type]
            display_name=form["display_name"], role=form["role"], buildings=buildings,
            now=_now(), ttl_s=_settings().invitation_ttl_s)
    except services.AccountError as exc:
        db.rollback()
        return render_template("auth/invite.html", roles=roles, error=str(exc), link=None,
                               form=form), 400
    db.commit()
    link = url_for("auth.invitation", token=token, _external=True)
    return render_template("auth/invite.html", roles=roles, error=None, link=link, form={})


def _target_account(account_id: int) -> Account | None:
    return _db().get(Account, account_id)


@bp.route("/accounts/<int:account_id>/active", methods=["POST"])
def account_disable(account_id: int) -> Any:
    """Disable or re-enable an account (disabling ends its sessions)."""
    active = request.form.get("active") == "1"
    try:
        services.set_active(_db(), current_actor(), account_id, active, _now())  # type: ignore[arg-type]
    except services.AccountError as exc:
        _db().rollback()
        return deny(404 if exc.reason == "not_found" else 400, exc.reason, str(exc))
    _db().commit()
    return redirect(url_for("auth.accounts"))


@bp.route("/accounts/<int:account_id>/scope", methods=["POST"])
def account_scope(account_id: int) -> Any:
    """Change an account's role and buildings."""
    buildings = [b for b in request.form.get("buildings", "").replace(",", " ").split() if b]
    try:
        services.change_scope(_db(), current_actor(), account_id,  # type: ignore[arg-type]
                              role=request.form.get("role", ""), buildings=buildings, now=_now())
    except services.AccountError as exc:
        _db().rollback()
        return deny(404 if exc.reason == "not_found" else 400, exc.reason, str(exc))
    _db().commit()
    return redirect(url_for("auth.accounts"))


@bp.route("/accounts/<int:account_id>/sessions/end", methods=["POST"])
def account_sessions_end(account_id: int) -> Any:
    """End every session of an account."""
    if _target_account(account_id) is None:
        return deny(404, "not_found")
    services.end_sessions(_db(), current_actor(), account_id, _now())  # type: ignore[arg-type]
    _db().commit()
    return redirect(url_for("auth.accounts"))


# --- audit -------------------------------------------------------------------------------------

PAGE = 100
ACTION_NAME = re.compile(r"^[a-z0-9_.-]{1,64}$")


@bp.route("/audit")
def audit_log() -> Any:
    """The audit log, newest first, with the doors' access events of the same span interleaved
    (principals see their buildings' rows only)."""
    actor = current_actor()
    assert actor is not None
    db = _db()
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(PAGE)
    scope = visible_buildings(actor)
    if scope is not None:
        query = query.where(AuditEntry.building.in_(sorted(scope)))
    before = request.args.get("before", "")
    upper = None
    if before:
        if not before.isdigit() or len(before) > 18:
            return deny(400, "bad_cursor", "'before' must be a row number.")
        query = query.where(AuditEntry.id < int(before))
        cursor_row = db.get(AuditEntry, int(before))
        upper = cursor_row.at if cursor_row is not None else None
    action = request.args.get("action", "").strip()
    if action and not ACTION_NAME.match(action):
        return deny(400, "bad_filter", "An action is a name like secret.view.")
    if action:
        query = query.where(AuditEntry.action == action)
    building = request.args.get("building", "").strip()
    if building and not BUILDING_ID.match(building):
        return deny(400, "bad_filter", "A building is an id like hs-1.")
    if building:
        query = query.where(AuditEntry.building == building)
    rows = [audit.as_dict(r) for r in db.scalars(query)]
    for row in rows:
        row["kind"] = "audit"
        row["before_text"] = json.dumps(row["before"], ensure_ascii=False, sort_keys=True)
        row["after_text"] = json.dumps(row["after"], ensure_ascii=False, sort_keys=True)
    older = rows[-1]["id"] if len(rows) == PAGE else None
    lower = db.get(AuditEntry, older).at if older is not None else None
    doors, more_doors = ([], False) if action else _door_events(db, scope, building, lower, upper)
    timeline = sorted(rows + doors, key=lambda r: r["at"], reverse=True)
    return render_template("auth/audit.html", rows=timeline, older=older, action=action,
                           building=building, more_doors=more_doors,
                           can_verify=actor.role in (Role.PRIVACY_TEAM, Role.AUDITOR), result=None)


DOOR_EVENTS_PER_PAGE = 500


def _door_events(db: Any, scope: frozenset[str] | None, building: str, lower: Any,
                 upper: Any) -> tuple[list[dict[str, Any]], bool]:
    """Access and door events from the devices in the same time span as an audit page."""
    from hub.models.events import Event

    query = select(Event).order_by(Event.at.desc(), Event.id.desc()).limit(DOOR_EVENTS_PER_PAGE + 1)
    query = query.where(Event.type.like("access.%") | Event.type.like("door.%"))
    if scope is not None:
        query = query.where(Event.building_id.in_(sorted(scope)))
    if building:
        query = query.where(Event.building_id == building)
    if upper is not None:
        query = query.where(Event.at <= upper)
    if lower is not None:
        query = query.where(Event.at >= lower)
    found = list(db.scalars(query))
    out = []
    for event in found[:DOOR_EVENTS_PER_PAGE]:
        out.append({
            "kind": "door", "id": None, "at": audit.timestamp(event.at),
            "actor": event.holder or "", "actor_role": "door", "building": event.building_id,
            "action": event.type, "target": f"{event.device_id}/{event.door_id or '-'}",
            "before_text": "", "after_text": event.reason or "",
        })
    return out, len(found) > DOOR_EVENTS_PER_PAGE


@bp.route("/audit/verify", methods=["POST"])
def audit_verify() -> Any:
    """Check the whole hash chain and show the first broken link, if any."""
    result = audit.verify(_db())
    if not result.ok:
        log.error("audit.broken row=%s problem=%s", result.broken_id, result.problem)
    return render_template("auth/audit.html", rows=[], older=None, action="", building="",
                           can_verify=True, result=result), (200 if result.ok else 409)


@bp.app_context_processor
def session_context() -> dict[str, Any]:
    """Template values for the session countdown and the signed-in header."""
    info: dict[str, Any] = {"signed_in": False}
    stage = getattr(session, "stage", None)
    created = getattr(session, "created_at", None)
    if stage == FULL and created is not None:
        settings = _settings()
        now = _now()
        absolute_left = int((created + timedelta(seconds=settings.absolute_timeout_s) - now).total_seconds())
        info = {"signed_in": True, "idle_s": settings.idle_timeout_s,
                "warn_after_s": settings.idle_warning_s,
                "remaining_s": max(0, min(settings.idle_timeout_s, absolute_left))}
    return {"gh_session": info, "gh_account": g.get("account"), "gh_actor": g.get("actor")}
