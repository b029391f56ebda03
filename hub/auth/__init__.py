"""Hub accounts and security: sign-in with a mandatory second factor, roles scoped to buildings,
server-side sessions with the 5-minute idle lock, web hardening, and the hash-chained audit log.

Owns the permission table (:mod:`hub.auth.permissions`), the before-request guard, the
``auth_*`` and ``audit_log`` tables, and the ``auth`` blueprint. Other hub packages call
:func:`init_app`, :func:`require`, :func:`record` and :func:`require_recent_auth`, and declare
their endpoints with :func:`declare`.

Must not import ``hub.services``, ``hub.web``, ``hub.api`` or any device package
(``hardware``, ``controller``, ``kiosk``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.auth.audit import record, verify
from hub.auth.clock import Clock, ManualClock, SystemClock
from hub.auth.config import EXTENSION, AuthSettings, get_clock, get_settings
from hub.auth.guard import current_account, current_actor, require_recent_auth
from hub.auth.permissions import (
    Actor,
    PermissionDenied,
    Role,
    declare,
    register_resolver,
    require,
    visible_buildings,
)

__all__ = [
    "Actor", "Clock", "ManualClock", "PermissionDenied", "Role", "SystemClock", "current_account",
    "current_actor", "declare", "get_clock", "init_app", "now", "record", "register_resolver",
    "require", "require_recent_auth", "verify", "visible_buildings",
]


def init_app(app: Any) -> None:
    """Install accounts and security on ``app`` (call after ``hub.db.init_app``).

    Sets the server-side session interface, CSRF protection, the guard (first before-request
    hook), security headers, error pages without stack traces, and the ``auth`` blueprint.
    """
    from werkzeug.exceptions import HTTPException

    import hub.auth.models  # noqa: F401  (registers the tables on hub.db.Base)
    from hub.auth import guard
    from hub.auth.sessions import DbSessionInterface
    from hub.auth.views import bp

    settings = AuthSettings.from_config(app.config)
    clock = app.config.get("AUTH_CLOCK") or SystemClock()
    app.extensions[EXTENSION] = {"settings": settings, "clock": clock}
    if not hasattr(app, "clock"):
        app.clock = clock  # one clock object on the app, read by every shell
    if not app.config.get("SECRET_KEY"):
        # signs CSRF tokens; kept in a 0600 file beside the hub's other secrets, never in config
        from hub.keyring import load_or_create_bytes

        key_file = app.config.get("AUTH_SECRET_KEY_FILE") or str(
            Path(app.config.get("VAR_DIR", "var")) / "secrets" / "session.key")
        app.config["SECRET_KEY"] = load_or_create_bytes(Path(key_file), 32)
    proxies = int(app.config.get("AUTH_TRUSTED_PROXIES") or 0)
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.session_interface = DbSessionInterface()
    # the guard calls csrf.protect() itself, so it can skip bearer-token API requests
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the session's own limits apply
    guard.csrf.init_app(app)
    app.register_blueprint(bp)
    app.before_request_funcs.setdefault(None, []).insert(0, guard.guard)
    app.after_request(guard.security_headers)
    app.register_error_handler(PermissionDenied, guard.permission_denied)
    app.register_error_handler(HTTPException, guard.error_response)
    app.register_error_handler(Exception, guard.unexpected_error)


def now() -> Any:
    """The current time from the current app's clock (views and services in a request)."""
    from flask import current_app

    return get_clock(current_app).now()
