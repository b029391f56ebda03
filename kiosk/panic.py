"""The kiosk's panic button: a held press asks the hub for a lockdown, now or when the link returns.

The press raises the same ``lockdown.request`` the staff menu sends. It is written to the
kiosk's store first (so a power cut or a dead link does not lose it), then a sender thread
asks the hub, and asks again every ``retry_s`` until the hub answers. A fresh request (new
number, new ``corr``) is sealed for every attempt: a request re-sent from the event outbox
with its original number would be refused by the hub's replay guard once the kiosk has sent
any later request (ADR 0001), so requests are never queued there. Nothing is shown on the
touch screen: a visitor standing at the kiosk sees no change.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from kiosk.hublink import HubGateway, new_corr
from kiosk.store import KioskStore
from link.messages import LockdownRequest

log = logging.getLogger("gatehouse.kiosk.panic")

PENDING = "lockdown"


class PanicAlarm:
    """Turns panic-button presses into lockdown requests that survive a missing hub."""

    def __init__(self, *, gateway: HubGateway, store: KioskStore, clock: Callable[[], datetime],
                 timeout_s: float = 2.0, retry_s: float = 2.0, button: Any = None) -> None:
        self.gateway = gateway
        self.store = store
        self.clock = clock
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        #: the hardware button (``hardware.button.PanicButton``), started and closed with this
        self.button = button
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def pressed(self) -> None:
        """A press was held long enough: keep the request durably and wake the sender."""
        now = self.clock()
        # Each press is recorded (its time): a press made while an earlier request is on its
        # way is sent again after that answer, in case the lockdown was ended in between.
        if self.store.put_pending(PENDING, {"active": True, "pressed_at": now.isoformat()}, now):
            log.warning("panic button: lockdown request queued")
        self._wake.set()

    def pending_since(self) -> datetime | None:
        """When the request the hub has not yet answered was made, or None."""
        waiting = self.store.get_pending(PENDING)
        return None if waiting is None else waiting[1]

    def flush(self) -> bool:
        """Send the waiting request if the link is up; True when nothing is left waiting."""
        waiting = self.store.get_pending(PENDING)
        if waiting is None:
            return True
        if not self.gateway.is_connected():
            return False
        since = waiting[1]
        late_s = (self.clock() - since).total_seconds()
        by = "kiosk panic button" + (f" (pressed {since:%Y-%m-%d %H:%M:%S} UTC, hub away)" if late_s > 10 else "")
        resp = self.gateway.request(LockdownRequest(corr=new_corr(), active=True, by=by), self.timeout_s)
        if resp is None:
            log.warning("panic button: lockdown request unanswered, will retry")
            return False
        if not resp.ok:
            # Fail secure: keep asking; the hub logs why it refused.
            log.error("panic button: hub refused the lockdown request error=%s", resp.error)
            return False
        log.warning("panic button: lockdown requested late_s=%.0f", late_s)
        if not self.store.clear_pending(PENDING, waiting[0]):
            self._wake.set()  # pressed again meanwhile: ask again
            return False
        return True

    def start(self) -> None:
        """Start the sender (and the button's sampling thread, when there is a button)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="kiosk-panic", daemon=True)
        self._thread.start()
        if self.button is not None:
            self.button.start(on_held=self.pressed)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.retry_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.flush()
            except Exception:
                log.exception("panic button: sending failed")

    def stop(self) -> None:
        """Stop the sender and close the button; a waiting request stays in the store."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s + 3)
            self._thread = None
        if self.button is not None:
            self.button.close()

    def state(self) -> dict[str, Any]:
        """For the staff page: the button and whether a request is waiting for the hub."""
        since = self.pending_since()
        out: dict[str, Any] = {"lockdown_waiting_since": since.isoformat() if since else None}
        if self.button is not None:
            out["button"] = self.button.state()
        return out
