"""Time-based one-time passwords (RFC 6238) with a ±1 step window and replay refusal.

Pure apart from pyotp's arithmetic: the caller passes ``now`` and the last accepted step, and
stores the returned step so the same code (or an older one) is refused next time.
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp
import segno

DIGITS = 6
STEP_S = 30
WINDOW = 1  # steps either side of now, for clock drift between phone and hub


def new_secret() -> str:
    """A fresh 160-bit base32 TOTP seed."""
    return pyotp.random_base32(32)


def match_step(secret: str, code: str, now: datetime, last_step: int) -> int | None:
    """Return the time step ``code`` belongs to, or None if it is wrong or already used."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_S)
    current = totp.timecode(now)
    found = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    if found is None or found <= last_step:
        return None
    return found


def code_at(secret: str, when: datetime) -> str:
    """The code for ``when`` (tests and the console enrolment check)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_S).at(when)


def provisioning_uri(secret: str, username: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app scans."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_S).provisioning_uri(
        name=username, issuer_name=issuer
    )


def qr_data_uri(uri: str) -> str:
    """The provisioning URI as an SVG ``data:`` URI for an <img> (no inline script needed)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def qr_terminal(uri: str) -> str:
    """The provisioning URI as a QR code drawn with text, for the hub's console."""
    import io

    out = io.StringIO()
    segno.make(uri, error="m").terminal(out=out, compact=True)
    return out.getvalue()
