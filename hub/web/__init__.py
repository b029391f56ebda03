"""The principal's and front desk's pages: master list, person and termination, devices.

Thin views over ``hub.services``; sign-in, CSRF and the role/building checks come from
``hub.auth`` (every endpoint is declared in its permission table). Templates carry no inline
script (the CSP forbids it): the revocation page polls with ``static/revocation.js``.
Must not import ``hardware``, ``controller`` or ``kiosk``.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/web")

from hub.web import views  # noqa: E402,F401  (registers the routes on bp)
