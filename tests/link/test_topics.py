"""Topics: built from ids, parsed back, hostile ids refused."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from link import topics
from link.topics import Kind, TopicError


@pytest.mark.parametrize("build, kind", [
    (topics.status, Kind.STATUS), (topics.events, Kind.EVENTS), (topics.device_ack, Kind.DEV_ACK),
    (topics.request, Kind.REQ), (topics.acl, Kind.ACL), (topics.response, Kind.RESP),
    (topics.hub_ack, Kind.HUB_ACK),
])
def test_round_trip(build, kind) -> None:
    topic = build("door-7")
    assert topic.startswith("gatehouse/v1/")
    assert topics.parse(topic) == topics.Parsed(kind, "door-7")


def test_broadcast_and_sim() -> None:
    assert topics.broadcast() == "gatehouse/v1/hub/broadcast"
    assert topics.parse(topics.broadcast()).kind is Kind.BROADCAST
    assert topics.sim("door-7", "tap") == "gatehouse/v1/sim/door-7/tap"
    assert topics.parse("gatehouse/v1/sim/door-7/tap") == topics.Parsed(Kind.SIM, "door-7", "tap")
    with pytest.raises(TopicError):
        topics.sim("door-7", "explode")


@pytest.mark.parametrize("bad", ["", "Door", "door/1", "door+", "#", "-door", "door-", "a" * 65,
                                 "hub", "dôor", "door 1"])
def test_hostile_ids(bad: str) -> None:
    with pytest.raises(TopicError):
        topics.events(bad)


@pytest.mark.parametrize("topic", ["gatehouse/v2/dev/a/status", "gatehouse/v1/dev/a/other",
                                   "gatehouse/v1/dev/A/status", "gatehouse/v1/dev/a/status/x",
                                   "other/thing", "gatehouse/v1/hub/a/req"])
def test_foreign_topics(topic: str) -> None:
    with pytest.raises(TopicError):
        topics.parse(topic)


@given(st.text(max_size=80))
def test_parse_never_raises_anything_else(topic: str) -> None:
    try:
        topics.parse(topic)
    except TopicError:
        pass


def test_filters_and_shared() -> None:
    assert topics.all_events() == "gatehouse/v1/dev/+/events"
    assert topics.shared("hubs", topics.all_events()) == "$share/hubs/gatehouse/v1/dev/+/events"
