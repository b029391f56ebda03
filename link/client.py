"""The MQTT client wrapper every Gatehouse part uses (paho-mqtt 2.x, MQTT 5).

Handlers receive :class:`Inbound` (never paho's objects) and may raise: the exception is
logged and dropped, never raised into the network loop. After every (re)connect the client
resubscribes from its own registry and runs the ``on_connected`` callbacks (a device
republishes its status and its outbox there). A failed CONNACK stops the attempt; an
authorisation failure stops retrying altogether, since a wrong certificate will not heal.

Publishing while disconnected returns a failed :class:`Delivery` instead of queueing in
memory: what must survive lives in the outbox, and everything else is re-sent on connect.

Two ways to run it: :meth:`LinkClient.start` (paho's network thread, reconnect with capped
backoff) for services, and :meth:`LinkClient.connect` + :meth:`LinkClient.loop` with no
thread for tests that want every callback on their own stack.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from link.envelope import MAX_PAYLOAD_BYTES

log = logging.getLogger("gatehouse.link")

# MQTT 5 CONNACK reason codes after which retrying cannot help (MQTT-3.2.2.2).
_FATAL_CONNACK = {
    0x84,  # unsupported protocol version
    0x85,  # client identifier not valid
    0x86,  # bad user name or password
    0x87,  # not authorized
    0x8A,  # banned
    0x8C,  # bad authentication method
}


@dataclass(frozen=True)
class BrokerConfig:
    """Where and how to connect. TLS files, or a username/password on a loopback demo."""

    host: str
    port: int
    client_id: str
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    keepalive_s: int = 30
    backoff_min_s: float = 1.0
    backoff_max_s: float = 30.0
    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    #: 5 everywhere; 4 (MQTT 3.1.1) only for the demo's embedded broker, which lacks MQTT 5
    #: (refused publishes then go unreported).
    mqtt_version: int = 5

    @property
    def tls(self) -> bool:
        """True when the connection is encrypted."""
        return self.ca_file is not None


@dataclass(frozen=True)
class Inbound:
    """A received message as handlers see it."""

    topic: str
    payload: bytes
    retain: bool = False


Handler = Callable[[Inbound], None]


class Delivery:
    """The fate of one QoS 1 publish: resolved when the broker's PUBACK arrives."""

    def __init__(self, topic: str, sent: bool, reason: str = "") -> None:
        self.topic = topic
        self.sent = sent
        self._reason = reason
        self._done = threading.Event()
        self._accepted = False
        if not sent:
            self._done.set()

    def _resolve(self, accepted: bool, reason: str) -> None:
        self._accepted, self._reason = accepted, reason
        self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the broker answered; True when it accepted the message."""
        self._done.wait(timeout)
        return self._accepted

    @property
    def done(self) -> bool:
        """True once the broker answered or the publish was never sent."""
        return self._done.is_set()

    @property
    def accepted(self) -> bool:
        """True when the broker acknowledged with success."""
        return self._accepted

    @property
    def reason(self) -> str:
        """Why it failed (``not connected``, ``Not authorized``...), or empty."""
        return self._reason


class LinkClient:
    """One MQTT 5 connection with a subscription registry, TLS and an optional last will."""

    def __init__(self, config: BrokerConfig, *, will: tuple[str, bytes] | None = None) -> None:
        self.config = config
        self._subs: dict[str, tuple[int, list[Handler]]] = {}
        self._on_connected: list[Callable[[], None]] = []
        self._pending: dict[int, Delivery] = {}
        self._early: dict[int, tuple[bool, str]] = {}
        self._lock = threading.RLock()
        self.connected = threading.Event()
        self.fatal_error: str | None = None
        self._stopping = False
        self._will = will

        # NOTE: paho 2.x takes the old callback API when callback_api_version is left out;
        # be explicit so every callback has the VERSION2 signature.
        self._client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                   client_id=config.client_id,
                                   protocol=MQTTProtocolVersion.MQTTv5 if config.mqtt_version == 5
                                   else MQTTProtocolVersion.MQTTv311)
        self._client.enable_logger(logging.getLogger("gatehouse.link.paho"))
        self._client.reconnect_delay_set(min_delay=config.backoff_min_s,
                                         max_delay=config.backoff_max_s)
        # A device works from its outbox, not from paho's memory: keep paho's queue small.
        self._client.max_queued_messages_set(1000)
        if config.username is not None:
            self._client.username_pw_set(config.username, config.password)
        if config.tls:
            self._client.tls_set_context(self._tls_context(config))
        if will is not None:
            topic, payload = will
            self._client.will_set(topic, payload, qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_publish = self._on_publish
        self._client.on_subscribe = self._on_subscribe

    @staticmethod
    def _tls_context(config: BrokerConfig) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(config.ca_file))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if config.cert_file is not None:
            ctx.load_cert_chain(str(config.cert_file), str(config.key_file) if config.key_file else None)
        return ctx

    # ------------------------------------------------------------------ registry
    def subscribe(self, topic_filter: str, handler: Handler, *, qos: int = 1) -> None:
        """Register ``handler`` for ``topic_filter``; (re)subscribed on every connect."""
        with self._lock:
            entry = self._subs.setdefault(topic_filter, (qos, []))
            entry[1].append(handler)
        if self.connected.is_set():
            self._client.subscribe(topic_filter, qos=qos)

    def add_on_connected(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` after every successful connect, once subscriptions are sent."""
        self._on_connected.append(callback)

    def set_will(self, topic: str, payload: bytes) -> None:
        """Replace the last will used by the next connect."""
        self._will = (topic, payload)
        self._client.will_set(topic, payload, qos=1, retain=True)

    # ------------------------------------------------------------------ lifecycle
    def _connect_properties(self) -> Properties | None:
        if self.config.mqtt_version != 5:
            return None
        props = Properties(PacketTypes.CONNECT)
        # MQTT 5: the broker must not send us anything larger than we accept.
        props.MaximumPacketSize = self.config.max_payload_bytes + 65536
        return props

    def start(self) -> None:
        """Connect in the background and keep reconnecting with capped backoff."""
        self._stopping = False
        self._client.connect_async(self.config.host, self.config.port,
                                   keepalive=self.config.keepalive_s,
                                   properties=self._connect_properties())
        self._client.loop_start()

    def connect(self, timeout: float = 10.0) -> None:
        """Connect with no background thread; then call :meth:`loop` to make progress."""
        self._stopping = False
        self._client.connect(self.config.host, self.config.port, keepalive=self.config.keepalive_s,
                             properties=self._connect_properties())
        deadline = timeout
        while not self.connected.is_set() and self.fatal_error is None and deadline > 0:
            self._client.loop(timeout=0.05)
            deadline -= 0.05
        if self.fatal_error is not None:
            raise ConnectionRefusedError(self.fatal_error)
        if not self.connected.is_set():
            raise TimeoutError(f"no CONNACK from {self.config.host}:{self.config.port}")

    def loop(self, timeout: float = 0.1) -> None:
        """Run the network loop once (thread-less mode)."""
        self._client.loop(timeout=timeout)

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected (threaded mode)."""
        return self.connected.wait(timeout)

    def stop(self, *, clean: bool = True) -> None:
        """Disconnect and stop the network thread (idempotent).

        ``clean=False`` drops the connection without DISCONNECT so the broker sends the will,
        as it would for a device that lost power.
        """
        self._stopping = True
        try:
            if clean:
                self._client.disconnect()
            else:
                sock = self._client.socket()
                if sock is not None:
                    sock.close()
        finally:
            self._client.loop_stop()
            self.connected.clear()

    # ------------------------------------------------------------------ publishing
    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> Delivery:
        """Publish now; a failed Delivery when offline (nothing is queued in memory)."""
        if len(payload) > self.config.max_payload_bytes:
            raise ValueError(f"payload of {len(payload)} bytes exceeds {self.config.max_payload_bytes}")
        if not self.connected.is_set():
            return Delivery(topic, sent=False, reason="not connected")
        # NOTE: never hold self._lock while calling into paho: paho calls _on_publish with its
        # own _out_message_mutex held, and _on_publish takes self._lock (lock-order inversion,
        # a deadlock with several publishing threads). A PUBACK that beats the registration
        # below is parked in _early and picked up here.
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return Delivery(topic, sent=False, reason=mqtt.error_string(info.rc))
        delivery = Delivery(topic, sent=True)
        if qos == 0:
            delivery._resolve(True, "")
            return delivery
        with self._lock:
            early = self._early.pop(info.mid, None)
            if early is None:
                self._pending[info.mid] = delivery
        if early is not None:
            delivery._resolve(*early)
        return delivery

    # ------------------------------------------------------------------ paho callbacks
    def _on_connect(self, client, userdata, flags, reason_code: ReasonCode, properties) -> None:
        if reason_code.is_failure:
            reason = str(reason_code)
            log.error("mqtt connect refused client=%s reason=%s", self.config.client_id, reason)
            if reason_code.value in _FATAL_CONNACK:
                # Stop retrying: a refused identity does not become valid by waiting.
                self.fatal_error = reason
                self._stopping = True
                client.disconnect()
            return
        self.fatal_error = None
        with self._lock:
            subs = [(topic_filter, qos) for topic_filter, (qos, _) in self._subs.items()]
        for topic_filter, qos in subs:
            client.subscribe(topic_filter, qos=qos)
        self.connected.set()
        log.info("mqtt connected client=%s host=%s port=%s subscriptions=%d",
                 self.config.client_id, self.config.host, self.config.port, len(subs))
        for callback in list(self._on_connected):
            try:
                callback()
            except Exception:
                log.exception("on_connected callback failed client=%s", self.config.client_id)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        with self._lock:
            pending, self._pending = self._pending, {}
            self._early.clear()
        for delivery in pending.values():
            delivery._resolve(False, "disconnected before acknowledgement")
        if not self._stopping:
            log.warning("mqtt disconnected client=%s reason=%s", self.config.client_id, reason_code)

    def _on_publish(self, client, userdata, mid, reason_code: ReasonCode, properties) -> None:
        ok = not reason_code.is_failure
        reason = "" if ok else str(reason_code)
        with self._lock:
            delivery = self._pending.pop(mid, None)
            if delivery is None:
                self._early[mid] = (ok, reason)
                if len(self._early) > 10_000:  # mids are reused: never let stale ones pile up
                    self._early.clear()
                return
        if not ok:
            # Only MQTT 5 reports a refused publish; log it, the caller's Delivery says why.
            log.warning("mqtt publish refused client=%s topic=%s reason=%s",
                        self.config.client_id, delivery.topic, reason_code)
        delivery._resolve(ok, reason)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        for code in reason_codes:
            if code.is_failure:
                log.warning("mqtt subscribe refused client=%s reason=%s", self.config.client_id, code)

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        topic = msg.topic
        payload = bytes(msg.payload)
        if len(payload) > self.config.max_payload_bytes:
            log.warning("mqtt dropped topic=%s reason=oversized bytes=%d", topic, len(payload))
            return
        inbound = Inbound(topic=topic, payload=payload, retain=bool(msg.retain))
        with self._lock:
            handlers = [h for f, (_, hs) in self._subs.items() if mqtt.topic_matches_sub(f, topic)
                        for h in hs]
        for handler in handlers:
            try:
                handler(inbound)
            except Exception:
                # Never into paho's loop: one bad message must not stop the client.
                log.exception("mqtt handler failed topic=%s", topic)
