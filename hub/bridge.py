"""The MQTT bridge: ACLs out, events in (each stored once, acked after commit), device state.

Run it as a process (``gatehouse-hub bridge``) or as a thread of another process
(:meth:`Bridge.start` / :meth:`Bridge.stop`). Paho's thread only verifies nothing and queues;
one worker thread verifies, writes in batches and acks; one publisher thread turns committed
:class:`~hub.models.AclChange` rows into signed ``acl.delta`` / ``acl.snapshot`` messages.

Acks and the device's shared counter: a device numbers *every* message it sends from one
counter (ADR 0001), so its events have gaps, and it deletes every outbox entry up to the
``upto`` of an ``events.ack``. The hub therefore acks the highest number below which every
number is accounted for: a committed event, or another message of that device the hub saw
(status, ack, request, the will announced by ``will_seq``). A number that stays missing while
a later one has been known for ``gap_settle_s`` (several of the device's re-send periods, in
which any unacked event would have been sent again) is taken to be a message the hub was never
meant to see, so a lost status never stalls a device's outbox forever.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, update

from link import messages as m
from link import topics

from link.client import BrokerConfig, Inbound, LinkClient
from link.envelope import Envelope, Signer
from link.sequence import ReplayGuard
from hub.visitors import handlers as visitor_handlers
from hub.visitors import pool as visitor_pool
from hub.db import Database
from hub.ingest_pool import Opening, OpenPool, default_workers
from hub.keyring import Keyring
from hub.models import AclChange, Device
from hub.services import acl, alerts, buildings, devices, events, revocations

log = logging.getLogger("gatehouse.hub.bridge")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The wall clock in UTC."""
    return datetime.now(UTC)


class HubSequence:
    """The hub's outgoing sequence numbers: microseconds since the epoch, strictly increasing.

    Devices keep a persisted high-water mark per stream, so a restarted hub must never reuse a
    number; the wall clock in microseconds gives that without a write per message.
    """

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        """The next number."""
        with self._lock:
            self._last = max(self._last + 1, time.time_ns() // 1000)
            return self._last


@dataclass
class BridgeStats:
    """Counters a test or an operator can read."""

    events_received: int = 0
    events_stored: int = 0
    events_duplicate: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    acks_sent: int = 0
    acl_messages_sent: int = 0
    batches: int = 0


@dataclass(frozen=True)
class _Item:
    kind: topics.Kind
    device: str
    payload: bytes
    retain: bool
    mono: float


class Bridge:
    """The hub's side of the wire contract."""

    def __init__(self, database: Database, keyring: Keyring, broker: BrokerConfig, *,
                 clock: Clock = utc_now, batch_size: int = 1000, batch_wait_s: float = 0.01,
                 gap_settle_s: float = 60.0, poll_s: float = 0.05,
                 key_return_days: int = 3, verify_workers: int | None = None) -> None:
        self.db = database
        self.keyring = keyring
        self.clock = clock
        self.batch_size = batch_size
        self.batch_wait_s = batch_wait_s
        self.gap_settle_s = gap_settle_s
        self.poll_s = poll_s
        self.key_return_days = key_return_days
        self.signer = Signer(topics.HUB_ID, keyring.hub_key)
        self.visitor_settings = visitor_handlers.VisitorSettings.from_site_key(keyring.site_key)
        self.visitor_jobs = visitor_handlers.VisitorJobs(self.visitor_settings)
        self.seq = HubSequence()
        self.stats = BridgeStats()
        self.guard = ReplayGuard()
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=100_000)
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._revoked: set[str] = set()
        self._key_checked: dict[str, float] = {}
        #: device -> {seq: monotonic time first known} above the device's acked point
        self._known: dict[str, dict[int, float]] = defaultdict(dict)
        self._upto: dict[str, int] = {}
        self._stalled: set[str] = set()
        self._wake = threading.Event()
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        #: worker processes that open (parse, verify, validate) large batches of payloads
        self._pool: OpenPool | None = OpenPool(
            default_workers() if verify_workers is None else verify_workers)
        self.client = LinkClient(broker)
        for topic_filter, kind in ((topics.all_events(), topics.Kind.EVENTS),
                                   (topics.all_status(), topics.Kind.STATUS),
                                   (topics.all_device_acks(), topics.Kind.DEV_ACK),
                                   (topics.all_requests(), topics.Kind.REQ)):
            self.client.subscribe(topic_filter, self._enqueue(kind))
        self._load_keys()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Connect and run the worker and publisher threads."""
        self._stop.clear()
        self.client.start()
        for name, target in (("bridge-ingest", self._ingest_loop),
                             ("bridge-publish", self._publish_loop)):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        """Finish the queued work, stop the threads and disconnect (idempotent)."""
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout=10)
        self._threads.clear()
        self.client.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def run_forever(self) -> None:
        """Run until SIGINT/SIGTERM (the ``gatehouse-hub bridge`` process)."""
        self.start()
        try:
            while not self._stop.wait(1.0):
                pass
        finally:
            self.stop()

    def notify(self) -> None:
        """ACL changes were committed: publish them now instead of at the next poll."""
        self._wake.set()

    # ------------------------------------------------------------------ keys
    def _load_keys(self) -> None:
        with self.db.session() as s:
            self._keys = devices.public_keys(s)
            self._revoked = set(s.scalars(select(Device.id).where(Device.status == "revoked")))

    def _key_for(self, device_id: str) -> Ed25519PublicKey | None:
        key = self._keys.get(device_id)
        if key is not None or device_id in self._revoked:
            return key
        # A device added since start: look it up, at most once a second per id.
        now = time.monotonic()
        if now - self._key_checked.get(device_id, 0.0) < 1.0:
            return None
        self._key_checked[device_id] = now
        self._load_keys()
        return self._keys.get(device_id)

    def forget_device(self, device_id: str) -> None:
        """A device was revoked: refuse it from now on."""
        self._keys.pop(device_id, None)
        self._revoked.add(device_id)

    # ------------------------------------------------------------------ inbound
    def _enqueue(self, kind: topics.Kind) -> Callable[[Inbound], None]:
        def handle(msg: Inbound) -> None:
            try:
                parsed = topics.parse(msg.topic)
            except topics.TopicError:
                self._drop("bad_topic", msg.topic)
                return
            if parsed.kind != kind or parsed.device is None:
                self._drop("bad_topic", msg.topic)
                return
            if not msg.payload and kind == topics.Kind.STATUS:
                return  # a retained status being cleared (device removed), not a message
            self._queue.put(_Item(kind, parsed.device, msg.payload, msg.retain, time.monotonic()))
        return handle

    def _drop(self, reason: str, where: str) -> None:
        self.stats.dropped[reason] += 1
        log.warning("bridge dropped reason=%s where=%s", reason, where)

    def _open_all(self, batch: list[_Item]) -> Callable[[], list[tuple[Envelope | None, str]]]:
        """Start opening a batch; the returned function waits and gives (envelope, reason) each.

        The device's key is chosen here (unknown and revoked devices never reach a worker);
        parsing, Ed25519 and validation run in the pool's worker processes, or inline for a
        small batch.
        """
        reasons: list[str] = []
        todo: list[tuple[str, bytes, Ed25519PublicKey]] = []
        for item in batch:
            key = self._key_for(item.device)
            if key is None:
                reasons.append("revoked_device" if item.device in self._revoked
                               else "unknown_device")
            else:
                reasons.append("")
                todo.append((item.device, item.payload, key))
        pool = self._pool
        opening = pool.open(todo) if pool is not None else Opening(None, [(todo, None)])

        def results() -> list[tuple[Envelope | None, str]]:
            opened = iter(opening.result())
            return [(None, reason) if reason else next(opened) for reason in reasons]
        return results

    def _alert_device(self, device_id: str, reason: str) -> None:
        text = {"unknown_device": "messages from an unregistered device",
                "revoked_device": "messages from a revoked device",
                "bad_signature": "a message whose signature does not verify"}[reason]
        try:
            with self.db.session() as s:
                dev = s.get(Device, device_id)
                alerts.raise_alert(s, key=f"{reason}:{device_id}", kind=reason,
                                   severity="critical", now=self.clock(), device_id=device_id,
                                   building_id=dev.building_id if dev else None,
                                   message=f"{text}: {device_id}")
        except Exception:
            log.exception("bridge could not record an alert device=%s", device_id)

    def _ingest_loop(self) -> None:
        last_tick = time.monotonic()
        # The worker processes open one batch while this thread stores, commits and acks the
        # one before (batches still finish in arrival order).
        pending: tuple[list[_Item], Callable[[], list[tuple[Envelope | None, str]]]] | None = None
        while True:
            batch: list[_Item] = []
            if pending is None:
                try:
                    batch.append(self._queue.get(timeout=0.2))
                except queue.Empty:
                    pass
            deadline = time.monotonic() + self.batch_wait_s
            while (batch or pending is not None) and len(batch) < self.batch_size:
                try:
                    if pending is None:
                        batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                    else:  # take what is there: the pending batch must not wait for more
                        batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            started = None
            if batch:
                try:
                    started = (batch, self._open_all(batch))
                except Exception:
                    log.exception("bridge batch failed items=%d", len(batch))
            if pending is not None:
                try:
                    self.process(*pending)
                except Exception:
                    # NOTE: nothing was acked for this batch; devices re-send, the hub stores once.
                    log.exception("bridge batch failed items=%d", len(pending[0]))
            pending = started
            if time.monotonic() - last_tick >= 1.0:
                last_tick = time.monotonic()
                try:
                    self.tick()
                except Exception:
                    log.exception("bridge tick failed")
            if self._stop.is_set() and self._queue.empty() and pending is None:
                return

    def process(self, batch: list[_Item],
                opening: Callable[[], list[tuple[Envelope | None, str]]] | None = None) -> None:
        """Handle one batch: controls in order, events in one transaction, then the acks.

        ``opening`` is the batch's :meth:`_open_all` when the caller started it earlier.
        """
        results = (opening or self._open_all(batch))()
        opened: list[tuple[_Item, Envelope]] = []
        for item, (env, reason) in zip(batch, results, strict=True):
            if env is None:
                self._drop(reason, item.device)
                if reason in ("unknown_device", "revoked_device", "bad_signature"):
                    self._alert_device(item.device, reason)
                continue
            if item.kind == topics.Kind.EVENTS:
                if not isinstance(env.body, m.Event):
                    self._drop("unexpected_type", item.device)
                    continue
                self.stats.events_received += 1
            else:
                # Any message of the device accounts for its number in the shared counter.
                self._known[item.device].setdefault(env.seq, item.mono)
                if isinstance(env.body, m.DeviceStatus) and env.body.will_seq is not None:
                    self._known[item.device].setdefault(env.body.will_seq, item.mono)
            opened.append((item, env))
        event_items = [(i, e) for i, e in opened if i.kind == topics.Kind.EVENTS]
        if event_items:
            self._store_events(event_items)
        acks = [(i, e) for i, e in opened
                if i.kind == topics.Kind.DEV_ACK and isinstance(e.body, m.AclApplied)]
        if acks:
            self._acl_acks(acks)
        statuses = [(i, e) for i, e in opened
                    if i.kind == topics.Kind.STATUS and isinstance(e.body, m.DeviceStatus)]
        if statuses:
            self._statuses(statuses)
        for item, env in opened:
            handled = item.kind == topics.Kind.EVENTS or (
                item.kind == topics.Kind.DEV_ACK and isinstance(env.body, m.AclApplied)) or (
                item.kind == topics.Kind.STATUS and isinstance(env.body, m.DeviceStatus))
            if not handled:
                try:
                    self._control(item, env)
                except Exception:
                    log.exception("bridge control failed device=%s type=%s", item.device,
                                  env.type)
        self.stats.batches += 1

    def _store_events(self, items: list[tuple[_Item, Envelope]]) -> None:
        now = self.clock()
        incoming = [events.IncomingEvent(i.device, e.seq, e.type, e.at_datetime, e.body)
                    for i, e in items]
        touched = sorted({i.device for i, _ in items})
        acks: dict[str, int] = {}
        with self.db.session() as s:
            # One query for the batch's devices (not one per device, each autoflushing the last).
            devs = {d.id: d for d in s.scalars(select(Device).where(Device.id.in_(touched)))}
            building_of = {d.id: d.building_id for d in devs.values()}
            new = events.store(s, incoming, building_of, now)
            events.apply_effects(s, new, building_of, now)
            for ev in new:  # kiosk visits: in this transaction, so before the ack
                if ev.type in visitor_handlers.EVENT_TYPES:
                    visitor_handlers.handle_event(s, self.visitor_settings, ev.device_id, ev.type,
                                                  ev.body, now)
            s.flush()
            mono = time.monotonic()
            for ev in incoming:
                self._known[ev.device_id].setdefault(ev.seq, mono)
            with s.no_autoflush:
                for device_id in touched:
                    dev = devs.get(device_id)
                    if dev is None:  # removed since its key was checked: stored, never acked
                        continue
                    upto = self._advance(s, dev)
                    if upto is not None:
                        acks[device_id] = upto
                    dev.last_event_at = now
        self.stats.events_stored += len(new)
        self.stats.events_duplicate += len(incoming) - len(new)
        for device_id, upto in acks.items():  # only after the commit above
            self._send(topics.hub_ack(device_id), m.EventsAck(upto=upto))
            self.stats.acks_sent += 1

    def _advance(self, session, dev: Device) -> int | None:
        """Move the device's acked point over every number accounted for; return it."""
        upto = dev.events_upto if dev.events_upto is not None else 0
        if dev.id not in self._upto:
            # first contact in this process: what is stored above the acked point counts
            t = time.monotonic()
            for seq in events.committed_above(session, dev.id, upto):
                self._known[dev.id].setdefault(seq, t)
        known = self._known[dev.id]
        seqs = sorted(s for s in known if s > upto)
        now = time.monotonic()
        suffix_min = [0.0] * len(seqs)
        low = float("inf")
        for idx in range(len(seqs) - 1, -1, -1):
            low = min(low, known[seqs[idx]])
            suffix_min[idx] = low
        cur = upto
        stalled = False
        for idx, seq in enumerate(seqs):
            if seq == cur + 1 or now - suffix_min[idx] >= self.gap_settle_s:
                cur = seq
                continue
            stalled = True
            break
        for seq in [s for s in known if s <= cur]:
            del known[seq]
        if stalled:
            self._stalled.add(dev.id)
        else:
            self._stalled.discard(dev.id)
        self._upto[dev.id] = cur
        if cur == 0 and dev.events_upto is None:
            return None
        dev.events_upto = cur
        return cur

    def tick(self) -> None:
        """Once a second: settle old gaps (and ack), alert on overdue records-room keys."""
        stalled = sorted(self._stalled)
        acks: dict[str, int] = {}
        with self.db.session() as s:
            for device_id in stalled:
                dev = s.get(Device, device_id)
                if dev is None:
                    continue
                before = dev.events_upto
                upto = self._advance(s, dev)
                if upto is not None and upto != before:
                    acks[device_id] = upto
            revocations.check_overdue_keys(s, self.clock())
            # pool visitor cards (ADR 0003): revoke at expiry, flag cards not handed back
            visitor_pool.sweep(s, self.clock())
            # desk verdicts to kiosks, closing time, photo shredding (hub/visitors/handlers.py)
            visit_out = self.visitor_jobs.run(s, self.clock())
        for device_id, upto in acks.items():
            self._send(topics.hub_ack(device_id), m.EventsAck(upto=upto))
            self.stats.acks_sent += 1
        for device_id, body in visit_out:
            self._send(topics.response(device_id), body)

    # ------------------------------------------------------------------ controls
    def _control(self, item: _Item, env: Envelope) -> None:
        body = env.body
        if item.kind == topics.Kind.REQ and isinstance(body, (m.AclResync, m.LockdownRequest)):
            if not self.guard.accept(item.device, "req", env.seq):
                self._drop("replay", item.device)
                return
            self._on_request(item.device, body)
        elif item.kind == topics.Kind.REQ and env.type in visitor_handlers.REQUEST_TYPES:
            if not self.guard.accept(item.device, "req", env.seq):
                self._drop("replay", item.device)
                return
            with self.db.session() as s:
                answer = visitor_handlers.handle_request(s, self.visitor_settings, item.device,
                                                         env.type, body, self.clock())
            self._send(topics.response(item.device), answer)
        else:
            self._drop("unexpected_type", item.device)

    def _acl_acks(self, acks: list[tuple[_Item, Envelope]]) -> None:
        """Every ``acl.applied`` of a batch in one transaction (a revocation's acks arrive together)."""
        fresh = []
        for item, env in acks:
            if self.guard.accept(item.device, "ack", env.seq):
                fresh.append((item.device, env.body.version))
            else:
                self._drop("replay", item.device)
        if not fresh:
            return
        applied: dict[str, int] = {}
        for device_id, version in fresh:
            applied[device_id] = max(version, applied.get(device_id, version))
        with self.db.session() as s:
            revocations.record_acl_acks(s, applied, self.clock())

    def _statuses(self, items: list[tuple[_Item, Envelope]]) -> None:
        """Every status of a batch in one transaction; catch-up ACLs go out after the commit."""
        fresh: list[tuple[str, m.DeviceStatus]] = []
        for item, env in items:
            body = env.body
            if self.guard.accept_status(item.device, env.seq, online=body.state == "online",
                                        will_seq=body.will_seq):
                fresh.append((item.device, body))
            else:
                self._drop("replay", item.device)
        if not fresh:
            return
        now = self.clock()
        send: list[tuple[str, m.Body]] = []
        with self.db.session() as s, s.no_autoflush:
            # One query for the batch's devices, and their rows written together at the commit:
            # a get (and flush) per status held the write lock for the whole batch, and the
            # acks of a revocation queue behind it.
            devs = {d.id: d for d in s.scalars(select(Device).where(
                Device.id.in_(sorted({device_id for device_id, _ in fresh}))))}
            for device_id, body in fresh:
                dev = devs.get(device_id)
                if dev is None:
                    continue
                devices.record_status(s, dev, online=body.state == "online",
                                      status=m.encode_body(body), now=now)
                if body.state == "online" and dev.kind == "controller":
                    send += [(topics.acl(device_id), b)
                             for b in acl.catch_up(s, dev, body.acl_version, now)]
        self._send_all(send)
        self.stats.acl_messages_sent += len(send)

    def _on_request(self, device_id: str, body: m.AclResync | m.LockdownRequest) -> None:
        now = self.clock()
        if isinstance(body, m.AclResync):
            with self.db.session() as s:
                dev = s.get(Device, device_id)
                chunks = acl.snapshot(s, dev, now) if dev.kind == "controller" else []
            for chunk in chunks:
                self._send(topics.acl(device_id), chunk)
                self.stats.acl_messages_sent += 1
            version = chunks[0].version if chunks else 0
            self._send(topics.response(device_id),
                       m.Response(corr=body.corr, ok=bool(chunks), data={"version": version},
                                  error=None if chunks else "no ACL for this device"))
            return
        with self.db.session() as s:
            dev = s.get(Device, device_id)
            buildings.set_lockdown(s, dev.building_id, body.active,
                                   actor=f"device:{device_id}", now=now)
            building_id = dev.building_id
        self._send(topics.broadcast(), m.Lockdown(active=body.active, buildings=[building_id],
                                                  by=f"{device_id} {body.by}"[:200]))
        self._send(topics.response(device_id), m.Response(corr=body.corr, ok=True))
        self.notify()

    # ------------------------------------------------------------------ outbound
    def _send(self, topic: str, body: m.Body) -> bool:
        return self._send_all([(topic, body)]) == 1

    def _send_all(self, messages: list[tuple[str, m.Body]]) -> int:
        """Sign and publish in order under one hold of the lock; return how many went out."""
        # NOTE: numbering and publishing under one lock: devices drop anything not above the
        # last number seen on a stream, so two threads must not publish out of number order.
        sent = 0
        with self._send_lock:
            now = self.clock()
            # Seal them all, then hand them to paho back to back: sealing between publishes
            # made this thread and paho's network thread trade the GIL once per message.
            sealed = [(topic, self.signer.seal(body, seq=self.seq.next(), now=now))
                      for topic, body in messages]
            for topic, payload in sealed:
                sent += self.client.publish(topic, payload).sent
        return sent

    def _publish_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            if not self.client.connected.is_set():
                continue
            try:
                while self.publish_pending() and not self._stop.is_set():
                    pass
            except Exception:
                log.exception("bridge publish failed")

    def publish_pending(self, limit: int = 2000) -> int:
        """Publish committed, unpublished ACL changes; return how many changes were handled."""
        now = self.clock()
        out: list[tuple[str, m.Body]] = []
        with self.db.session() as s:
            changes = list(s.scalars(select(AclChange).where(AclChange.published.is_(False))
                                     .order_by(AclChange.id).limit(limit)))
            if not changes:
                return 0
            by_device: dict[str, list[AclChange]] = defaultdict(list)
            for change in changes:
                by_device[change.device_id].append(change)
            # One query for the devices and one UPDATE for the marks, whatever their number
            # (a termination queues a change for every door at once).
            devs = {d.id: d for d in s.scalars(select(Device).where(
                Device.id.in_(sorted(by_device))))}
            for device_id, group in by_device.items():
                dev = devs.get(device_id)
                if dev is None or dev.status != "active":
                    pass
                elif any(c.kind == "snapshot" for c in group):
                    out += [(topics.acl(device_id), chunk)
                            for chunk in acl.snapshot(s, dev, now)]
                else:
                    out += [(topics.acl(device_id), acl.delta_body(c)) for c in group]
            s.execute(update(AclChange).where(AclChange.id.in_([c.id for c in changes]))
                      .values(published=True).execution_options(synchronize_session=False))
            # Mark first, publish after the commit: a crash in between leaves the device
            # behind, and its next status (or a gap it sees) brings it up to date.
        self._send_all(out)
        self.stats.acl_messages_sent += len(out)
        return len(changes)
