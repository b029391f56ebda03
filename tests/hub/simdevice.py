"""A simulated door controller for hub tests and benches: applies ACLs, acks, sends events.

Built on the real :class:`link.device.DeviceLink` (signing, outbox, replay guard, will), with
an in-memory credential cache standing in for the controller's SQLite one.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from link import messages as m
from link.client import BrokerConfig
from link.device import DeviceLink
from link.envelope import Envelope


class SimController:
    """One controller: ``version`` and ``creds`` (hash -> status) mirror what the hub sent."""

    def __init__(self, device_id: str, key: Ed25519PrivateKey, hub_key: Ed25519PublicKey,
                 broker: BrokerConfig, state_dir: Path, *, resend_s: float = 1.0) -> None:
        self.device_id = device_id
        self.key, self.hub_key, self.broker = key, hub_key, broker
        self.state_dir = Path(state_dir)
        self.resend_s = resend_s
        self.version: int | None = None
        self.creds: dict[str, str] = {}
        self.applied: list[int] = []
        self.applied_at: dict[int, float] = {}
        self.resyncs = 0
        self._chunks: dict[int, dict[int, m.AclSnapshot]] = {}
        self._lock = threading.Lock()
        self.link: DeviceLink | None = None

    def start(self, timeout: float = 10.0) -> SimController:
        """Connect (a new connection each time, like a rebooted Pi)."""
        self.link = DeviceLink(self.device_id, kind="controller", private_key=self.key,
                               hub_key=self.hub_key, broker=self.broker,
                               state_dir=self.state_dir, resend_s=self.resend_s)
        self.link.on_acl(self._on_acl)
        if self.version is not None:
            self.link._status_fields["acl_version"] = self.version
        self.link.start()
        if not self.link.client.wait_connected(timeout):
            raise TimeoutError(f"{self.device_id} did not connect")
        return self

    def stop(self, *, clean: bool = True) -> None:
        """Disconnect; ``clean=False`` drops the line so the broker sends the will."""
        if self.link is not None:
            self.link.stop(clean=clean)
            self.link = None

    def send(self, body: m.Body) -> int:
        """Send an event through the durable outbox."""
        assert self.link is not None
        return self.link.send_event(body)

    def _on_acl(self, env: Envelope) -> None:
        with self._lock:
            body = env.body
            if isinstance(body, m.AclSnapshot):
                parts = self._chunks.setdefault(body.version, {})
                parts[body.chunk] = body
                if len(parts) < body.chunks:
                    return
                del self._chunks[body.version]
                if self.version is not None and body.version < self.version:
                    return
                self.creds = {c.cred: c.status for p in parts.values() for c in p.credentials}
                self._applied(body.version)
            elif isinstance(body, m.AclDelta):
                if self.version is None or body.from_version != self.version:
                    if self.version is not None and body.to_version <= self.version:
                        return
                    self.resyncs += 1
                    self.link.request(m.AclResync(corr=f"resync-{time.time_ns()}",
                                                  have_version=self.version, why="gap"))
                    return
                for cred in body.revoke:
                    self.creds[cred] = "revoked"
                for cred in body.credentials:
                    self.creds[cred.cred] = cred.status
                for cred in body.remove:
                    self.creds.pop(cred, None)
                self._applied(body.to_version)

    def _applied(self, version: int) -> None:
        self.version = version
        self.applied.append(version)
        self.applied_at[version] = time.monotonic()
        assert self.link is not None
        self.link.publish_status(acl_version=version)
        self.link.ack_acl(m.AclApplied(version=version))
