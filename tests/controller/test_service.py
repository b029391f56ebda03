"""The service shell with a controlled clock: real cache, real outbox (link offline), MockFactory.

Inputs go straight to the service's queue; events are read back from the durable outbox and
verified with the device's public key, exactly as the hub would.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from gpiozero.pins.mock import MockFactory

from controller.cache import AclCache
from hardware.door import SimDoorIO
from hardware.keypad import SimKeypad
from hardware.reader import SimReader
from controller.hw import DoorHardware
from controller.service import EXIT_FAULT, ControllerService
from hardware.mfrc522_sim import SimBoard
from link.client import BrokerConfig
from link.device import DeviceLink
from link.envelope import open_envelope
from link.envelope import Envelope
from link.messages import AclDoor, Lockdown
from tests.controller.acl import SITE_KEY, card, credential, delta, pin, snapshot

DEVICE = "rr-ctl-1"
T0 = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # a Wednesday, 10:00 in New York
ALICE = "04A1B2C3D4E5F6"
BOB = "11223344"          # card + PIN
NIGHT = "55667788"        # office hours only
ROOT = "99AABBCC"         # responder


class Clock:
    """A settable UTC clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += timedelta(seconds=seconds)


DOORS = [
    AclDoor(door="rr-1", name="Records 1", kind="records_room", held_open_s=30),
    AclDoor(door="rr-2", name="Records 2", kind="records_room", mode="card_pin", pin_timeout_s=10),
]


def acl_parts(version: int = 1):
    """The test ACL."""
    return snapshot(version, [
        credential(card(ALICE), "S100", can_escort=True),
        credential(card(BOB), "S200", pin=pin("2468")),
        credential(card(NIGHT), "S300", groups=["staff"]),
        credential(card(ROOT), "R900", groups=["responders"]),
    ], doors=DOORS)


class Rig:
    """A service wired to real stores and MockFactory doors, not connected to any broker."""

    def __init__(self, tmp_path: Path, *, ntp: bool = True, start_at: datetime = T0,
                 load: bool = True, synced_at: datetime | None = None) -> None:
        self.clock = Clock(start_at)
        self.key = Ed25519PrivateKey.generate()
        self.cache = AclCache(tmp_path / "acl.db")
        if load:
            for part in acl_parts():
                self.cache.apply_snapshot(part, synced_at or start_at - timedelta(minutes=5))
        # Port 9 (discard) on loopback: never started, so every publish is "not connected".
        self.link = DeviceLink(DEVICE, kind="controller", private_key=self.key,
                               hub_key=Ed25519PrivateKey.generate().public_key(),
                               broker=BrokerConfig("127.0.0.1", 9, DEVICE),
                               state_dir=tmp_path, clock=self.clock)
        factory, board = MockFactory(), SimBoard()
        self.doors = {
            d: DoorHardware(d, io=SimDoorIO(f"door{i}", relay_pin=17 + i, contact_pin=22 + i,
                                            rex_pin=5 + i, red_led_pin=12 + i,
                                            green_led_pin=14 + i, buzzer_pin=19 + i,
                                            pin_factory=factory),
                            reader=SimReader(f"reader{i}", device=i, rst_pin=25 - i,
                                             board=board))
            for i, d in enumerate(["rr-1", "rr-2"])}
        self.service = ControllerService(device_id=DEVICE, cache=self.cache, link=self.link,
                                         doors=self.doors, site_key=SITE_KEY, clock=self.clock,
                                         ntp_synced=lambda: ntp)
        self.service.start()

    def events(self) -> list[Envelope]:
        """Every event in the outbox, verified with the device key."""
        if not self.service.done.is_set():
            self.service.drain()
        keys = {DEVICE: self.key.public_key()}
        return [open_envelope(e.payload, keys) for e in self.link.outbox.pending()
                if e.topic.endswith("/events")]

    def kinds(self) -> list[str]:
        """Event types with reasons, in order."""
        out = []
        for env in self.events():
            reason = getattr(env.body, "reason", None)
            out.append(f"{env.type}:{reason}" if reason else env.type)
        return out

    def tick(self, seconds: float) -> None:
        """Advance the clock and let the worker run its timers."""
        self.clock.advance(seconds)
        self.service.drain()
        self.service.drain()

    def relay(self, door: str = "rr-1") -> bool:
        """Electrical state of the door's strike."""
        return self.doors[door].io.strike_energised

    def close(self) -> None:
        """Stop everything."""
        self.service.stop()
        for hw in self.doors.values():
            hw.close()
        self.link.stop(clean=False)
        self.cache.close()


@pytest.fixture
def rig(tmp_path: Path):
    """A running service at T0 with the test ACL."""
    r = Rig(tmp_path)
    yield r
    r.close()


def tap(rig: Rig, uid: str, door: str = "rr-1") -> None:
    """A card read at a door."""
    rig.service.card(door, bytes.fromhex(uid))
    rig.service.drain()


def test_grant_energises_after_event_is_stored(rig: Rig) -> None:
    """Grant: access.granted is in the outbox and the strike is energised, then relocks."""
    tap(rig, ALICE)
    assert rig.kinds() == ["access.granted"] and rig.relay()
    rig.tick(5)
    assert not rig.relay()


def test_events_carry_increasing_sequence_numbers(rig: Rig) -> None:
    """Each event has the device's next sequence number."""
    tap(rig, ALICE)
    tap(rig, "DEADBEEF")
    seqs = [e.seq for e in rig.events()]
    assert seqs == sorted(seqs) and len(set(seqs)) == 2


@pytest.mark.parametrize("uid_bytes", [b"", b"\x01\x02\x03", b"\x01" * 5, b"\x01" * 11])
def test_garbage_length_read_is_bad_read(rig: Rig, uid_bytes: bytes) -> None:
    """A read of a length no card has is refused as bad_read, without a card id."""
    rig.service.card("rr-1", uid_bytes)
    events = rig.events()
    assert [e.body.reason for e in events] == ["bad_read"]
    assert events[0].body.cred is None and not rig.relay()


def test_pin_door_flow(rig: Rig) -> None:
    """Card, then the right PIN within the limit: granted via card_pin."""
    tap(rig, BOB, "rr-2")
    assert rig.kinds() == [] and not rig.relay("rr-2")
    rig.clock.advance(3)
    rig.service.pin("rr-2", "2468#")
    assert rig.kinds() == ["access.granted"] and rig.relay("rr-2")
    assert rig.events()[0].body.via == "card_pin"


def test_pin_from_keypad_keys(rig: Rig) -> None:
    """Keys one at a time: '*' clears, '#' enters."""
    tap(rig, BOB, "rr-2")
    for key in "99*2468#":
        rig.service.key("rr-2", key)
    assert rig.kinds() == ["access.granted"]


def test_pin_timeout(rig: Rig) -> None:
    """No PIN within the door's limit: access.denied pin_timeout."""
    tap(rig, BOB, "rr-2")
    rig.tick(11)
    assert rig.kinds() == ["access.denied:pin_timeout"]
    rig.service.pin("rr-2", "2468#")  # too late: no card pending any more
    assert rig.kinds() == ["access.denied:pin_timeout"] and not rig.relay("rr-2")


def test_pin_with_non_digits_refused(rig: Rig) -> None:
    """A PIN with non-digits is refused as wrong_pin."""
    tap(rig, BOB, "rr-2")
    rig.service.pin("rr-2", "24A8")
    assert rig.kinds() == ["access.denied:wrong_pin"]


def test_three_wrong_pins_alert(rig: Rig) -> None:
    """The third wrong PIN in a row raises alert.wrong_pins."""
    for _ in range(3):
        tap(rig, BOB, "rr-2")
        rig.service.pin("rr-2", "0000#")
        rig.tick(1)
    kinds = rig.kinds()
    assert kinds.count("access.denied:wrong_pin") == 3
    assert kinds[-1] == "alert.wrong_pins"
    alert = rig.events()[-1].body
    assert alert.failures == 3 and alert.severity == "warning" and alert.holder == "S200"


def test_held_and_forced_alarms(rig: Rig) -> None:
    """Held open past the limit → door.held; opened while locked → door.forced."""
    tap(rig, ALICE)
    rig.service.contact("rr-1", True)
    rig.service.drain()
    rig.tick(31)
    rig.service.contact("rr-1", False)
    rig.service.contact("rr-1", True)
    assert rig.kinds() == ["access.granted", "door.opened", "door.held", "door.closed",
                           "door.opened", "door.forced"]


def test_rex_logged_then_unlocks(rig: Rig) -> None:
    """Request-to-exit: door.rex stored, strike energised, no forced alarm on opening."""
    rig.service.rex("rr-1")
    rig.service.contact("rr-1", True)
    assert rig.kinds() == ["door.rex", "door.opened"] and rig.relay()


def test_relay_fault_is_not_a_grant(rig: Rig) -> None:
    """A strike relay that cannot be driven: access.denied relay_fault, then fail secure."""
    rig.doors["rr-1"].io.relay.close()  # the relay's GPIO is gone
    tap(rig, ALICE)
    assert rig.service.done.wait(5) and rig.service.exit_code == EXIT_FAULT
    events = rig.events()
    assert [e.type for e in events] == ["access.denied", "device.fault"]
    assert events[0].body.reason == "relay_fault" and events[0].body.severity == "critical"
    assert "relay" in events[1].body.fault


def test_relay_failing_after_the_grant_is_logged_as_not_opened(rig: Rig) -> None:
    """The relay passes its check but does not follow: the grant is followed by relay_fault."""
    rig.doors["rr-1"].io.jam_relay()
    tap(rig, ALICE)
    assert rig.service.done.wait(5) and rig.service.exit_code == EXIT_FAULT
    events = rig.events()
    assert [e.type for e in events] == ["access.granted", "access.denied", "device.fault"]
    denied = events[1].body
    assert denied.reason == "relay_fault" and denied.severity == "critical"
    assert denied.cred == events[0].body.cred and denied.holder == events[0].body.holder
    assert not rig.relay()


def test_lockdown_broadcast(rig: Rig, tmp_path: Path) -> None:
    """Lockdown: staff refused, responders admitted, strike dropped; lifted again."""
    tap(rig, ALICE)
    assert rig.relay()
    env = Envelope("lockdown", "hub", 1, "2026-12-02T15:00:00Z", Lockdown(active=True))
    rig.service.broadcast(env)
    rig.service.drain()
    assert not rig.relay() and rig.cache.lockdown
    tap(rig, ALICE)
    tap(rig, ROOT)
    assert rig.kinds() == ["access.granted", "access.denied:lockdown", "access.granted"]
    other = Envelope("lockdown", "hub", 2, "2026-12-02T15:00:00Z",
                     Lockdown(active=False, buildings=["another-school"]))
    rig.service.broadcast(other)
    rig.service.drain()
    assert rig.cache.lockdown  # not our building


def test_untrusted_clock_only_24_7(tmp_path: Path) -> None:
    """NTP never synced: the office-hours card is refused, the 24/7 one works."""
    rig = Rig(tmp_path, ntp=False)
    try:
        tap(rig, NIGHT)
        tap(rig, ALICE)
        assert rig.kinds() == ["access.denied:clock_untrusted", "access.granted"]
        assert rig.service.status_fields(rig.clock.now)["clock"] == "untrusted"
    finally:
        rig.close()


def test_clock_behind_last_trusted_time(tmp_path: Path) -> None:
    """A reboot that brings the clock back before the last trusted time is untrusted."""
    rig = Rig(tmp_path)
    rig.tick(120)  # the trusted time is saved
    rig.close()
    rig = Rig(tmp_path, start_at=T0 - timedelta(days=30), load=False)
    try:
        tap(rig, NIGHT)
        assert rig.kinds()[-1] == "access.denied:clock_untrusted"
        assert not rig.service.is_clock_trusted
    finally:
        rig.close()


def test_stale_acl_flag_and_responders(tmp_path: Path) -> None:
    """Past the door's stale limit: only responders; the status says stale."""
    rig = Rig(tmp_path, start_at=T0 + timedelta(days=2), synced_at=T0)
    try:
        tap(rig, ALICE)
        tap(rig, ROOT)
        assert rig.kinds() == ["access.denied:stale_acl", "access.granted"]
        assert rig.service.status_fields(rig.clock.now)["stale_acl"] is True
        # the hub's "you are current" clears it
        env = Envelope("acl.delta", "hub", 1, "2026-12-04T15:00:00Z", delta(1, 1))
        rig.service.acl_message(env)
        rig.service.drain()
        assert rig.service.status_fields(rig.clock.now)["stale_acl"] is False
    finally:
        rig.close()


def test_tamper_is_an_event(rig: Rig) -> None:
    """The reader's tamper switch raises device.tamper."""
    rig.service.tamper("rr-1", True)
    events = rig.events()
    assert events[0].type == "device.tamper" and events[0].body.severity == "critical"


def test_internal_error_fails_secure(rig: Rig) -> None:
    """Any exception in the worker: strike off, device.fault stored, exit code 70."""
    tap(rig, ALICE)
    assert rig.relay()

    def boom() -> None:
        raise RuntimeError("simulated defect")

    rig.service.call(boom)
    assert rig.service.done.wait(5)
    assert rig.service.exit_code == EXIT_FAULT and not rig.relay()
    assert rig.events()[-1].type == "device.fault"


def test_status_fields(rig: Rig) -> None:
    """The status carries the ACL version, the clock state and the stale flag."""
    fields = rig.service.status_fields(rig.clock.now)
    assert fields == {"acl_version": 1, "clock": "trusted", "stale_acl": False, "faults": []}


def test_hub_confirming_version_is_a_sync(tmp_path: Path) -> None:
    """A gap asks for a resync; the hub's answer naming our version clears the stale flag."""
    from link.messages import Response

    rig = Rig(tmp_path, start_at=T0 + timedelta(days=2), synced_at=T0)
    try:
        assert rig.service.status_fields(rig.clock.now)["stale_acl"] is True
        rig.service.acl_message(Envelope("acl.delta", "hub", 1, "2026-12-04T15:00:00Z",
                                         delta(7, 8)))
        rig.service.drain()
        (corr,) = rig.service.pending_resyncs
        wrong = Response(corr="x" * 16, ok=True, data={"version": 1})
        rig.service.response(Envelope("resp", "hub", 2, "2026-12-04T15:00:00Z", wrong))
        rig.service.drain()
        assert rig.service.status_fields(rig.clock.now)["stale_acl"] is True
        answer = Response(corr=corr, ok=True, data={"version": 1})
        rig.service.response(Envelope("resp", "hub", 3, "2026-12-04T15:00:00Z", answer))
        rig.service.drain()
        assert rig.service.status_fields(rig.clock.now)["stale_acl"] is False
        assert not rig.service.pending_resyncs
    finally:
        rig.close()


def test_cards_decided_while_a_big_snapshot_swaps_in(rig: Rig) -> None:
    """The swap runs on the store thread: a tap meanwhile is decided from the version in force."""
    import threading
    import time

    from tests.controller.acl import cred

    creds = [credential(cred(i), f"N{i}") for i in range(4000)]
    creds.append(credential(card(ALICE), "S100", can_escort=True))
    parts = snapshot(2, creds, chunks=2, doors=DOORS)
    rig.service.acl_message(Envelope("acl.snapshot", "hub", 1, "2026-12-02T15:00:00Z", parts[0]))
    rig.service.drain()
    swapping, done = threading.Event(), threading.Event()

    def crawl() -> int:
        # Slows SQLite on the store thread (a busy SD card), until the test has its answer.
        swapping.set()
        if not done.is_set():
            time.sleep(0.002)
        return 0

    rig.cache._conn.set_progress_handler(crawl, 200)
    rig.service.acl_message(Envelope("acl.snapshot", "hub", 2, "2026-12-02T15:00:00Z", parts[1]))
    assert swapping.wait(5)
    rig.service.card("rr-1", bytes.fromhex(ALICE))
    deadline = time.monotonic() + 2
    while not rig.service.decisions and time.monotonic() < deadline:
        time.sleep(0.005)
    assert rig.service.decisions and rig.service.decisions[-1][1].granted
    assert rig.cache.version == 1  # decided while version 2 was still being written
    done.set()
    rig.service.drain()
    rig.cache._conn.set_progress_handler(None, 0)
    assert rig.cache.version == 2 and len(rig.cache) == 4001


def test_leds_and_buzzer_show_outcomes(rig: Rig) -> None:
    """Green for a grant, red for a refusal, red and buzzer for a forced door."""
    io = rig.doors["rr-1"].io
    tap(rig, ALICE)
    assert io.green_led.is_lit and not io.red_led.is_lit
    rig.tick(5)
    assert not io.green_led.is_lit
    tap(rig, "DEADBEEF")
    assert io.red_led.is_lit and not io.green_led.is_lit
    rig.service.contact("rr-1", True)
    rig.service.drain()
    assert io.red_led.is_lit and io.buzzer.is_active
    rig.service.contact("rr-1", False)
    rig.service.drain()
    assert not io.red_led.is_lit and not io.buzzer.is_active


def test_pin_typed_on_the_simulated_keypad(tmp_path: Path) -> None:
    """Card on the emulated reader, PIN on the simulated 3x4 matrix: granted via card_pin."""
    import time

    rig = Rig(tmp_path, start_at=datetime.now(UTC), synced_at=datetime.now(UTC))
    rig.clock.now = datetime.now(UTC)
    factory = MockFactory()
    door = DoorHardware("rr-2", io=SimDoorIO("door9", pin_factory=factory),
                        reader=SimReader("reader9", poll_interval_s=0.02, board=SimBoard()),
                        keypad=SimKeypad("keypad0", pin_factory=factory))
    old = rig.service.doors["rr-2"]
    rig.service.doors["rr-2"] = door
    rig.doors["rr-2"] = door
    old.close()
    try:
        door.start(on_card=lambda read: rig.service.card("rr-2", read.uid),
                   on_input=lambda ev: rig.service.door_input("rr-2", ev.kind),
                   on_key=lambda key: rig.service.key("rr-2", key))
        door.sim_tap(bytes.fromhex(BOB))
        deadline = time.monotonic() + 5
        while not rig.service.decisions and time.monotonic() < deadline:
            time.sleep(0.01)
        assert rig.service.decisions[-1][1].is_awaiting_pin
        rig.clock.now = datetime.now(UTC)
        assert door.sim_keys("2468#")
        deadline = time.monotonic() + 5
        while len(rig.service.decisions) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        final = rig.service.decisions[-1][1]
        assert final.granted and final.via == "card_pin"
        rig.service.drain()  # the decision is noted before the event and the strike
        assert door.io.strike_energised
    finally:
        rig.close()


def test_status_names_doors_missing_from_the_acl(tmp_path: Path) -> None:
    """A configured door the ACL does not list is reported (its cards are all refused)."""
    rig = Rig(tmp_path)
    try:
        env = Envelope("acl.delta", "hub", 1, "2026-12-02T15:00:00Z",
                       delta(1, 2, doors=[DOORS[0]]))
        rig.service.acl_message(env)
        rig.service.drain()
        assert rig.service.status_fields(rig.clock.now)["faults"] == ["door rr-2 not in ACL"]
        tap(rig, BOB, "rr-2")
        assert rig.kinds() == ["access.denied:door_unknown"]
    finally:
        rig.close()


def test_lockdown_broadcast_survives_restart(tmp_path: Path) -> None:
    """A lockdown heard before a restart is still in force after it, until the ACL lifts it."""
    rig = Rig(tmp_path)
    rig.service.broadcast(Envelope("lockdown", "hub", 1, "2026-12-02T15:00:00Z",
                                   Lockdown(active=True)))
    rig.service.drain()
    rig.close()
    rig = Rig(tmp_path, load=False)
    try:
        tap(rig, ALICE)
        tap(rig, ROOT)
        assert rig.kinds()[-2:] == ["access.denied:lockdown", "access.granted"]
        rig.service.acl_message(Envelope("acl.delta", "hub", 5, "2026-12-02T15:00:00Z",
                                         delta(1, 2, lockdown=False)))
        rig.service.drain()
        tap(rig, ALICE)
        assert rig.kinds()[-1] == "access.granted"
    finally:
        rig.close()
