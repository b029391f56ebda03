"""The one permission table of the hub: who may do what, in which building.

Pure: no Flask, no database. Three layers use it:

* :data:`ACTIONS` says, per action, which roles hold it, and whether it changes the hub's
  records, shows a secret, or needs a fresh re-authentication;
* :data:`ENDPOINTS` maps each Flask endpoint (per HTTP method) to an action and says where the
  building comes from (a URL argument naming a building, or an object id that a resolver turns
  into buildings); the before-request hook in :mod:`hub.auth.guard` checks every request against
  it, and an endpoint missing from the table is refused (fail secure);
* :func:`require` is the same check for service calls: ``require(actor, "people.write", "hs-1")``.

Other hub packages add their endpoints with :func:`declare` (next to their blueprint) and their
object resolvers with :func:`register_resolver`; they never write a role check of their own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    """The four hub roles."""

    PRIVACY_TEAM = "privacy_team"
    PRINCIPAL = "principal"
    FRONT_DESK = "front_desk"
    AUDITOR = "auditor"


#: roles whose scope is the whole district (they hold no building list)
DISTRICT_WIDE = frozenset({Role.PRIVACY_TEAM, Role.AUDITOR})
BUILDING_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

PT, PR, FD, AU = Role.PRIVACY_TEAM, Role.PRINCIPAL, Role.FRONT_DESK, Role.AUDITOR
EVERYONE = (PT, PR, FD, AU)


@dataclass(frozen=True)
class Grant:
    """Who holds an action and what kind of action it is."""

    roles: frozenset[Role]
    summary: str
    write: bool = False
    secret: bool = False
    reauth: bool = False
    self_service: bool = False
    token_ok: bool = True

    def __post_init__(self) -> None:
        # The auditor is read-only and never sees a secret: the table itself refuses otherwise.
        if AU in self.roles and self.secret:
            raise ValueError("the auditor role can never hold a secret action")
        if AU in self.roles and self.write and not self.self_service:
            raise ValueError("the auditor role can never hold a write action")
        if self.secret and not self.reauth:
            raise ValueError("every secret action needs re-authentication")
        if self.secret and self.token_ok:
            raise ValueError("no API token may ever read a secret")


def _g(roles: Iterable[Role], summary: str, **kw: bool) -> Grant:
    return Grant(frozenset(roles), summary, **kw)


#: action -> grant; the vocabulary every endpoint and service call uses.
ACTIONS: dict[str, Grant] = {
    # one's own account (password, second factors, sessions): every role, own record only
    "self.read": _g(EVERYONE, "see one's own account and sessions", self_service=True, token_ok=False),
    "self.manage": _g(EVERYONE, "change one's own password, second factors, sessions",
                      write=True, self_service=True, token_ok=False),
    "self.secure": _g(EVERYONE, "add or remove one's own second factors or recovery codes",
                      write=True, reauth=True, self_service=True, token_ok=False),
    # accounts of others
    "account.read": _g((PT, AU), "list hub accounts, roles and scopes", token_ok=False),
    "account.manage": _g((PT,), "invite, disable, re-scope accounts; end their sessions",
                         write=True, reauth=True, token_ok=False),
    "token.manage": _g((PT,), "create and revoke API tokens", write=True, reauth=True, token_ok=False),
    # audit
    "audit.read": _g((PT, PR, AU), "read the audit log (principals: their buildings)"),
    "audit.verify": _g((PT, AU), "verify the audit hash chain"),
    # buildings and devices
    "building.read": _g(EVERYONE, "see buildings in scope"),
    "building.manage": _g((PT,), "create and change buildings, holidays, closures", write=True),
    "device.read": _g((PT, PR, AU), "see devices and their state"),
    "device.manage": _g((PT,), "provision, revoke devices and certificates", write=True, reauth=True),
    "door.read": _g((PT, PR, FD, AU), "see doors and their live state"),
    "door.manage": _g((PT, PR), "change doors, access groups and schedules", write=True),
    # people and the master list
    "people.read": _g((PT, PR, AU), "see staff, vendors and custodial people"),
    "people.write": _g((PT, PR), "add and change people; HR import", write=True),
    "person.terminate": _g((PT, PR), "terminate a person and revoke every credential",
                           write=True, reauth=True),
    "credential.read": _g((PT, PR, AU), "see the master list without secrets"),
    "credential.write": _g((PT, PR), "issue, return, mark lost keys, keycards and codes", write=True),
    "credential.export": _g((PT, PR), "print or export a building's whole master list (audited)"),
    "secret.view": _g((PT, PR), "reveal a keypad code or lock combination",
                      secret=True, reauth=True, token_ok=False),
    "secret.write": _g((PT, PR), "set a keypad code or lock combination",
                       write=True, secret=True, reauth=True, token_ok=False),
    "revocation.read": _g((PT, PR, AU), "see a revocation's per-door state"),
    # events, alerts, incidents, reviews
    "event.read": _g((PT, PR, FD, AU), "search access and door events"),
    "alert.read": _g((PT, PR, FD, AU), "see alerts"),
    "alert.manage": _g((PT, PR, FD), "acknowledge and close alerts", write=True),
    "incident.read": _g((PT, AU), "see incidents and breach-notification drafts"),
    "incident.manage": _g((PT,), "open incidents, draft breach notifications", write=True),
    "review.read": _g((PT, PR, AU), "see the annual access review"),
    "review.manage": _g((PT, PR), "re-approve or remove access in the annual review", write=True),
    "retention.manage": _g((PT,), "set retention rules, run disposal", write=True, reauth=True),
    "report.read": _g((PT, PR, AU), "run reports and exports"),
    # the front desk
    "visitor.read": _g((PT, PR, FD, AU), "see visits and who is on site"),
    "visitor.manage": _g((PT, PR, FD), "approve held sign-ins, sign visitors out", write=True),
    "roster.read": _g((PT, PR, FD, AU), "print the emergency roster"),
    "lockdown.manage": _g((PT, PR, FD), "start or end a lockdown", write=True, reauth=True),
}

#: the pseudo-actions of endpoints that need no action check
PUBLIC = "public"  # reachable without signing in (login form, static files, invitation link)
PARTIAL = "partial"  # reachable after the password, before the second factor
SIGNED_IN = "signed_in"  # any fully signed-in account (its own pages); same as self.read


@dataclass(frozen=True)
class EndpointRule:
    """How one Flask endpoint is guarded."""

    actions: Mapping[str, str]  # HTTP method -> action (or PUBLIC / PARTIAL); "*" for any
    building_arg: str | None = None  # URL argument that is a building id
    object_arg: str | None = None  # URL argument resolved to buildings by a resolver
    api: bool = False  # bearer-token only, no cookie session, no CSRF

    def action_for(self, method: str) -> str | None:
        """Return the action for an HTTP method (HEAD is GET, OPTIONS is refused)."""
        if method == "HEAD":
            method = "GET"
        return self.actions.get(method, self.actions.get("*"))


#: endpoint -> rule. Filled by :func:`declare` calls (the auth endpoints are below).
ENDPOINTS: dict[str, EndpointRule] = {}

#: URL argument -> resolver(session, value) -> buildings of that object, or None when absent
RESOLVERS: dict[str, Callable[[Any, str], frozenset[str] | None]] = {}


def declare(
    endpoint: str,
    actions: str | Mapping[str, str],
    *,
    building_arg: str | None = None,
    object_arg: str | None = None,
    api: bool | None = None,
) -> None:
    """Add ``endpoint`` to the table: ``declare("web.people", {"GET": "people.read", "POST": "people.write"})``.

    ``api`` defaults to True for endpoints of the ``api`` blueprint (``api.*``).
    """
    mapping = {"*": actions} if isinstance(actions, str) else dict(actions)
    for method, action in mapping.items():
        if action not in ACTIONS and action not in (PUBLIC, PARTIAL, SIGNED_IN):
            raise KeyError(f"{endpoint}: unknown action {action!r} for {method}")
    if api is None:
        api = endpoint.startswith("api.")
    if api:
        for action in mapping.values():
            if action in (PUBLIC, PARTIAL, SIGNED_IN):
                continue
            if not ACTIONS[action].token_ok:
                raise ValueError(f"{endpoint}: action {action} is never available to API tokens")
    ENDPOINTS[endpoint] = EndpointRule(mapping, building_arg, object_arg, api)


def register_resolver(view_arg: str, resolver: Callable[[Any, str], frozenset[str] | None]) -> None:
    """Teach the guard how to find the buildings of an object named by a URL argument."""
    RESOLVERS[view_arg] = resolver


@dataclass(frozen=True)
class Actor:
    """Who is acting: an account in a session, an API token, or the console (CLI)."""

    account_id: int | None
    username: str
    role: Role
    buildings: frozenset[str] = frozenset()
    via: str = "session"  # "session", "token" or "console"
    token_actions: frozenset[str] | None = None  # a token's own narrower action list
    token_id: int | None = None

    @property
    def is_district_wide(self) -> bool:
        """True for roles that see every building."""
        return self.role in DISTRICT_WIDE

    @property
    def label(self) -> str:
        """How the actor is named in the audit log."""
        if self.via == "token":
            return f"token:{self.token_id}:{self.username}"
        if self.via == "console":
            return f"console:{self.username}"
        return self.username


@dataclass(frozen=True)
class Decision:
    """The answer of :func:`decide`: allowed, or refused with a reason and an HTTP status."""

    allowed: bool
    reason: str = ""
    status: int = 200


def decide(actor: Actor | None, action: str, buildings: Iterable[str] | str | None = None) -> Decision:
    """Decide whether ``actor`` may do ``action`` in ``buildings`` (None: not tied to one)."""
    if actor is None:
        return Decision(False, "not_signed_in", 401)
    grant = ACTIONS.get(action)
    if grant is None:
        return Decision(False, "unknown_action", 403)
    if actor.role not in grant.roles:
        return Decision(False, "role", 403)
    if actor.via == "token":
        if not grant.token_ok:
            return Decision(False, "token_not_allowed", 403)
        if actor.token_actions is not None and action not in actor.token_actions:
            return Decision(False, "token_scope", 403)
    if buildings is None:
        return Decision(True)
    wanted = frozenset({buildings}) if isinstance(buildings, str) else frozenset(buildings)
    if actor.is_district_wide:
        return Decision(True)
    if not wanted:
        # an object that belongs to no building is district business
        return Decision(False, "building_scope", 403)
    if wanted & actor.buildings:
        return Decision(True)
    return Decision(False, "building_scope", 403)


class PermissionDenied(PermissionError):
    """An actor asked for something outside its role or buildings."""

    def __init__(self, decision: Decision, action: str) -> None:
        super().__init__(f"{action}: {decision.reason}")
        self.reason = decision.reason
        self.status = decision.status
        self.action = action


def require(actor: Actor | None, action: str, building: Iterable[str] | str | None = None) -> None:
    """Raise :class:`PermissionDenied` unless ``actor`` may do ``action`` in ``building``."""
    decision = decide(actor, action, building)
    if not decision.allowed:
        raise PermissionDenied(decision, action)


def visible_buildings(actor: Actor) -> frozenset[str] | None:
    """Return the buildings a list query must be limited to, or None for the whole district."""
    return None if actor.is_district_wide else actor.buildings


def roles_for(action: str) -> frozenset[Role]:
    """Return the roles that hold ``action``."""
    return ACTIONS[action].roles


# The accounts layer's own endpoints (blueprint "auth").
for _endpoint, _actions in {
    "static": PUBLIC,
    "auth.static": PUBLIC,
    "auth.login": PUBLIC,
    "auth.invitation": PUBLIC,
    "auth.invitation_totp": PUBLIC,
    "auth.invitation_webauthn_begin": PUBLIC,
    "auth.invitation_webauthn_finish": PUBLIC,
    "auth.second_factor": PARTIAL,
    "auth.webauthn_login_begin": PARTIAL,
    "auth.webauthn_login_finish": PARTIAL,
    "auth.logout": {"POST": PARTIAL},
    "auth.password_change": {"GET": SIGNED_IN, "POST": "self.manage"},
    "auth.reauth": {"GET": SIGNED_IN, "POST": "self.manage"},
    "auth.session_extend": {"POST": SIGNED_IN},
    "auth.session_status": {"GET": PUBLIC},
    "auth.recovery_codes_show": {"GET": SIGNED_IN},
    "auth.account": SIGNED_IN,
    "auth.logout_everywhere": {"POST": "self.manage"},
    "auth.totp_setup": {"GET": "self.secure", "POST": "self.secure"},
    "auth.webauthn_register_begin": {"POST": "self.secure"},
    "auth.webauthn_register_finish": {"POST": "self.secure"},
    "auth.webauthn_remove": {"POST": "self.secure"},
    "auth.recovery_codes": {"POST": "self.secure"},
    "auth.accounts": "account.read",
    "auth.account_invite": {"GET": "account.manage", "POST": "account.manage"},
    "auth.account_disable": {"POST": "account.manage"},
    "auth.account_sessions_end": {"POST": "account.manage"},
    "auth.account_scope": {"POST": "account.manage"},
    "auth.audit_log": "audit.read",
    "auth.audit_verify": {"POST": "audit.verify"},
}.items():
    declare(_endpoint, _actions)
