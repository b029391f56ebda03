"""The bridge's periodic visitor work, on a real SQLite session with a hand-moved clock."""

from __future__ import annotations

from datetime import date, timedelta

from link import visits as wire
from hub.visitors import services
from hub.visitors.handlers import VisitorJobs
from tests.hub.visitors.conftest import NOW


def _held(session, settings, visit: str = "visit-held-01"):
    services.add_watch_entry(session, first="Ana", last="Souza", dob=date(1990, 1, 2), kind="banned", now=NOW)
    body = wire.VisitSignIn(corr="corr-000001", visit=visit, token_sha256=services.token_hash(visit + "-token-x"),
                            category="visitor",
                            first="Ana", last="Souza", dob="1990-01-02", id_source="scanned",
                            destination="library")
    assert services.sign_in(session, settings, "kiosk-front", body, NOW)["outcome"] == "held"
    return next(h for h in services.open_holds(session) if h.visit_id == visit)


class Mono:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_admit_is_repeated_until_the_badge_printed(session, settings) -> None:
    hold = _held(session, settings)
    mono = Mono()
    jobs = VisitorJobs(settings, resend_s=10, monotonic=mono)
    assert jobs.run(session, NOW) == []  # nothing decided yet
    services.decide_hold(session, hold.id, "admit", by="desk", now=NOW)
    (device, body), = jobs.run(session, NOW)
    assert device == "kiosk-front" and body == wire.VisitDecided(
        visit="visit-held-01", decision="admit", escort_required=False,
        expires_at=services._ts(hold.visit.expires_at), host_name="", destination_name="Library")
    mono.t += 5
    assert jobs.run(session, NOW) == []  # not yet
    mono.t += 6
    assert [b.decision for _, b in jobs.run(session, NOW)] == ["admit"]  # again: no signed_in yet
    services.confirm_printed(session, "kiosk-front", "visit-held-01", NOW)  # the kiosk's visit.signed_in
    mono.t += 11
    assert jobs.run(session, NOW) == []
    # and never after the window, even if the badge never printed
    hold2 = _held(session, settings, "visit-held-02")
    services.decide_hold(session, hold2.id, "admit", by="desk", now=NOW)
    assert jobs.run(session, NOW + services.DECISION_WINDOW + timedelta(seconds=1)) == []


def test_refusal_is_repeated_for_a_while_only_and_not_sure_is_never_sent(session, settings) -> None:
    hold = _held(session, settings)
    mono = Mono()
    jobs = VisitorJobs(settings, resend_s=10, refuse_repeat_s=30, monotonic=mono)
    services.decide_hold(session, hold.id, "not_sure", by="desk", now=NOW)
    assert jobs.run(session, NOW) == []
    services.decide_hold(session, hold.id, "refuse", by="desk", now=NOW)
    sent = []
    for _ in range(6):
        sent += [b.decision for _, b in jobs.run(session, NOW)]
        mono.t += 10
    assert sent == ["refuse"] * 4  # at 0, 10, 20, 30 s, then no more


def test_a_host_name_the_wire_refuses_does_not_stop_the_badge(session, settings) -> None:
    hold = _held(session, settings)
    services.decide_hold(session, hold.id, "admit", by="desk", now=NOW)
    hold.visit.host_name = "Dana\x1b[2J Rivera"  # a control character typed into the directory
    (_device, body), = VisitorJobs(settings, monotonic=Mono()).run(session, NOW)
    assert (body.visit, body.decision, body.host_name, body.destination_name) == ("visit-held-01", "admit", "", "")
