"""The before-request hook that applies the permission table to every request, and its helpers.

Order of checks for each request: the endpoint must be in :data:`hub.auth.permissions.ENDPOINTS`
(else 403); API endpoints take a bearer token only (no cookie, no CSRF); every other endpoint
takes the cookie session, checks CSRF on unsafe methods, and needs a complete sign-in (password
and second factor) unless the table marks it public or partial; then role and building scope;
then, for sensitive actions, a re-authentication fresher than ``AUTH_REAUTH_WINDOW_S``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Response, current_app, g, jsonify, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from hub.auth import passwords, services
from hub.auth.config import get_clock, get_settings
from hub.auth.models import Account
from hub.auth.permissions import (
    ACTIONS,
    ENDPOINTS,
    PARTIAL,
    PUBLIC,
    RESOLVERS,
    SIGNED_IN,
    Actor,
    PermissionDenied,
    decide,
)
from hub.auth.sessions import FULL
from hub.auth.sessions import PARTIAL as STAGE_PARTIAL

log = logging.getLogger("hub.auth")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
#: endpoints reachable while a password change is forced
ROTATION_ENDPOINTS = frozenset({
    "auth.password_change", "auth.logout", "auth.session_extend", "auth.session_status",
    "auth.static", "static",
})

F = TypeVar("F", bound=Callable[..., Any])

csrf = CSRFProtect()


def current_actor() -> Actor | None:
    """The actor of the current request (None before sign-in or on public pages)."""
    return g.get("actor")


def current_account() -> Account | None:
    """The signed-in account of the current request (None for API tokens and public pages)."""
    return g.get("account")


def wants_json() -> bool:
    """True for API endpoints and fetch() calls asking for JSON."""
    rule = ENDPOINTS.get(request.endpoint or "")
    if rule is not None and rule.api:
        return True
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def deny(status: int, reason: str, message: str | None = None, *, by: str = "view") -> Response:
    """Log a refusal with its reason and answer with the status and no data.

    ``by`` says who refused: ``guard`` (the permission table) or ``view`` (the view's own checks).
    """
    actor = current_actor()
    log.warning(
        "auth.denied by=%s status=%s reason=%s endpoint=%s method=%s actor=%s addr=%s",
        by, status, reason, request.endpoint, request.method,
        actor.label if actor else "-", request.remote_addr,
    )
    text = message or {
        401: "Sign in to continue.",
        403: "You do not have access to this.",
        404: "Not found.",
        400: "The request was not valid.",
    }.get(status, "Refused.")
    if wants_json():
        response = jsonify({"error": {401: "unauthorized", 403: "forbidden", 404: "not_found",
                                      400: "bad_request"}.get(status, "refused"),
                            "message": text})
        response.status_code = status
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="gatehouse"'
        return response
    return Response(render_template("auth/error.html", status=status, message=text), status)


def safe_next(target: str | None) -> str | None:
    """Accept only a local path for post-login redirects (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target


def _login_redirect() -> Response:
    if request.method == "GET" and not wants_json():
        log.info("auth.denied by=guard status=302 reason=not_signed_in endpoint=%s addr=%s",
                 request.endpoint, request.remote_addr)
        nxt = request.full_path if request.query_string else request.path
        return redirect(url_for("auth.login", next=nxt))
    return deny(401, "not_signed_in", by="guard")


def reauth_fresh() -> bool:
    """True when the session re-authenticated (password + second factor) within the window."""
    reauth_at = getattr(session, "reauth_at", None)
    if reauth_at is None:
        return False
    window = timedelta(seconds=get_settings(current_app).reauth_window_s)
    return get_clock(current_app).now() - reauth_at < window


def _reauth_redirect() -> Response:
    if request.method == "GET" and not wants_json():
        log.info("auth.denied by=guard status=302 reason=reauth_required endpoint=%s addr=%s",
                 request.endpoint, request.remote_addr)
        nxt = request.full_path if request.query_string else request.path
        return redirect(url_for("auth.reauth", next=nxt))
    return deny(403, "reauth_required",
                "Confirm your password and second factor first (Account → Re-authenticate).", by="guard")


def require_recent_auth(view: F) -> F:
    """Decorator: the view runs only after a fresh password + second-factor check.

    The guard already applies this to every action marked ``reauth`` in the permission table;
    use the decorator for a view whose sensitivity the table cannot see.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        actor = current_actor()
        if actor is None:
            return _login_redirect()
        if actor.via == "session" and not reauth_fresh():
            return _reauth_redirect()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _bearer_actor() -> Actor | None:
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None
    from hub.db import get_session

    db = get_session()
    actor = services.actor_for_token(db, raw.strip(), get_clock(current_app).now())
    db.commit()  # last_used_at; nothing else is pending this early in the request
    return actor


def guard() -> Response | None:
    """Before-request hook: the one place that decides whether a request may proceed."""
    if request.routing_exception is not None or request.endpoint is None:
        return None  # Flask answers 404/405 itself
    rule = ENDPOINTS.get(request.endpoint)
    if rule is None:
        return deny(403, "undeclared_endpoint", by="guard")
    action = rule.action_for(request.method)
    if action is None:
        return deny(403, "undeclared_method", by="guard")

    if rule.api:
        if action == PUBLIC:
            return None
        actor = _bearer_actor()
        if actor is None:
            return deny(401, "bad_token", by="guard")
        g.actor = actor
        if action in (PARTIAL, SIGNED_IN):
            return None  # any valid token
    else:
        if request.method not in SAFE_METHODS:
            try:
                csrf.protect()
            except CSRFError as exc:
                log.warning("auth.denied by=guard status=400 reason=csrf endpoint=%s addr=%s detail=%s",
                            request.endpoint, request.remote_addr, exc.description)
                return deny(400, "csrf", "The form expired or was not sent by this site. "
                                         "Reload the page and try again.", by="guard")
        if action == PUBLIC:
            return None
        stage = getattr(session, "stage", None)
        account_id = getattr(session, "account_id", None)
        if account_id is None or stage not in (STAGE_PARTIAL, FULL):
            return _login_redirect()
        from hub.db import get_session

        account = get_session().get(Account, account_id)
        if account is None or not account.is_active:
            session.end()  # type: ignore[attr-defined]
            return _login_redirect()
        g.account = account
        if action == PARTIAL:
            return None
        if stage != FULL:
            return _login_redirect()  # MFA: nothing beyond this point after the password alone
        actor = services.actor_for(account)
        g.actor = actor
        settings = get_settings(current_app)
        now = get_clock(current_app).now()
        if (request.endpoint not in ROTATION_ENDPOINTS
                and passwords.rotation_due(account.password_changed_at, now,
                                           settings.password_rotation_days)):
            if request.method == "GET" and not wants_json():
                return redirect(url_for("auth.password_change", reason="rotation"))
            return deny(403, "password_rotation_due", "Your password has expired; change it first.", by="guard")
        if action == SIGNED_IN:
            return None

    assert action not in (PUBLIC, PARTIAL, SIGNED_IN)
    actor = g.actor
    role_check = decide(actor, action, None)  # role and token scope first: no lookup for outsiders
    if not role_check.allowed:
        return deny(role_check.status, role_check.reason, by="guard")
    buildings: Any = None
    view_args = request.view_args or {}
    if rule.building_arg is not None:
        buildings = str(view_args.get(rule.building_arg, ""))
    elif rule.object_arg is not None:
        resolver = RESOLVERS.get(rule.object_arg)
        if resolver is None:
            return deny(403, "no_resolver", by="guard")
        from hub.db import get_session

        found = resolver(get_session(), str(view_args.get(rule.object_arg, "")))
        if found is None:
            return deny(404, "object_not_found", by="guard")
        buildings = found
    decision = decide(actor, action, buildings)
    if not decision.allowed:
        if decision.reason == "building_scope" and rule.object_arg is not None:
            # an object of another building looks exactly like a missing one
            return deny(404, "object_out_of_scope", by="guard")
        return deny(decision.status, decision.reason, by="guard")
    g.action = action
    if ACTIONS[action].reauth and actor.via == "session" and not reauth_fresh():
        return _reauth_redirect()
    return None


def permission_denied(exc: PermissionDenied) -> Response:
    """A service's ``require()`` refused: roll back, log the reason, answer 403 (401 signed out)."""
    from hub.db import get_session

    get_session().rollback()
    return deny(exc.status, exc.reason, by="service")


def error_response(exc: HTTPException) -> Response:
    """Every HTTP error as a page or a JSON body, never a stack trace."""
    status = exc.code or 500
    if isinstance(exc, CSRFError):
        return deny(400, "csrf", "The form expired or was not sent by this site. Reload and try again.")
    message = exc.description if status < 500 else "Something went wrong on the hub. It has been logged."
    if wants_json():
        response = jsonify({"error": exc.name.lower().replace(" ", "_"), "message": message})
        response.status_code = status
    else:
        response = Response(render_template("auth/error.html", status=status, message=message), status)
    # the exception's own headers carry what the status promises (405 -> Allow, RFC 9110)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def unexpected_error(exc: Exception) -> Response:
    """Log an unexpected exception server-side and show the user a plain page."""
    if isinstance(exc, HTTPException):
        return error_response(exc)
    log.exception("hub.error endpoint=%s method=%s", request.endpoint, request.method)
    if wants_json():
        response = jsonify({"error": "internal_error", "message": "Something went wrong on the hub."})
        response.status_code = 500
        return response
    return Response(render_template("auth/error.html", status=500,
                                    message="Something went wrong on the hub. It has been logged."), 500)


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def security_headers(response: Response) -> Response:
    """After-request hook: CSP without inline script, framing refused, HSTS over TLS, no caching."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    # same-origin: the hub's own form posts carry the Referer that the CSRF check demands over
    # HTTPS, while no address (an invitation link, a person's id) ever leaks to another site
    headers["Referrer-Policy"] = "same-origin"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if request.is_secure:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if request.endpoint not in ("static", "auth.static"):
        headers["Cache-Control"] = "no-store"
    return response
