"""The kiosk's way to the hub: requests with a deadline, durable events.

:class:`LinkGateway` rides on :class:`link.device.DeviceLink` (signed envelopes, TLS, the
outbox that re-sends events until the hub acks them). A request that gets no answer within its
deadline returns None and the kiosk carries on alone (offline sign-in on the cached watch list).
:class:`LocalGateway` is the same without a hub (``--simulate``, or no ``[link]`` section):
requests are never answered and events wait in the same kind of durable outbox.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from link import topics
from link.device import DeviceLink
from link.envelope import Envelope, Signer
from link.messages import Body, Response
from link.outbox import Outbox

log = logging.getLogger("gatehouse.kiosk.hub")


def new_corr() -> str:
    """A fresh correlation id."""
    return "k" + secrets.token_urlsafe(12)


class HubGateway(Protocol):
    """What the kiosk service needs from the hub link."""

    def request(self, body: Body, timeout_s: float) -> Response | None:
        """Send a request and wait for its answer; None when none came in time."""
        ...

    def send_event(self, body: Body) -> int:
        """Queue an event durably (sent now or when the hub is back); its sequence number."""
        ...

    def is_connected(self) -> bool:
        """True while the broker connection is up."""
        ...

    def outbox_depth(self) -> int:
        """Events not yet acknowledged by the hub."""
        ...

    def publish_status(self, **fields) -> None:
        """Update the retained status (faults, clock)."""
        ...

    def on_hub_message(self, handler: Callable[[Body], None]) -> None:
        """Call ``handler`` with every verified hub message that answers no request (``visit.decided``)."""
        ...

    def close(self) -> None:
        """Stop; idempotent."""
        ...


class LinkGateway:
    """Requests and events over a running :class:`DeviceLink`."""

    def __init__(self, link: DeviceLink) -> None:
        self.link = link
        self._waiting: dict[str, tuple[threading.Event, list[Response]]] = {}
        self._lock = threading.Lock()
        link.on_response(self._on_response)

    def _on_response(self, env: Envelope) -> None:
        if not isinstance(env.body, Response):
            return
        with self._lock:
            slot = self._waiting.get(env.body.corr)
        if slot is None:
            log.info("late or unknown response corr=%s", env.body.corr)
            return
        slot[1].append(env.body)
        slot[0].set()

    def on_hub_message(self, handler: Callable[[Body], None]) -> None:
        """Call ``handler`` (on the link's thread: return quickly) with each non-``resp`` body on ``resp``."""

        def forward(env: Envelope) -> None:
            if not isinstance(env.body, Response):
                handler(env.body)

        self.link.on_response(forward)

    def request(self, body: Body, timeout_s: float) -> Response | None:
        """Publish ``body`` on ``dev/<kiosk>/req``; wait up to ``timeout_s`` for the answer."""
        corr = getattr(body, "corr", None)
        if not corr:
            raise ValueError("a request body needs a corr")
        if not self.link.client.connected.is_set():
            return None
        done = threading.Event()
        slot: tuple[threading.Event, list[Response]] = (done, [])
        with self._lock:
            self._waiting[corr] = slot
        try:
            self.link.request(body)
            if not done.wait(timeout_s):
                log.warning("hub did not answer type=%s within %.1fs", body.TYPE, timeout_s)
                return None
            return slot[1][0]
        finally:
            with self._lock:
                self._waiting.pop(corr, None)

    def send_event(self, body: Body) -> int:
        """Durably queue and publish an event."""
        return self.link.send_event(body)

    def is_connected(self) -> bool:
        """True while connected to the broker."""
        return self.link.client.connected.is_set()

    def outbox_depth(self) -> int:
        """Events the hub has not acknowledged."""
        return self.link.outbox.depth()

    def publish_status(self, **fields) -> None:
        """Update the retained status."""
        if self.is_connected():
            self.link.publish_status(**fields)

    def close(self) -> None:
        """Stop the link."""
        self.link.stop()


class LocalGateway:
    """No hub: requests go unanswered, events wait in a durable outbox."""

    def __init__(self, device_id: str, state_dir: Path, key: Ed25519PrivateKey,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.device_id = topics.check_id(device_id)
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        self.outbox = Outbox(Path(state_dir) / "outbox.db")
        self._signer = Signer(device_id, key)
        self._clock = clock
        self.status: dict = {}

    def request(self, body: Body, timeout_s: float) -> Response | None:
        """Nobody to answer."""
        return None

    def on_hub_message(self, handler: Callable[[Body], None]) -> None:
        """No hub, no messages."""

    def send_event(self, body: Body) -> int:
        """Keep the event for a hub that may come later."""
        now = self._clock()
        return self.outbox.add(topics.events(self.device_id), lambda seq: self._signer.seal(body, seq=seq, now=now))

    def is_connected(self) -> bool:
        """Never connected."""
        return False

    def outbox_depth(self) -> int:
        """Events kept."""
        return self.outbox.depth()

    def publish_status(self, **fields) -> None:
        """Remember the status (shown by ``--list-devices`` and the staff page)."""
        self.status.update(fields)

    def close(self) -> None:
        """Close the outbox."""
        self.outbox.close()
