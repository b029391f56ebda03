"""Access policy: a pure function from (ACL view, door, presentation, time, recent) to a decision.

No I/O, no clock: ``now`` is passed in, the ACL arrives as a read-only view, and the short
memory the rules need (the escort's grant, the wrong PINs before this one) arrives as
``recent``. Every refusal carries a reason from :data:`link.messages.DENY_REASONS`.

Order of the checks (the first failing one names the refusal):

1. the read itself (``bad_read``), the door (``door_unknown``), the card (``unknown_card``);
2. the card and its holder (``revoked``, ``inactive_holder``);
3. visitors at a door that takes none (``visitor_not_allowed``);
4. the holder's groups that hold this door (``no_access_to_door``);
5. lockdown, a stale ACL, an untrusted clock narrow those groups (``lockdown``, ``stale_acl``,
   ``clock_untrusted``);
6. schedules and holidays in the building's zone (``holiday``, ``outside_schedule``);
7. the escort rule (``escort_required``);
8. the PIN on card + PIN doors (``pin_required``, ``pin_timeout``, ``wrong_pin``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from link.messages import DENY_REASONS, AclDoor, AclGroup, AclHoliday, AclWindow

#: Wrong PINs in a row (for one card) that raise an alert.
WRONG_PIN_ALERT = 3
#: Wrong PINs older than this are forgotten.
WRONG_PIN_MEMORY_S = 600
#: Shortest and longest PIN a keypad may send.
PIN_MIN_DIGITS = 4
PIN_MAX_DIGITS = 12

_CRED_RE = re.compile(r"^[0-9a-f]{64}$")
_PIN_RE = re.compile(r"^[0-9]+$")

_INACTIVE_CRED = frozenset({"revoked", "lost", "suspended"})


# --------------------------------------------------------------------------- ACL records
@dataclass(frozen=True, slots=True)
class Pin:
    """A PIN as stored: PBKDF2-SHA256 over the ASCII digits, salt given in hex."""

    salt: str
    hash: str
    iterations: int


@dataclass(frozen=True, slots=True)
class Credential:
    """One card as the policy sees it (the compact form the cache keeps in memory)."""

    cred: str
    holder: str
    holder_status: str = "active"
    status: str = "active"
    groups: tuple[str, ...] = ()
    escort_required: bool = False
    can_escort: bool = False
    pin: Pin | None = None


@dataclass(frozen=True, slots=True)
class Window:
    """A weekly window in minutes since local midnight; ``end < start`` runs past midnight."""

    days: frozenset[int]
    start_min: int
    end_min: int

    def contains(self, weekday: int, minute: int) -> bool:
        """True when local (weekday, minute-of-day) falls inside the window."""
        if self.start_min < self.end_min:
            return weekday in self.days and self.start_min <= minute < self.end_min
        if self.start_min > self.end_min:
            # Overnight: the part after start belongs to the listed day, the part before
            # end to the day after it.
            if weekday in self.days and minute >= self.start_min:
                return True
            return (weekday - 1) % 7 in self.days and minute < self.end_min
        return False


@dataclass(frozen=True, slots=True)
class Group:
    """An access group: its doors, when they open, and its two special flags."""

    group: str
    doors: frozenset[str]
    windows: tuple[Window, ...] = ()
    always: bool = False
    responder: bool = False


@dataclass(frozen=True, slots=True)
class Holiday:
    """A closed day: for every non-24/7 group, or only for ``groups`` when given."""

    day: date
    groups: frozenset[str] = frozenset()

    def closes(self, group: str) -> bool:
        """True when this holiday closes ``group``."""
        return not self.groups or group in self.groups


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def window_from(acl: AclWindow) -> Window:
    """A :class:`Window` from its wire form."""
    return Window(frozenset(acl.days), _minutes(acl.start), _minutes(acl.end))


def group_from(acl: AclGroup) -> Group:
    """A :class:`Group` from its wire form."""
    return Group(acl.group, frozenset(acl.doors), tuple(window_from(w) for w in acl.windows),
                 acl.always, acl.responder)


def holiday_from(acl: AclHoliday) -> Holiday:
    """A :class:`Holiday` from its wire form."""
    return Holiday(date.fromisoformat(acl.date), frozenset(acl.groups))


class AclView(Protocol):
    """What the policy reads from the credential cache."""

    @property
    def tz(self) -> ZoneInfo:
        """The building's IANA zone."""

    @property
    def lockdown(self) -> bool:
        """True while a lockdown is in force."""

    @property
    def last_sync_at(self) -> datetime | None:
        """UTC time of the last successful ACL sync, None if never."""

    def door(self, door: str) -> AclDoor | None:
        """The door's rules, or None if this ACL does not know it."""

    def group(self, group: str) -> Group | None:
        """An access group by name."""

    def holidays_on(self, day: date) -> Sequence[Holiday]:
        """Holidays falling on a local date."""

    def credential(self, cred: str) -> Credential | None:
        """A card by its HMAC hex."""


@dataclass(frozen=True)
class StaticView:
    """An :class:`AclView` over plain mappings (tests, benchmarks, snapshots in memory)."""

    tz: ZoneInfo
    doors: Mapping[str, AclDoor]
    groups: Mapping[str, Group]
    credentials: Mapping[str, Credential]
    holidays: Mapping[date, tuple[Holiday, ...]] = field(default_factory=dict)
    lockdown: bool = False
    last_sync_at: datetime | None = None

    def door(self, door: str) -> AclDoor | None:
        """The door's rules."""
        return self.doors.get(door)

    def group(self, group: str) -> Group | None:
        """An access group by name."""
        return self.groups.get(group)

    def holidays_on(self, day: date) -> Sequence[Holiday]:
        """Holidays on a local date."""
        return self.holidays.get(day, ())

    def credential(self, cred: str) -> Credential | None:
        """A card by its HMAC hex."""
        return self.credentials.get(cred)


# --------------------------------------------------------------------------- inputs and output
@dataclass(frozen=True, slots=True)
class Presentation:
    """A card (and, on card + PIN doors, the PIN that followed it)."""

    cred: str | None
    pin: str | None = None
    #: when the card was read; the PIN must follow within the door's pin_timeout_s
    card_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Recent:
    """A recent outcome at this controller that later decisions depend on."""

    at: datetime
    door: str
    cred: str
    holder: str
    outcome: Literal["granted", "wrong_pin"]
    can_escort: bool = False
    escort_required: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's answer; ``reason`` is a DENY_REASONS word when not granted."""

    granted: bool
    door: str
    reason: str | None = None
    cred: str | None = None
    holder: str | None = None
    escort_by: str | None = None
    via: Literal["card", "card_pin"] = "card"
    #: the card passed every rule but the PIN, which has not been entered yet
    is_awaiting_pin: bool = False
    unlock_s: int = 0
    severity: Literal["info", "warning", "critical"] = "info"
    #: "wrong_pins" when this refusal raises the wrong-PIN alert
    alert: str | None = None
    pin_failures: int = 0
    can_escort: bool = False
    escort_required: bool = False
    #: a short word for logs (never a PIN or a UID)
    detail: str = ""

    def __post_init__(self) -> None:
        if not self.granted and self.reason not in DENY_REASONS:
            raise ValueError(f"deny reason {self.reason!r} is not in DENY_REASONS")
        if self.granted and self.reason is not None:
            raise ValueError("a grant carries no deny reason")


# --------------------------------------------------------------------------- helpers
def hash_pin(pin: str, salt_hex: str, iterations: int) -> str:
    """PBKDF2-HMAC-SHA256 of the PIN's ASCII digits under the hex salt, as hex."""
    return hashlib.pbkdf2_hmac("sha256", pin.encode("ascii"), bytes.fromhex(salt_hex),
                               iterations).hex()


def pin_matches(pin: str, stored: Pin) -> bool:
    """True when ``pin`` hashes to the stored value (constant-time compare)."""
    return hmac.compare_digest(hash_pin(pin, stored.salt, stored.iterations), stored.hash)


def is_stale(view: AclView, door: AclDoor, now: datetime) -> bool:
    """True when no ACL sync has succeeded within the door's stale limit."""
    last = view.last_sync_at
    if last is None:
        return True
    return now - last > timedelta(seconds=door.stale_limit_s)


def _open_groups(groups: Iterable[Group], view: AclView, now: datetime
                 ) -> tuple[list[Group], bool]:
    """Groups whose schedule admits ``now``, and whether a holiday shut any of them."""
    local = now.astimezone(view.tz)
    weekday, minute = local.weekday(), local.hour * 60 + local.minute
    # An overnight window that began yesterday is governed by yesterday's holidays.
    today = view.holidays_on(local.date())
    yesterday = view.holidays_on(local.date() - timedelta(days=1))
    open_now: list[Group] = []
    holiday_hit = False
    for group in groups:
        if group.always:
            open_now.append(group)
            continue
        for window in group.windows:
            if not window.contains(weekday, minute):
                continue
            began_yesterday = window.start_min > window.end_min and minute < window.end_min
            closed_by = yesterday if began_yesterday else today
            if any(h.closes(group.group) for h in closed_by):
                holiday_hit = True
                continue
            open_now.append(group)
            break
    return open_now, holiday_hit


def _escort(view_door: AclDoor, recent: Sequence[Recent], card_at: datetime) -> Recent | None:
    """The latest approved escort granted at this door within its escort window."""
    earliest = card_at - timedelta(seconds=view_door.escort_window_s)
    best: Recent | None = None
    for item in recent:
        if (item.outcome == "granted" and item.door == view_door.door and item.can_escort
                and not item.escort_required and earliest <= item.at <= card_at
                and (best is None or item.at > best.at)):
            best = item
    return best


def _pin_failures(cred: str, recent: Sequence[Recent], now: datetime) -> int:
    """Wrong PINs for ``cred`` since its last grant, within the memory window."""
    earliest = now - timedelta(seconds=WRONG_PIN_MEMORY_S)
    last_grant: datetime | None = None
    for item in recent:
        if item.cred == cred and item.outcome == "granted":
            if last_grant is None or item.at > last_grant:
                last_grant = item.at
    count = 0
    for item in recent:
        if (item.cred == cred and item.outcome == "wrong_pin" and item.at >= earliest
                and (last_grant is None or item.at > last_grant)):
            count += 1
    return count


# --------------------------------------------------------------------------- the decision
def decide(view: AclView, door: str, presentation: Presentation, now: datetime,
           recent: Sequence[Recent] = (), *, is_clock_trusted: bool) -> Decision:
    """Grant or refuse ``presentation`` at ``door`` at UTC time ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware UTC datetime")
    cred_id = presentation.cred
    if cred_id is None or not _CRED_RE.match(cred_id):
        return Decision(False, door, "bad_read", detail="not a card HMAC")
    rules = view.door(door)
    if rules is None:
        return Decision(False, door, "door_unknown", cred=cred_id)
    card = view.credential(cred_id)
    if card is None:
        return Decision(False, door, "unknown_card", cred=cred_id)

    def deny(reason: str, **extra: object) -> Decision:
        return Decision(False, door, reason, cred=cred_id, holder=card.holder,
                        can_escort=card.can_escort, escort_required=card.escort_required,
                        **extra)  # type: ignore[arg-type]

    if card.status in _INACTIVE_CRED:
        # A revoked, lost or suspended card at a door is an alert in itself.
        return deny("revoked", severity="warning", detail=card.status)
    if card.status != "active":
        return deny("revoked", severity="warning", detail=f"status {card.status}")
    if card.holder_status != "active":
        return deny("inactive_holder", detail=card.holder_status)

    needs_escort = False
    if card.escort_required:
        # Records rooms never admit an unescorted visitor, whatever the door says (VII.B).
        policy = rules.visitor_policy
        if policy == "allow" and rules.kind == "records_room":
            policy = "escort"
        if policy == "deny":
            return deny("visitor_not_allowed")
        needs_escort = policy == "escort"

    groups = [g for g in (view.group(name) for name in card.groups)
              if g is not None and door in g.doors]
    if not groups:
        return deny("no_access_to_door")
    if view.lockdown:
        groups = [g for g in groups if g.responder]
        if not groups:
            return deny("lockdown")
    if is_stale(view, rules, now):
        groups = [g for g in groups if g.responder]
        if not groups:
            return deny("stale_acl")
    if not is_clock_trusted:
        groups = [g for g in groups if g.always]
        if not groups:
            return deny("clock_untrusted")
    else:
        groups, holiday_hit = _open_groups(groups, view, now)
        if not groups:
            return deny("holiday" if holiday_hit else "outside_schedule")

    card_at = presentation.card_at or now
    escort_by: str | None = None
    if needs_escort:
        escort = _escort(rules, recent, card_at)
        if escort is None:
            return deny("escort_required")
        escort_by = escort.holder

    via: Literal["card", "card_pin"] = "card"
    if rules.mode == "card_pin":
        via = "card_pin"
        if card.pin is None:
            return deny("pin_required", detail="no PIN enrolled")
        if presentation.pin is None:
            return deny("pin_required", is_awaiting_pin=True, escort_by=escort_by,
                        unlock_s=rules.strike_s)
        if now - card_at > timedelta(seconds=rules.pin_timeout_s):
            return deny("pin_timeout")
        pin = presentation.pin
        if (not _PIN_RE.match(pin) or not PIN_MIN_DIGITS <= len(pin) <= PIN_MAX_DIGITS
                or not pin_matches(pin, card.pin)):
            failures = _pin_failures(cred_id, recent, now) + 1
            alert = "wrong_pins" if failures >= WRONG_PIN_ALERT else None
            detail = "pin not digits" if not _PIN_RE.match(pin) else "pin mismatch"
            return deny("wrong_pin", pin_failures=failures, alert=alert,
                        severity="warning" if alert else "info", detail=detail)

    return Decision(True, door, None, cred=cred_id, holder=card.holder, escort_by=escort_by,
                    via=via, unlock_s=rules.strike_s, can_escort=card.can_escort,
                    escort_required=card.escort_required)
