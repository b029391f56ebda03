"""Every MQTT topic Gatehouse uses, built and parsed in one place.

No other module writes a topic string by hand: build with the functions below, parse a
received topic with :func:`parse`. Ids are validated so a hostile id cannot add levels or
wildcards to a topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

ROOT = "gatehouse/v1"
HUB_ID = "hub"

_ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")

SIM_INPUTS = ("tap", "pin", "contact", "rex")


class TopicError(ValueError):
    """A topic or id that is not part of the contract."""


class Kind(str, Enum):
    """The rows of the design's topic table."""

    STATUS = "status"        # dev/<device>/status   device -> all, retained, last will
    EVENTS = "events"        # dev/<device>/events   device -> hub
    DEV_ACK = "dev_ack"      # dev/<device>/ack      device -> hub (ACL version applied)
    REQ = "req"              # dev/<device>/req      device -> hub
    ACL = "acl"              # hub/<device>/acl      hub -> device
    RESP = "resp"            # hub/<device>/resp     hub -> device
    HUB_ACK = "hub_ack"      # hub/<device>/ack      hub -> device (events committed)
    BROADCAST = "broadcast"  # hub/broadcast         hub -> all
    SIM = "sim"              # sim/<device>/<input>  tester -> device (simulation only)


def check_id(device_id: str) -> str:
    """Return ``device_id`` if it is a valid device or building id, else raise TopicError."""
    if not isinstance(device_id, str) or not _ID_RE.match(device_id):
        raise TopicError(f"invalid id {device_id!r}: use lowercase a-z, 0-9 and '-' (1-64 chars)")
    if device_id == HUB_ID:
        raise TopicError("'hub' is reserved for the hub itself")
    return device_id


def is_valid_id(device_id: str) -> bool:
    """True when ``device_id`` may appear in a topic."""
    try:
        check_id(device_id)
    except TopicError:
        return False
    return True


def status(device: str) -> str:
    """``gatehouse/v1/dev/<device>/status``."""
    return f"{ROOT}/dev/{check_id(device)}/status"


def events(device: str) -> str:
    """``gatehouse/v1/dev/<device>/events``."""
    return f"{ROOT}/dev/{check_id(device)}/events"


def device_ack(device: str) -> str:
    """``gatehouse/v1/dev/<device>/ack`` (ACL version applied)."""
    return f"{ROOT}/dev/{check_id(device)}/ack"


def request(device: str) -> str:
    """``gatehouse/v1/dev/<device>/req``."""
    return f"{ROOT}/dev/{check_id(device)}/req"


def acl(device: str) -> str:
    """``gatehouse/v1/hub/<device>/acl``."""
    return f"{ROOT}/hub/{check_id(device)}/acl"


def response(device: str) -> str:
    """``gatehouse/v1/hub/<device>/resp``."""
    return f"{ROOT}/hub/{check_id(device)}/resp"


def hub_ack(device: str) -> str:
    """``gatehouse/v1/hub/<device>/ack`` (highest event sequence committed)."""
    return f"{ROOT}/hub/{check_id(device)}/ack"


def broadcast() -> str:
    """``gatehouse/v1/hub/broadcast``."""
    return f"{ROOT}/hub/broadcast"


def sim(device: str, input_name: str) -> str:
    """``gatehouse/v1/sim/<device>/<input>`` (simulation only)."""
    if input_name not in SIM_INPUTS:
        raise TopicError(f"unknown simulated input {input_name!r}; expected one of {SIM_INPUTS}")
    return f"{ROOT}/sim/{check_id(device)}/{input_name}"


# Subscription filters (wildcards), used by the hub and by devices.
def all_status() -> str:
    """Filter for every device's status."""
    return f"{ROOT}/dev/+/status"


def all_events() -> str:
    """Filter for every device's events."""
    return f"{ROOT}/dev/+/events"


def all_device_acks() -> str:
    """Filter for every device's ACL acks."""
    return f"{ROOT}/dev/+/ack"


def all_requests() -> str:
    """Filter for every device's requests."""
    return f"{ROOT}/dev/+/req"


def sim_inputs(device: str) -> str:
    """Filter for every simulated input of one device."""
    return f"{ROOT}/sim/{check_id(device)}/+"


def shared(group: str, topic_filter: str) -> str:
    """An MQTT 5 shared subscription (``$share/<group>/<filter>``) spreading load over hubs."""
    check_id(group)
    return f"$share/{group}/{topic_filter}"


@dataclass(frozen=True)
class Parsed:
    """A received topic, split into its meaning."""

    kind: Kind
    device: str | None
    input_name: str | None = None


_DEV_KINDS = {"status": Kind.STATUS, "events": Kind.EVENTS, "ack": Kind.DEV_ACK, "req": Kind.REQ}
_HUB_KINDS = {"acl": Kind.ACL, "resp": Kind.RESP, "ack": Kind.HUB_ACK}


def parse(topic: str) -> Parsed:
    """Split a concrete topic into (kind, device, input); raise TopicError if it is not ours."""
    prefix = ROOT + "/"
    if not isinstance(topic, str) or not topic.startswith(prefix):
        raise TopicError(f"not a Gatehouse topic: {topic!r}")
    parts = topic[len(prefix):].split("/")
    if parts == ["hub", "broadcast"]:
        return Parsed(Kind.BROADCAST, None)
    if len(parts) == 3 and is_valid_id(parts[1]):
        if parts[0] == "dev" and parts[2] in _DEV_KINDS:
            return Parsed(_DEV_KINDS[parts[2]], parts[1])
        if parts[0] == "hub" and parts[2] in _HUB_KINDS:
            return Parsed(_HUB_KINDS[parts[2]], parts[1])
        if parts[0] == "sim" and parts[2] in SIM_INPUTS:
            return Parsed(Kind.SIM, parts[1], parts[2])
    raise TopicError(f"not a Gatehouse topic: {topic!r}")
