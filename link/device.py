"""A device's side of the wire contract (door controllers and kiosks use it alike).

:class:`DeviceLink` signs everything with the device key, verifies everything from the hub
with the hub key and refuses replays, keeps events in the durable outbox until the hub's
``events.ack`` covers them, replays unacknowledged events after every reconnect, and keeps a
retained status with a last will. Domain code hands it typed bodies and gets verified
:class:`~link.envelope.Envelope` objects back; it never sees paho.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from link import topics
from link.client import BrokerConfig, Delivery, Inbound, LinkClient
from link.envelope import Envelope, Signer, open_envelope
from link.messages import Body, DeviceStatus, EventsAck, MessageError, SimInput, decode_sim
from link.outbox import Outbox
from link.sequence import ReplayGuard

log = logging.getLogger("gatehouse.link.device")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The wall clock in UTC (the default clock of a DeviceLink)."""
    return datetime.now(UTC)


class DeviceLink:
    """Everything a device says and hears, over one MQTT connection.

    ``state_dir`` holds ``outbox.db`` (events not yet committed by the hub, and the device's
    sequence counter) and ``replay.db`` (the highest number accepted from the hub per stream).
    """

    def __init__(
        self,
        device_id: str,
        *,
        kind: str,
        private_key: Ed25519PrivateKey,
        hub_key: Ed25519PublicKey,
        broker: BrokerConfig,
        state_dir: Path,
        clock: Clock = utc_now,
        version: str = "",
        accept_sim: bool = False,
        resend_s: float = 15.0,
    ) -> None:
        self.device_id = topics.check_id(device_id)
        self.kind = kind
        self.version = version
        self._clock = clock
        self._signer = Signer(device_id, private_key)
        self._keys = {topics.HUB_ID: hub_key}
        state_dir = Path(state_dir)
        self.outbox = Outbox(state_dir / "outbox.db")
        self.guard = ReplayGuard(state_dir / "replay.db")
        self._status_fields: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._handlers: dict[topics.Kind, list[Callable[[Envelope], None]]] = {
            topics.Kind.ACL: [], topics.Kind.RESP: [], topics.Kind.BROADCAST: []}
        self._sim_handlers: list[Callable[[str, SimInput], None]] = []
        self.dropped: list[tuple[str, str]] = []  # (topic, reason), most recent last, capped
        self.resend_s = resend_s
        self._stop = threading.Event()
        self._resender: threading.Thread | None = None

        self._will_seq = self.outbox.next_seq()
        will = self._signer.seal(DeviceStatus(state="offline", kind=self._kind_word()),
                                 seq=self._will_seq, now=self._clock())
        self.client = LinkClient(broker, will=(topics.status(device_id), will))
        self.client.subscribe(topics.hub_ack(device_id), self._on_hub_ack)
        self.client.subscribe(topics.acl(device_id), self._dispatch(topics.Kind.ACL))
        self.client.subscribe(topics.response(device_id), self._dispatch(topics.Kind.RESP))
        self.client.subscribe(topics.broadcast(), self._dispatch(topics.Kind.BROADCAST))
        if accept_sim:
            self.client.subscribe(topics.sim_inputs(device_id), self._on_sim, qos=0)
        self.client.add_on_connected(self._on_connected)

    def _kind_word(self) -> str:
        return self.kind if self.kind in ("controller", "kiosk") else "unknown"

    # ------------------------------------------------------------------ registration
    def on_acl(self, handler: Callable[[Envelope], None]) -> None:
        """Call ``handler`` with each verified, fresh message on ``hub/<device>/acl``."""
        self._handlers[topics.Kind.ACL].append(handler)

    def on_response(self, handler: Callable[[Envelope], None]) -> None:
        """Call ``handler`` with each verified answer on ``hub/<device>/resp``."""
        self._handlers[topics.Kind.RESP].append(handler)

    def on_broadcast(self, handler: Callable[[Envelope], None]) -> None:
        """Call ``handler`` with each verified message on ``hub/broadcast``."""
        self._handlers[topics.Kind.BROADCAST].append(handler)

    def on_sim(self, handler: Callable[[str, SimInput], None]) -> None:
        """Simulation only: call ``handler(input_name, parsed)`` for ``sim/<device>/<input>``."""
        self._sim_handlers.append(handler)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Connect in the background; reconnects by itself, re-sends unacked events."""
        self._stop.clear()
        self.client.start()
        self._resender = threading.Thread(target=self._resend_loop, name=f"resend-{self.device_id}",
                                          daemon=True)
        self._resender.start()

    def _resend_loop(self) -> None:
        # The hub may have missed a publish (it was restarting, or the broker lost it):
        # until its ack arrives, an event is sent again every resend_s.
        while not self._stop.wait(self.resend_s):
            try:
                self.resend_pending()
            except Exception:
                log.exception("resend failed device=%s", self.device_id)

    def resend_pending(self) -> int:
        """Publish every unacknowledged event again (oldest first); return how many."""
        if not self.client.connected.is_set():
            return 0
        entries = self.outbox.pending(limit=1000)
        for entry in entries:
            self.client.publish(entry.topic, entry.payload)
        return len(entries)

    def stop(self, *, clean: bool = True) -> None:
        """Say offline (when clean), disconnect, close the stores."""
        self._stop.set()
        if self._resender is not None:
            self._resender.join(timeout=5)
            self._resender = None
        if clean and self.client.connected.is_set():
            self.publish_status(state="offline").wait(2)
        self.client.stop(clean=clean)
        self.outbox.close()
        self.guard.close()

    # ------------------------------------------------------------------ sending
    def send_event(self, body: Body) -> int:
        """Store the event durably, then publish it; return its sequence number.

        The row is on disk when this returns, so the caller may act (move the relay) after.
        """
        topic = topics.events(self.device_id)
        now = self._clock()
        sealed: list[bytes] = []

        def seal(seq: int) -> bytes:
            sealed.append(self._signer.seal(body, seq=seq, now=now))
            return sealed[-1]

        seq = self.outbox.add(topic, seal)
        self.client.publish(topic, sealed[-1])
        return seq

    def send(self, topic: str, body: Body, *, retain: bool = False) -> Delivery:
        """Sign and publish a message that is not kept in the outbox (acks, requests)."""
        payload = self._signer.seal(body, seq=self.outbox.next_seq(), now=self._clock())
        return self.client.publish(topic, payload, retain=retain)

    def request(self, body: Body) -> Delivery:
        """Publish a request on ``dev/<device>/req``."""
        return self.send(topics.request(self.device_id), body)

    def ack_acl(self, body: Body) -> Delivery:
        """Publish an ``acl.applied`` on ``dev/<device>/ack``."""
        return self.send(topics.device_ack(self.device_id), body)

    def publish_status(self, **fields: Any) -> Delivery:
        """Publish the retained status; fields are remembered for the next reconnect."""
        with self._lock:
            self._status_fields.update(fields)
            merged = dict(self._status_fields)
        merged.setdefault("state", "online")
        merged["kind"] = self._kind_word()
        merged["version"] = self.version
        merged["outbox_depth"] = self.outbox.depth()
        if merged["state"] == "online":
            merged["will_seq"] = self._will_seq
        return self.send(topics.status(self.device_id), DeviceStatus(**merged), retain=True)

    # ------------------------------------------------------------------ receiving
    def _drop(self, topic: str, reason: str) -> None:
        log.warning("dropped device=%s topic=%s reason=%s", self.device_id, topic, reason)
        self.dropped.append((topic, reason))
        del self.dropped[:-100]

    def _verify(self, msg: Inbound, stream: str) -> Envelope | None:
        try:
            env = open_envelope(msg.payload, self._keys, expect_sender=topics.HUB_ID)
        except MessageError as exc:
            self._drop(msg.topic, exc.reason)
            return None
        if not self.guard.accept(env.sender, stream, env.seq):
            self._drop(msg.topic, "replay")
            return None
        return env

    def _dispatch(self, kind: topics.Kind) -> Callable[[Inbound], None]:
        def handle(msg: Inbound) -> None:
            env = self._verify(msg, kind.value)
            if env is None:
                return
            for handler in self._handlers[kind]:
                handler(env)
        return handle

    def _on_hub_ack(self, msg: Inbound) -> None:
        env = self._verify(msg, topics.Kind.HUB_ACK.value)
        if env is None:
            return
        if not isinstance(env.body, EventsAck):
            self._drop(msg.topic, "unexpected_type")
            return
        removed = self.outbox.ack(env.body.upto)
        log.debug("hub ack device=%s upto=%d removed=%d", self.device_id, env.body.upto, removed)

    def _on_sim(self, msg: Inbound) -> None:
        try:
            parsed = topics.parse(msg.topic)
            sim = decode_sim(parsed.input_name or "", msg.payload)
        except (topics.TopicError, MessageError) as exc:
            self._drop(msg.topic, getattr(exc, "reason", "bad_topic"))
            return
        for handler in self._sim_handlers:
            handler(parsed.input_name or "", sim)

    def _on_connected(self) -> None:
        self.publish_status(state="online")
        self.resend_pending()
