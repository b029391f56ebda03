"""The JSON API under ``/api/v1``: bearer tokens scoped to a role and buildings.

Every endpoint is declared in the permission table of ``hub.auth`` (the guard checks the token,
the role and the building before the view runs); views parse input, call ``hub.services`` and
serialise. Every error is a 4xx JSON body ``{"error", "message", "field"?, "details"?}`` from
:func:`api_error`. Must not import ``hardware``, ``controller`` or ``kiosk``.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from hub.api import views  # noqa: E402,F401  (registers the routes on bp)
