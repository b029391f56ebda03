"""Whether the controller may believe its clock.

A Pi has no battery-backed clock: after a power cut it boots at whatever time the image or
``fake-hwclock`` last saved, until NTP answers. Schedules are worthless on such a clock, so
the controller persists the latest time it trusted and treats the clock as untrusted when
NTP has not synchronised since boot, or when the clock reads earlier than that saved time.
While untrusted only 24/7 credentials open doors (``clock_untrusted``).
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

log = logging.getLogger("gatehouse.controller.clock")

#: systemd-timesyncd creates this file once it has synchronised since boot.
TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")

NtpMode = Literal["systemd", "synced", "never"]


def is_trusted(now: datetime, last_trusted: datetime | None, is_ntp_synced: bool,
               tolerance_s: int = 0) -> bool:
    """Pure rule: NTP synced since boot and the clock not behind the last trusted time."""
    if not is_ntp_synced:
        return False
    if last_trusted is None:
        return True
    return now >= last_trusted - timedelta(seconds=tolerance_s)


def systemd_ntp_synced(*, flag: Path = TIMESYNC_FLAG, timeout_s: float = 2.0) -> bool:
    """True when systemd reports NTP synchronised (timesyncd's flag file, else timedatectl)."""
    if flag.exists():
        return True
    try:
        out = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
                             capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("event=ntp_probe_failed error=%s", exc)
        return False
    return out.returncode == 0 and out.stdout.strip() == "yes"


def ntp_probe(mode: NtpMode) -> Callable[[], bool]:
    """The NTP check for a configured mode (``synced``/``never`` pin it for simulation)."""
    if mode == "synced":
        return lambda: True
    if mode == "never":
        return lambda: False
    return systemd_ntp_synced
