"""The permission table itself: the role matrix, spelled out so any change is a visible diff."""

from __future__ import annotations

import pytest

from hub.auth.permissions import (
    ACTIONS,
    Actor,
    Grant,
    PermissionDenied,
    Role,
    declare,
    decide,
    require,
    visible_buildings,
)

# P = privacy_team, R = principal, F = front_desk, A = auditor
EXPECTED = {
    "self.read": "PRFA", "self.manage": "PRFA", "self.secure": "PRFA",
    "account.read": "PA", "account.manage": "P", "token.manage": "P",
    "audit.read": "PRA", "audit.verify": "PA",
    "building.read": "PRFA", "building.manage": "P",
    "device.read": "PRA", "device.manage": "P",
    "door.read": "PRFA", "door.manage": "PR",
    "people.read": "PRA", "people.write": "PR", "person.terminate": "PR",
    "credential.read": "PRA", "credential.write": "PR", "credential.export": "PR",
    "secret.view": "PR", "secret.write": "PR", "revocation.read": "PRA",
    "event.read": "PRFA", "alert.read": "PRFA", "alert.manage": "PRF",
    "incident.read": "PA", "incident.manage": "P",
    "review.read": "PRA", "review.manage": "PR", "retention.manage": "P", "report.read": "PRA",
    "visitor.read": "PRFA", "visitor.manage": "PRF", "roster.read": "PRFA",
    "lockdown.manage": "PRF",
}
LETTER = {"P": Role.PRIVACY_TEAM, "R": Role.PRINCIPAL, "F": Role.FRONT_DESK, "A": Role.AUDITOR}
REAUTH = {"self.secure", "account.manage", "token.manage", "device.manage", "person.terminate",
          "secret.view", "secret.write", "retention.manage", "lockdown.manage"}


def test_table_matches_the_written_matrix() -> None:
    actual = {action: "".join(k for k, r in LETTER.items() if r in grant.roles)
              for action, grant in ACTIONS.items()}
    assert actual == EXPECTED


def test_sensitive_actions_need_reauthentication() -> None:
    assert {a for a, g in ACTIONS.items() if g.reauth} == REAUTH


def test_auditor_never_writes_nor_sees_secrets() -> None:
    for action, grant in ACTIONS.items():
        if Role.AUDITOR in grant.roles:
            assert not grant.secret, action
            assert not grant.write or grant.self_service, action
    with pytest.raises(ValueError):
        Grant(frozenset({Role.AUDITOR}), "x", secret=True, reauth=True, token_ok=False)
    with pytest.raises(ValueError):
        Grant(frozenset({Role.AUDITOR}), "x", write=True)


def test_no_token_ever_reads_a_secret() -> None:
    assert not any(g.token_ok for g in ACTIONS.values() if g.secret)
    with pytest.raises(ValueError):
        declare("api.test_secret", "secret.view")


PRINCIPAL = Actor(1, "p", Role.PRINCIPAL, frozenset({"hs-1", "es-3"}))
DESK = Actor(2, "d", Role.FRONT_DESK, frozenset({"hs-1"}))
TEAM = Actor(3, "t", Role.PRIVACY_TEAM)
AUDITOR = Actor(4, "a", Role.AUDITOR)


@pytest.mark.parametrize("actor, action, building, allowed, reason", [
    (PRINCIPAL, "people.read", "hs-1", True, ""),
    (PRINCIPAL, "people.read", "es-3", True, ""),
    (PRINCIPAL, "people.read", "ms-2", False, "building_scope"),
    (PRINCIPAL, "people.read", {"ms-2", "hs-1"}, True, ""),  # a person in two buildings
    (PRINCIPAL, "people.read", frozenset(), False, "building_scope"),
    (PRINCIPAL, "people.read", None, True, ""),  # list views filter with visible_buildings
    (PRINCIPAL, "secret.view", "hs-1", True, ""),
    (PRINCIPAL, "account.manage", None, False, "role"),
    (DESK, "lockdown.manage", "hs-1", True, ""),
    (DESK, "lockdown.manage", "ms-2", False, "building_scope"),
    (DESK, "people.read", "hs-1", False, "role"),
    (TEAM, "secret.view", "ms-2", True, ""),
    (TEAM, "account.manage", None, True, ""),
    (AUDITOR, "people.read", "ms-2", True, ""),
    (AUDITOR, "secret.view", "ms-2", False, "role"),
    (AUDITOR, "person.terminate", "ms-2", False, "role"),
    (None, "people.read", "hs-1", False, "not_signed_in"),
    (TEAM, "no.such.action", None, False, "unknown_action"),
])
def test_decide(actor, action, building, allowed, reason) -> None:
    decision = decide(actor, action, building)
    assert decision.allowed is allowed
    assert decision.reason == reason
    if not allowed:
        with pytest.raises(PermissionDenied) as exc:
            require(actor, action, building)
        assert exc.value.reason == reason


def test_token_scope_narrows_the_role() -> None:
    token = Actor(None, "hr-import", Role.PRINCIPAL, frozenset({"hs-1"}), via="token",
                  token_actions=frozenset({"people.write"}), token_id=7)
    assert decide(token, "people.write", "hs-1").allowed
    assert decide(token, "people.read", "hs-1").reason == "token_scope"
    assert decide(token, "people.write", "ms-2").reason == "building_scope"
    whole = Actor(None, "x", Role.PRINCIPAL, frozenset({"hs-1"}), via="token", token_id=8)
    assert decide(whole, "self.manage", None).reason == "token_not_allowed"
    assert token.label == "token:7:hr-import"


def test_visible_buildings() -> None:
    assert visible_buildings(TEAM) is None
    assert visible_buildings(AUDITOR) is None
    assert visible_buildings(PRINCIPAL) == {"hs-1", "es-3"}


def test_declare_refuses_unknown_actions() -> None:
    with pytest.raises(KeyError):
        declare("web.test_bogus", "people.frobnicate")
