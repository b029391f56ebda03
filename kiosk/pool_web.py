"""The kiosk's staff page for pool visitor cards (ADR 0003): ``/staff/pool``, behind the staff PIN.

Staff tap a visitor signed in here (shown as "First L." and time in, nothing more) and type
the number printed on the card; the hub activates it or says why not. Registered by
:func:`kiosk.web.create_app`. No inline script (the kiosk's CSP).
"""

from __future__ import annotations

import logging

from flask import Blueprint, redirect, request, url_for
from flask_babel import lazy_gettext as _l

from kiosk import pool
from kiosk.web import _kiosk, _page, _staff_ok

log = logging.getLogger("gatehouse.kiosk.web")

bp = Blueprint("kiosk_pool", __name__)

#: What staff can be told about a card, by the key :mod:`kiosk.pool` answers with.
MESSAGES = {
    "pool_lent": _l("Card %(card)s is active for %(label)s until %(until)s."),
    "pool_bad_number": _l("Type the number printed on the card (1 to 9999)."),
    "pool_disabled": _l("This building does not lend visitor cards."),
    "pool_unknown_card": _l("Card %(card)s is not one of the district's visitor cards."),
    "pool_other_building": _l("Card %(card)s belongs to another building. Use one of this building's cards."),
    "pool_in_use": _l("Card %(card)s is already lent, or this visitor already holds a card."),
    "pool_retired": _l("Card %(card)s has been taken out of use (retired or lost)."),
    "pool_held": _l("This sign-in is waiting for the front desk: no card until it is cleared."),
    "pool_visit_closed": _l("This visit is over or unknown: no card can be lent to it."),
    "pool_offline": _l("The hub is not answering, so no card can be activated now. The visit goes on "
                       "without one: the printed badge is enough."),
    "pool_refused": _l("The hub refused to activate the card."),
}


def _message(outcome) -> str:
    text = MESSAGES.get(outcome.message)
    if text is None:
        return ""
    return str(text) % {"card": outcome.data.get("card", ""), "label": outcome.label,
                        "until": outcome.data.get("until", "")}


@bp.route("/staff/pool", methods=["GET", "POST"])
def staff_pool():
    """Lend a numbered visitor card to a visitor signed in at this kiosk."""
    if not _staff_ok():
        return redirect(url_for("kiosk.staff_login"))
    kiosk = _kiosk()
    message, ok = None, False
    if request.method == "POST":
        outcome = pool.lend(kiosk, request.form.get("visit", "")[:64], request.form.get("card", "")[:12])
        message, ok = _message(outcome), outcome.kind == "ok"
    elif not pool.is_enabled(kiosk):
        message = str(MESSAGES["pool_disabled"])
    return _page("pool.html", message=message, ok=ok, enabled=pool.is_enabled(kiosk),
                 hub_connected=kiosk.gateway.is_connected(), visits=pool.candidates(kiosk),
                 zone=kiosk.zone(), offline_note=str(MESSAGES["pool_offline"]))
