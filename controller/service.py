"""The controller service: the imperative shell around the policy and the door machines.

Every door input (card reads, PINs, contact changes, exit buttons, lockdown broadcasts) is
queued and handled by ONE worker thread, so decisions and door states never race. Every
write to the credential cache (ACL snapshots and deltas, sync times, the clock's anchor) runs
on a second, "store" thread: a 100,000-card snapshot can take seconds to swap in, and cards
keep being decided meanwhile from the version in force (:meth:`AclCache.view`).

For each input the worker asks the pure cores what to do and carries out their effects in
order: the event goes to the durable outbox (through :class:`link.device.DeviceLink`) before
the strike moves, and what is logged is what the door did — a grant whose relay cannot be
driven is logged as ``access.denied relay_fault`` (instead of the grant when the relay's check
fails first; right after the already-stored grant when the relay then fails to follow).

Fail secure: any unexpected exception on either thread drops every strike, records a
``device.fault`` event, and ends the service with a non-zero exit code so systemd restarts it.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from controller import door as doorsm
from controller import policy
from controller.cache import AclCache, ApplyResult
from controller.clock import is_trusted
from hardware.door import (
    DOOR_CLOSED, DOOR_OPENED, REX_PRESSED, TAMPER_CLOSED, TAMPER_OPENED,
)
from link.envelope import Envelope
from link.keys import card_hmac
from link.messages import (
    AccessDenied, AccessGranted, AclApplied, AclDelta, AclResync, AclSnapshot, Body,
    DeviceFault, DeviceTamper, Lockdown, Response, SimContact, SimInput, SimPin, SimRex, SimTap,
    WrongPins,
)

log = logging.getLogger("gatehouse.controller")

#: exit code after a fail-secure stop (EX_SOFTWARE): systemd's Restart=on-failure restarts us
EXIT_FAULT = 70
#: recent outcomes older than this are forgotten (escort windows and wrong PINs are shorter)
RECENT_KEEP_S = policy.WRONG_PIN_MEMORY_S
#: a snapshot whose chunks stop arriving for this long is asked for again
STAGING_TIMEOUT_S = 60
#: resync requests are sent at most this often
RESYNC_MIN_INTERVAL_S = 30
#: the trusted time is saved this often while the clock is trusted
TRUSTED_SAVE_S = 60


class RelayFault(RuntimeError):
    """A door's strike relay cannot be driven."""


def utc_now() -> datetime:
    """The wall clock in UTC."""
    return datetime.now(UTC)


class DoorIO(Protocol):
    """What the service needs from a door's hardware (see :class:`controller.hw.DoorHardware`)."""

    id: str

    def relay_ready(self) -> bool:
        """True when the strike relay can be driven."""

    def set_relay(self, on: bool) -> None:
        """Energise or release the strike; raise when it fails."""

    def show(self, pattern: str) -> None:
        """Show an LED pattern."""

    def sound(self, pattern: str) -> None:
        """Sound a buzzer pattern."""

    def is_open(self) -> bool:
        """True when the contact reads open."""


class Link(Protocol):
    """The parts of :class:`link.device.DeviceLink` the service uses."""

    def send_event(self, body: Body) -> int:
        """Store durably, then publish; return the sequence number."""

    def request(self, body: Body) -> Any:
        """Publish on ``dev/<device>/req``."""

    def ack_acl(self, body: Body) -> Any:
        """Publish on ``dev/<device>/ack``."""

    def publish_status(self, **fields: Any) -> Any:
        """Publish the retained status."""


@dataclass(frozen=True)
class _Input:
    kind: str
    door: str | None = None
    payload: Any = None


@dataclass
class _PendingPin:
    cred: str
    card_at: datetime
    deadline: datetime


class ControllerService:
    """Decides at the doors from the local cache and reports over the link."""

    def __init__(
        self,
        *,
        device_id: str,
        cache: AclCache,
        link: Link,
        doors: dict[str, DoorIO],
        site_key: bytes,
        clock: Callable[[], datetime] = utc_now,
        ntp_synced: Callable[[], bool] = lambda: False,
        clock_tolerance_s: int = 120,
        status_interval_s: int = 60,
        sync_check_s: int = 3600,
    ) -> None:
        self.device_id = device_id
        self.cache = cache
        self.link = link
        self.doors = doors
        self._site_key = site_key
        self._clock = clock
        self._ntp_synced = ntp_synced
        self._tolerance_s = clock_tolerance_s
        self._status_interval = timedelta(seconds=status_interval_s)
        self._sync_check = timedelta(seconds=sync_check_s)
        self._queue: queue.Queue[_Input] = queue.Queue()
        self._states = {d: doorsm.DoorState(d) for d in doors}
        self._recent: deque[policy.Recent] = deque(maxlen=512)
        self._pending_pin: dict[str, _PendingPin] = {}
        self._keys: dict[str, str] = {}
        self._store: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        self._store_thread: threading.Thread | None = None
        #: a lockdown broadcast, in force until the store thread has written it to the cache
        self._lockdown_override: bool | None = None
        self._resync_corrs: set[str] = set()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.done = threading.Event()
        self.exit_code = 0
        self.fault: str | None = None
        self._is_clock_trusted = False
        self._ntp_seen = False
        self._last_trusted_save: datetime | None = None
        self._trust_anchor = cache.last_trusted_time()
        self._next_status: datetime | None = None
        self._next_sync_check: datetime | None = None
        self._last_resync: datetime | None = None
        self._staging_since: datetime | None = None
        self._status_key: tuple | None = None
        #: (door, decision) of every decision, most recent last (capped), for tests and logs
        self.decisions: deque[tuple[str, policy.Decision]] = deque(maxlen=256)

    # ------------------------------------------------------------------ inputs (any thread)
    def card(self, door: str, uid: bytes) -> None:
        """A card was read at ``door`` (the raw UID stays in memory, hashed at once)."""
        self._queue.put(_Input("card", door, bytes(uid)))

    def pin(self, door: str, digits: str) -> None:
        """Keys entered on ``door``'s keypad (``#`` ends, ``*`` clears)."""
        self._queue.put(_Input("pin", door, digits))

    def contact(self, door: str, is_open: bool) -> None:
        """The door contact changed."""
        self._queue.put(_Input("contact", door, bool(is_open)))

    def rex(self, door: str) -> None:
        """Request-to-exit pressed."""
        self._queue.put(_Input("rex", door))

    def tamper(self, door: str, is_open: bool) -> None:
        """The reader's tamper switch changed."""
        self._queue.put(_Input("tamper", door, bool(is_open)))

    def door_input(self, door: str, kind: str) -> None:
        """A debounced input change from :class:`hardware.door.DoorIO`."""
        if kind == DOOR_OPENED:
            self.contact(door, True)
        elif kind == DOOR_CLOSED:
            self.contact(door, False)
        elif kind == REX_PRESSED:
            self.rex(door)
        elif kind in (TAMPER_OPENED, TAMPER_CLOSED):
            self.tamper(door, kind == TAMPER_OPENED)

    def key(self, door: str, key: str) -> None:
        """One key from the door's keypad: digits collect, ``#`` enters, ``*`` clears."""
        self._queue.put(_Input("key", door, key))

    def acl_message(self, env: Envelope) -> None:
        """A verified, fresh message from ``hub/<device>/acl`` (applied on the store thread)."""
        self._store.put(("acl", env))

    def response(self, env: Envelope) -> None:
        """A verified answer from ``hub/<device>/resp``."""
        self._queue.put(_Input("response", None, env))

    def broadcast(self, env: Envelope) -> None:
        """A verified message from ``hub/broadcast``."""
        self._queue.put(_Input("broadcast", None, env))

    def sim_input(self, name: str, sim: SimInput, *, doors_hw: dict[str, Any]) -> None:
        """Simulation: drive the door's simulated devices as a person would."""
        door_id = self._door_for_reader(getattr(sim, "reader", 0))
        if door_id is None:
            log.warning("sim input for a reader this controller lacks input=%s", name)
            return
        hw = doors_hw[door_id]
        if isinstance(sim, SimTap):
            hw.sim_tap(bytes.fromhex(sim.uid))
        elif isinstance(sim, SimPin):
            digits = sim.digits if sim.digits.endswith("#") else sim.digits + "#"
            if not hw.sim_keys(digits):  # no keypad at this door: straight to the service
                self.pin(door_id, sim.digits)
        elif isinstance(sim, SimContact):
            hw.sim_open() if sim.open else hw.sim_close()
        elif isinstance(sim, SimRex):
            hw.sim_rex()

    def _door_for_reader(self, reader: int) -> str | None:
        ids = list(self.doors)
        return ids[reader] if 0 <= reader < len(ids) else None

    def connected(self) -> None:
        """The link (re)connected: ask for what a restart or an outage may have missed."""
        self._queue.put(_Input("connected"))

    def call(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the worker thread (tests and the CLI use it to read state safely)."""
        self._queue.put(_Input("call", None, fn))

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the worker thread."""
        now = self._clock()
        self._assess_clock(now)
        for door_id, io in self.doors.items():
            self._configure_door(door_id)
            self._states[door_id] = doorsm.step(self._states[door_id],
                                                doorsm.Contact(io.is_open()), now)[0]
            if self.cache.lockdown:
                self._apply(door_id, doorsm.SetLockdown(True), now)
        if self.cache.version is None:
            self._request_resync(now, "no ACL yet")
        self._store_thread = threading.Thread(target=self._store_run, name="controller-store",
                                              daemon=True)
        self._store_thread.start()
        self._thread = threading.Thread(target=self._run, name="controller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the worker and release every strike."""
        self._stop.set()
        self._queue.put(_Input("wake"))
        self._store.put(None)
        for thread in (self._thread, self._store_thread):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=5)
        for io in self.doors.values():
            try:
                io.set_relay(False)
            except Exception:
                log.exception("event=relay_off_failed_on_stop")
        self.done.set()

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until every input queued so far, and the timers then due, have been handled."""
        marker = threading.Event()

        def mark() -> None:
            self._timers(self._clock())
            marker.set()

        # store -> worker -> store -> worker: ACL work queued before, what the worker did
        # with its results, and the store jobs that produced, are all finished.
        def again() -> None:
            self._store.put(("call", lambda: self.call(mark)))

        self._store.put(("call", lambda: self.call(again)))
        return marker.wait(timeout)

    # ------------------------------------------------------------------ the worker
    def _run(self) -> None:
        while not self._stop.is_set():
            now = self._clock()
            wait_s = self._seconds_to_next(now)
            try:
                item = self._queue.get(timeout=wait_s)
            except queue.Empty:
                item = None
            if self._stop.is_set():
                break
            try:
                now = self._clock()
                if item is not None:
                    self.handle(item, now)
                self._timers(self._clock())
            except Exception as exc:  # NOTE: fail secure, whatever went wrong
                self._fail_secure(exc)
                return

    def _store_run(self) -> None:
        while True:
            job = self._store.get()
            if job is None or self._stop.is_set():
                return
            kind, payload = job
            try:
                if kind == "acl":
                    result = self._apply_acl(payload, self._clock())
                    if result is not None:
                        self._queue.put(_Input("acl_result", None, result))
                elif kind == "touch_sync":
                    self.cache.touch_sync(payload)
                elif kind == "trusted":
                    self.cache.save_trusted_time(payload)
                elif kind == "lockdown":
                    self.cache.set_lockdown(payload)
                    self._queue.put(_Input("lockdown_stored", None, payload))
                elif kind == "call":
                    payload()
            except Exception as exc:  # handed to the worker, which fails secure
                self._queue.put(_Input("fault", None, exc))
                return

    def _seconds_to_next(self, now: datetime) -> float:
        deadlines = [d for d in (doorsm.next_deadline(s) for s in self._states.values()) if d]
        deadlines += [p.deadline for p in self._pending_pin.values()]
        for t in (self._next_status, self._next_sync_check):
            if t is not None:
                deadlines.append(t)
        if not deadlines:
            return 1.0
        return max(0.0, min(1.0, (min(deadlines) - now).total_seconds()))

    def handle(self, item: _Input, now: datetime) -> None:
        """Handle one input on the worker thread."""
        if item.kind == "card":
            self._on_card(item.door or "", item.payload, now)
        elif item.kind == "pin":
            self._on_pin(item.door or "", item.payload, now)
        elif item.kind == "contact":
            self._apply(item.door or "", doorsm.Contact(item.payload), now)
        elif item.kind == "rex":
            self._apply(item.door or "", doorsm.Rex(), now)
        elif item.kind == "key":
            self._on_key(item.door or "", item.payload, now)
        elif item.kind == "tamper":
            self.link.send_event(DeviceTamper(open=item.payload))
            log.warning("door=%s event=tamper open=%s", item.door, item.payload)
        elif item.kind == "acl_result":
            self._after_acl(item.payload, now)
        elif item.kind == "lockdown_stored":
            if self._lockdown_override == item.payload:
                self._lockdown_override = None
        elif item.kind == "fault":
            raise item.payload
        elif item.kind == "broadcast":
            self._on_broadcast(item.payload, now)
        elif item.kind == "response":
            self._on_response(item.payload, now)
        elif item.kind == "call":
            item.payload()
        elif item.kind == "connected":
            if self.cache.version is None or self._staging_since is not None:
                self._last_resync = None
                self._request_resync(now, "connected without a complete ACL")

    def _fail_secure(self, exc: BaseException) -> None:
        self.fault = f"{type(exc).__name__}: {exc}"[:200]
        log.critical("event=fail_secure error=%s", self.fault, exc_info=exc)
        for door_id, io in self.doors.items():
            try:
                io.set_relay(False)
                io.show("fault")
            except Exception:
                log.exception("door=%s event=relay_off_failed", door_id)
        what = str(exc)[:150] if isinstance(exc, RelayFault) else "internal error"
        try:
            self.link.send_event(DeviceFault(fault=f"{what} ({type(exc).__name__})"))
            self.link.publish_status(faults=[what])
        except Exception:
            log.exception("event=fault_event_failed")
        self.exit_code = EXIT_FAULT
        self._stop.set()
        self._store.put(None)
        self.done.set()

    # ------------------------------------------------------------------ doors
    def _configure_door(self, door_id: str) -> None:
        rules = self.cache.door(door_id)
        if rules is not None:
            self._states[door_id] = doorsm.step(
                self._states[door_id], doorsm.Configure(rules.strike_s, rules.held_open_s),
                self._clock())[0]

    def _apply(self, door_id: str, event: doorsm.DoorInput, now: datetime) -> None:
        if door_id not in self.doors:
            log.warning("event=input_for_unknown_door door=%s", door_id)
            return
        state, effects = doorsm.step(self._states[door_id], event, now)
        self._states[door_id] = state
        self._carry_out(door_id, effects)

    def _carry_out(self, door_id: str, effects: list[doorsm.Effect]) -> None:
        io = self.doors[door_id]
        for effect in effects:
            if isinstance(effect, doorsm.Emit):
                self.link.send_event(effect.event)
            elif isinstance(effect, doorsm.Relay):
                io.set_relay(effect.on)
            elif isinstance(effect, doorsm.Led):
                _cosmetic(io.show, effect.pattern, door_id)
            elif isinstance(effect, doorsm.Buzzer):
                _cosmetic(io.sound, effect.pattern, door_id)

    def state_of(self, door_id: str) -> doorsm.DoorState:
        """The door machine's current state."""
        return self._states[door_id]

    # ------------------------------------------------------------------ cards and PINs
    def _decide(self, door_id: str, presentation: policy.Presentation,
                now: datetime) -> policy.Decision:
        self._assess_clock(now)
        cutoff = now - timedelta(seconds=RECENT_KEEP_S)
        while self._recent and self._recent[0].at < cutoff:
            self._recent.popleft()
        view = self.cache.view()
        if self._lockdown_override is not None and self._lockdown_override != view.lockdown:
            view = replace(view, lockdown=self._lockdown_override)
        decision = policy.decide(view, door_id, presentation, now, tuple(self._recent),
                                 is_clock_trusted=self._is_clock_trusted)
        self.decisions.append((door_id, decision))
        return decision

    def _on_card(self, door_id: str, uid: bytes, now: datetime) -> None:
        if door_id not in self.doors:
            log.warning("event=card_at_unknown_door door=%s", door_id)
            return
        if len(uid) not in (4, 7, 10):
            # NOTE: the UID itself is never logged, only its length.
            log.warning("door=%s event=bad_read uid_bytes=%d", door_id, len(uid))
            decision = policy.Decision(False, door_id, "bad_read", detail=f"{len(uid)} bytes")
            self.decisions.append((door_id, decision))
            self._outcome(door_id, decision, now)
            return
        cred = card_hmac(self._site_key, uid)
        self._pending_pin.pop(door_id, None)
        self._keys[door_id] = ""
        decision = self._decide(door_id, policy.Presentation(cred, card_at=now), now)
        if decision.is_awaiting_pin:
            rules = self.cache.door(door_id)
            timeout_s = rules.pin_timeout_s if rules is not None else 10
            self._pending_pin[door_id] = _PendingPin(cred, now, now + timedelta(seconds=timeout_s))
            self._apply(door_id, doorsm.AwaitPin(), now)
            log.info("door=%s event=awaiting_pin holder=%s", door_id, decision.holder)
            return
        self._outcome(door_id, decision, now)

    def _on_key(self, door_id: str, key: str, now: datetime) -> None:
        buffer = self._keys.get(door_id, "")
        if key == "*":
            self._keys[door_id] = ""
        elif key == "#":
            self._keys[door_id] = ""
            self._on_pin(door_id, buffer, now)
        elif len(buffer) < policy.PIN_MAX_DIGITS + 4:
            self._keys[door_id] = buffer + key

    def _on_pin(self, door_id: str, digits: str, now: datetime) -> None:
        pending = self._pending_pin.pop(door_id, None)
        if pending is None:
            log.info("door=%s event=pin_without_card", door_id)
            self._apply(door_id, doorsm.Deny(), now)
            return
        entered = digits[:-1] if digits.endswith("#") else digits
        if "*" in entered:
            entered = entered.rsplit("*", 1)[1]
        decision = self._decide(
            door_id, policy.Presentation(pending.cred, pin=entered, card_at=pending.card_at), now)
        self._outcome(door_id, decision, now)

    def _outcome(self, door_id: str, decision: policy.Decision, now: datetime) -> None:
        """Record and carry out a final decision: event first, then the strike."""
        if decision.granted:
            io = self.doors[door_id]
            if not io.relay_ready():
                # What the door did is what is logged: no strike, no grant.
                log.error("door=%s event=relay_not_ready holder=%s", door_id, decision.holder)
                self.link.send_event(AccessDenied(door=door_id, reason="relay_fault",
                                                  cred=decision.cred, holder=decision.holder,
                                                  severity="critical"))
                # A strike we cannot drive is a hardware fault: fail secure and restart.
                raise RelayFault(f"strike relay of door {door_id} cannot be driven")
            self.link.send_event(AccessGranted(
                door=door_id, cred=decision.cred or "", holder=decision.holder or "",
                via=decision.via, escort_by=decision.escort_by))
            try:
                self._apply(door_id, doorsm.Grant(decision.unlock_s), now)
            except Exception as exc:
                # The grant is already durable (events go out before the strike moves); the relay
                # then failed, so the log must also say the door did not open for this card.
                log.error("door=%s event=relay_failed_after_grant holder=%s", door_id, decision.holder)
                self.link.send_event(AccessDenied(door=door_id, reason="relay_fault",
                                                  cred=decision.cred, holder=decision.holder,
                                                  severity="critical"))
                raise RelayFault(f"strike relay of door {door_id} failed: {exc}") from exc
            self._recent.append(policy.Recent(now, door_id, decision.cred or "",
                                              decision.holder or "", "granted",
                                              decision.can_escort, decision.escort_required))
            log.info("door=%s event=granted holder=%s escort_by=%s", door_id, decision.holder,
                     decision.escort_by)
            return
        self.link.send_event(AccessDenied(door=door_id, reason=decision.reason,  # type: ignore
                                          cred=decision.cred, holder=decision.holder,
                                          severity=decision.severity))
        if decision.reason == "wrong_pin" and decision.cred:
            self._recent.append(policy.Recent(now, door_id, decision.cred, decision.holder or "",
                                              "wrong_pin"))
            if decision.alert == "wrong_pins":
                self.link.send_event(WrongPins(door=door_id, cred=decision.cred,
                                               holder=decision.holder,
                                               failures=decision.pin_failures))
        self._apply(door_id, doorsm.Deny(), now)
        log.info("door=%s event=denied reason=%s detail=%s holder=%s", door_id, decision.reason,
                 decision.detail, decision.holder)

    # ------------------------------------------------------------------ ACL
    def _apply_acl(self, env: Envelope, now: datetime) -> ApplyResult | None:
        """On the store thread: apply one ACL message to the cache."""
        body = env.body
        if isinstance(body, AclSnapshot):
            result = self.cache.apply_snapshot(body, now)
        elif isinstance(body, AclDelta):
            result = self.cache.apply_delta(body, now)
        else:
            log.warning("event=acl_unexpected_type type=%s", env.type)
            return None
        log.info("event=acl type=%s seq=%d outcome=%s version=%s reason=%s", env.type, env.seq,
                 result.outcome, result.version, result.reason)
        return result

    def _is_lockdown(self) -> bool:
        if self._lockdown_override is not None:
            return self._lockdown_override
        return self.cache.lockdown

    def _after_acl(self, result: ApplyResult, now: datetime) -> None:
        if result.outcome == "staged":
            self._staging_since = self._staging_since or now
            return
        if result.outcome in ("applied", "current"):
            self._staging_since = None
            self._last_resync = None  # answered: a new gap may ask again at once
            self.link.ack_acl(AclApplied(version=result.version or 0))
            for door_id in self.doors:
                self._configure_door(door_id)
                if self._states[door_id].is_lockdown != self._is_lockdown():
                    self._apply(door_id, doorsm.SetLockdown(self._is_lockdown()), now)
            self._publish_status(now, force=True)
        elif result.outcome == "resync":
            self._request_resync(now, result.reason)
        elif result.outcome == "refused" and result.reason.startswith(("apply failed",
                                                                       "staging failed")):
            self._request_resync(now, "apply failed")

    def _request_resync(self, now: datetime, why: str) -> None:
        if (self._last_resync is not None
                and now - self._last_resync < timedelta(seconds=RESYNC_MIN_INTERVAL_S)):
            return
        corr = secrets.token_hex(8)
        self._resync_corrs = {*list(self._resync_corrs)[-7:], corr}
        delivery = self.link.request(AclResync(corr=corr, have_version=self.cache.version,
                                               why=why[:200]))
        # Unsent (offline) requests do not count: the next connect asks again.
        self._last_resync = now if getattr(delivery, "sent", True) else None
        log.info("event=acl_resync_requested have=%s why=%s", self.cache.version, why)

    def _on_response(self, env: Envelope, now: datetime) -> None:
        body = env.body
        if not isinstance(body, Response) or body.corr not in self._resync_corrs:
            return
        self._resync_corrs.discard(body.corr)
        version = body.data.get("version")
        if body.ok and isinstance(version, int) and version == self.cache.version:
            # The hub confirms the version in force: a successful sync with nothing to change.
            self._store.put(("touch_sync", now))
            log.info("event=acl_confirmed version=%s", version)

    def _on_broadcast(self, env: Envelope, now: datetime) -> None:
        body = env.body
        if not isinstance(body, Lockdown):
            return
        if body.buildings and self.cache.building not in body.buildings:
            return
        # In force at once; the store thread writes it down (it then holds across restarts).
        self._lockdown_override = body.active
        self._store.put(("lockdown", body.active))
        for door_id in self.doors:
            self._apply(door_id, doorsm.SetLockdown(body.active), now)
        log.warning("event=lockdown active=%s by=%s", body.active, body.by)
        self._publish_status(now, force=True)

    # ------------------------------------------------------------------ timers, clock, status
    def _timers(self, now: datetime) -> None:
        for door_id in self.doors:
            deadline = doorsm.next_deadline(self._states[door_id])
            if deadline is not None and now >= deadline:
                self._apply(door_id, doorsm.Tick(), now)
        for door_id, pending in list(self._pending_pin.items()):
            if now >= pending.deadline:
                del self._pending_pin[door_id]
                card = self.cache.credential(pending.cred)
                decision = policy.Decision(False, door_id, "pin_timeout", cred=pending.cred,
                                           holder=card.holder if card else None)
                self.decisions.append((door_id, decision))
                self._outcome(door_id, decision, now)
        if self._staging_since is not None and (
                now - self._staging_since > timedelta(seconds=STAGING_TIMEOUT_S)):
            self._staging_since = None
            self._request_resync(now, "snapshot chunks stopped arriving")
        if self._next_sync_check is None:
            self._next_sync_check = now + self._sync_check
        elif now >= self._next_sync_check:
            self._next_sync_check = now + self._sync_check
            self._request_resync(now, "periodic check")
        self._assess_clock(now)
        self._publish_status(now)

    def _assess_clock(self, now: datetime) -> None:
        if not self._ntp_seen:
            self._ntp_seen = bool(self._ntp_synced())
        trusted = is_trusted(now, self._trust_anchor, self._ntp_seen, self._tolerance_s)
        if trusted != self._is_clock_trusted:
            log.warning("event=clock trusted=%s", trusted)
        self._is_clock_trusted = trusted
        if trusted and (self._last_trusted_save is None
                        or now - self._last_trusted_save >= timedelta(seconds=TRUSTED_SAVE_S)):
            self._store.put(("trusted", now))
            self._last_trusted_save = now
            self._trust_anchor = max(now, self._trust_anchor) if self._trust_anchor else now

    @property
    def pending_resyncs(self) -> frozenset[str]:
        """Correlation ids of resync requests not yet answered."""
        return frozenset(self._resync_corrs)

    @property
    def is_clock_trusted(self) -> bool:
        """The clock state used by the latest decision."""
        return self._is_clock_trusted

    def is_stale(self, now: datetime) -> bool:
        """True when any door's ACL is past its stale limit."""
        return any(policy.is_stale(self.cache, rules, now)
                   for rules in (self.cache.door(d) for d in self.doors) if rules is not None) \
            or self.cache.version is None

    def status_fields(self, now: datetime) -> dict[str, Any]:
        """What the retained status says about this controller."""
        faults = [f"fault: {self.fault}"] if self.fault else []
        if self.cache.version is not None:
            # A door this Pi drives that the hub's ACL does not list refuses every card.
            faults += [f"door {d} not in ACL" for d in self.doors if self.cache.door(d) is None]
        return {"acl_version": self.cache.version,
                "clock": "trusted" if self._is_clock_trusted else "untrusted",
                "stale_acl": self.is_stale(now), "faults": faults}

    def _publish_status(self, now: datetime, *, force: bool = False) -> None:
        fields = self.status_fields(now)
        key = tuple(sorted((k, str(v)) for k, v in fields.items()))
        due = self._next_status is None or now >= self._next_status
        if force or due or key != self._status_key:
            self._status_key = key
            self._next_status = now + self._status_interval
            self.link.publish_status(**fields)


def _cosmetic(action: Callable[[str], None], pattern: str, door_id: str) -> None:
    # An LED or buzzer failing must not stop the door from deciding; it is logged.
    try:
        action(pattern)
    except Exception:
        log.exception("door=%s event=indicator_failed pattern=%s", door_id, pattern)
