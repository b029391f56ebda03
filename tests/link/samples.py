"""One sample body per message type: the golden files pin their exact wire form."""

from __future__ import annotations

from link import messages as m
from link import visits as v

CRED = "a" * 64
CRED2 = "b" * 64
PIN = m.AclPin(salt="00112233445566778899aabbccddeeff", hash="c" * 64, iterations=100_000)
DOOR = m.AclDoor(door="lincoln-records", name="Records room", kind="records_room", mode="card_pin")
GROUP = m.AclGroup(group="office-staff", doors=["lincoln-records"],
                   windows=[m.AclWindow(days=[0, 1, 2, 3, 4], start="07:00", end="17:30")])
CREDENTIAL = m.AclCredential(cred=CRED, holder="S1001", name="Ana Silva", groups=["office-staff"],
                             can_escort=True, pin=PIN)

SAMPLES: dict[str, m.Body] = {
    "device.status": m.DeviceStatus(state="online", kind="controller", version="0.1.0", acl_version=7,
                                    clock="trusted", outbox_depth=3, will_seq=41),
    "access.granted": m.AccessGranted(door="lincoln-records", cred=CRED, holder="S1001", via="card_pin"),
    "access.denied": m.AccessDenied(door="lincoln-records", reason="revoked", cred=CRED2, holder="S2002",
                                    severity="warning"),
    "door.opened": m.DoorOpened(door="lincoln-records"),
    "door.closed": m.DoorClosed(door="lincoln-records"),
    "door.forced": m.DoorForced(door="lincoln-records"),
    "door.held": m.DoorHeld(door="lincoln-records", held_s=30),
    "door.rex": m.DoorRex(door="lincoln-records"),
    "device.tamper": m.DeviceTamper(open=True),
    "device.fault": m.DeviceFault(fault="relay did not energise", door="lincoln-records"),
    "alert.wrong_pins": m.WrongPins(door="lincoln-records", cred=CRED, holder="S1001", failures=3),
    "visit.signed_in": m.VisitSignedIn(visit="v-0123456789", name="Jo Park", category="visitor",
                                       host="Ms. Lee", destination="Room 12",
                                       expires_at="2026-11-28T20:00:00.000000Z"),
    "visit.signed_out": m.VisitSignedOut(visit="v-0123456789", how="badge"),
    "acl.applied": m.AclApplied(version=7),
    "acl.resync": m.AclResync(corr="c-00000001", have_version=5, why="gap"),
    "lockdown.request": m.LockdownRequest(corr="c-00000002", active=True, by="front desk"),
    "acl.snapshot": m.AclSnapshot(version=7, building="lincoln", tz="America/New_York", doors=[DOOR],
                                  groups=[GROUP], holidays=[m.AclHoliday(date="2026-12-25", name="Christmas")],
                                  credentials=[CREDENTIAL]),
    "acl.delta": m.AclDelta(from_version=7, to_version=8, revoke=[CRED]),
    "resp": m.Response(corr="c-00000001", ok=True, data={"queued": 1}),
    "events.ack": m.EventsAck(upto=42),
    "lockdown": m.Lockdown(active=True, buildings=["lincoln"], by="principal"),
    "notice": m.Notice(text="clock adjusted"),
    "visit.sign_in": v.VisitSignIn(corr="c-00000003", visit="v-0123456789", token_sha256="d" * 64,
                                   category="visitor", first="Jo", last="Park", dob="1984-03-09",
                                   id_source="scanned", host="L0003", destination="room-12",
                                   purpose="Parent conference"),
    "visit.sign_out": v.VisitSignOut(corr="c-00000004", how="badge", token="t" * 24),
    "visit.find": v.VisitFind(corr="c-00000005", first="Jo", last="Park"),
    "visit.directory": v.DirectoryFetch(corr="c-00000006", have_version=3),
    "visit.watchlist": v.WatchlistFetch(corr="c-00000007", page=1, have_version=9),
    "visit.local_sign_in": v.VisitLocalSignIn(visit="v-0123456789", token_sha256="d" * 64, category="contractor",
                                              first="Jo", last="Park", id_source="typed",
                                              company="QuickFix Plumbing", signed_in_at="2026-11-28T14:00:00.000000Z",
                                              screening="clear", cache_version=9, escort_required=True),
    "visit.abandoned": v.VisitAbandoned(visit="v-0123456789", reason="printer"),
    "visit.pool_assign": v.PoolAssign(corr="c-00000008", visit="v-0123456789", card=7),
    "visit.decided": v.VisitDecided(visit="v-0123456789", decision="admit", escort_required=True,
                                    expires_at="2026-11-28T20:00:00Z", host_name="Ms. Lee",
                                    destination_name="Room 12"),
}
