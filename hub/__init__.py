"""The hub: the district's source of truth, its web UI, JSON API, MQTT bridge and PKI.

Owns the database (``hub.db``, ``hub.models``), use-cases (``hub.services``), the JSON API
(``hub.api``), the web pages (``hub.web``), the MQTT bridge (``hub.bridge``) and the worker
processes that open its envelopes (``hub.ingest_pool``), the district CA (``hub.pki``) and the
``gatehouse-hub`` command (``hub.cli``). Accounts, sessions and roles live in ``hub.auth``
(issue 6); visitors, the watch list and pool visitor cards in ``hub.visitors`` (issue 7).

Imports ``link`` only: never ``hardware``, ``controller`` or ``kiosk``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from hub import config as _config
from hub import db as _db


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the hub's Flask application (flaskr-style factory)."""
    app = Flask(__name__)
    app.config.from_object(_config.Config)
    if test_config is None:
        app.config.update(_config.from_environment())
    else:
        app.config.update(test_config)
    _db.init_app(app)

    from hub import api, web
    from hub.api import views as api_views
    from hub.web import views as web_views

    # Declared per app (idempotent), so a permission table reset between tests cannot lose them.
    api_views.declare_endpoints()
    web_views.declare_endpoints()
    app.register_blueprint(api.bp)
    app.register_blueprint(web.bp)
    _init_auth(app)
    return app


def _init_auth(app: Flask) -> None:
    # hub.auth (issue 6) installs sign-in, MFA, sessions, CSRF and the guard that checks every
    # endpoint declared with hub.auth.permissions.declare (an undeclared one is refused).
    from hub import auth
    from hub.visitors import views as visitor_views

    auth.init_app(app)
    visitor_views.init_app(app)  # the front desk's pages (held sign-ins, on-site list, watch list)
