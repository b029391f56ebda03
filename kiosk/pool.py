"""Pool visitor cards at the kiosk (ADR 0003): front-desk staff lend a numbered card to a visitor.

The flow: the visitor signs in and the badge prints as always. If the building lends cards (the
hub's directory says ``pool_cards``), staff open **Staff -> Visitor cards** (PIN), tap the
visitor (only visits signed in here and on site are offered, as "First L." and time in), type
the number printed on the card and tap **Activate**. Only the hub can activate a card: it
checks the visit was cleared, the card is this building's and free, and pushes it to the doors.
When the hub does not answer, nothing is activated and staff are told so: the visit goes on
without a card. Sign-out deactivates the card at the hub; the goodbye screen asks the visitor
to hand it back.

:func:`parse_card_number` is pure; :func:`lend` does the one request through the kiosk's gateway.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import ValidationError

from kiosk.hublink import new_corr
from link import visits as wire

if TYPE_CHECKING:
    from kiosk.service import Kiosk, Outcome
    from kiosk.store import RosterVisit

log = logging.getLogger("gatehouse.kiosk.pool")

_NUMBER = re.compile(r"^\s*#?\s*0*([1-9][0-9]{0,3})\s*$")

#: hub error word -> the staff message key (see kiosk.pool_web.MESSAGES)
HUB_ERRORS = {
    "pool_disabled": "pool_disabled", "unknown_card": "pool_unknown_card",
    "card_other_building": "pool_other_building", "card_in_use": "pool_in_use",
    "card_retired": "pool_retired", "visit_held": "pool_held", "visit_closed": "pool_visit_closed",
    "not_found": "pool_visit_closed",
}


def parse_card_number(text: str | None) -> int | None:
    """The number typed by staff (``7``, ``007``, ``#7``), 1 to 9999, or None."""
    if not text or len(text) > 12:
        return None
    match = _NUMBER.match(text)
    return int(match.group(1)) if match else None


def is_enabled(kiosk: Kiosk) -> bool:
    """True when the building lends pool cards (from the cached directory)."""
    return kiosk.directory().pool_cards


def candidates(kiosk: Kiosk) -> list[RosterVisit]:
    """Visits signed in at this kiosk and on site: the ones a card may be lent to."""
    return [v for v in kiosk.store.on_site() if v.state == "on_site"]


def lend(kiosk: Kiosk, visit_id: str, number_text: str | None) -> Outcome:
    """Ask the hub to activate card ``number_text`` for ``visit_id``; staff see the outcome."""
    from kiosk.service import Outcome  # NOTE: lazy, kiosk.service may import this module

    number = parse_card_number(number_text)
    if number is None:
        return Outcome("error", "pool_bad_number")
    if not is_enabled(kiosk):
        return Outcome("error", "pool_disabled")
    local = kiosk.store.get(visit_id) if visit_id else None
    if local is None:
        return Outcome("error", "pool_visit_closed")
    if local.state == "held":
        # Screening has not cleared this visitor: no card, whatever the hub would say.
        return Outcome("error", "pool_held")
    if local.state != "on_site":
        return Outcome("error", "pool_visit_closed")
    try:
        body = wire.PoolAssign(corr=new_corr(), visit=visit_id, card=number)
    except ValidationError:
        return Outcome("error", "pool_visit_closed")
    response = kiosk.gateway.request(body, kiosk.hub_timeout_s)
    if response is None:
        log.warning("pool card not lent visit=%s card=%d reason=hub_away", visit_id, number)
        return Outcome("error", "pool_offline", visit=visit_id, data={"card": number})
    if not response.ok:
        log.info("pool card refused visit=%s card=%d reason=%s", visit_id, number, response.error)
        return Outcome("error", HUB_ERRORS.get(response.error or "", "pool_refused"), visit=visit_id,
                       data={"card": number})
    try:
        result = wire.PoolAssignResult.model_validate(response.data)
    except ValidationError:
        log.warning("hub answered pool_assign with bad data visit=%s", visit_id)
        return Outcome("error", "pool_refused", visit=visit_id, data={"card": number})
    local_until = datetime.fromisoformat(result.expires_at.replace("Z", "+00:00")).astimezone(kiosk.zone())
    log.info("pool card lent visit=%s card=%d doors=%d", visit_id, number, result.doors)
    return Outcome("ok", "pool_lent", visit=visit_id, label=local.label,
                   data={"card": number, "until": local_until.strftime("%H:%M"), "doors": result.doors})
