"""Settings of the accounts layer, read from the Flask config with safe defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.auth.clock import Clock, SystemClock

EXTENSION = "gatehouse.auth"
COOKIE_NAME = "__Host-gh_session"

DEFAULTS: dict[str, Any] = {
    "AUTH_IDLE_TIMEOUT_S": 300,  # WISP VII.B: lock after 5 minutes of inactivity
    "AUTH_IDLE_WARNING_S": 240,  # the page warns at 4 minutes
    "AUTH_ABSOLUTE_TIMEOUT_S": 12 * 3600,
    "AUTH_PARTIAL_TIMEOUT_S": 300,  # between the password and the second factor
    "AUTH_REAUTH_WINDOW_S": 300,  # how fresh a re-authentication must be for sensitive actions
    "AUTH_PASSWORD_ROTATION_DAYS": 365,  # WISP V: change at least annually (0 turns it off)
    "AUTH_INVITATION_TTL_S": 72 * 3600,
    "AUTH_ACCOUNT_LOCK_THRESHOLD": 5,
    "AUTH_ADDR_LOCK_THRESHOLD": 20,
    "AUTH_LOCK_BASE_S": 60,
    "AUTH_LOCK_MAX_S": 3600,
    "AUTH_RECOVERY_CODES": 10,
    "AUTH_API_TOKEN_MAX_DAYS": 366,
    "AUTH_RP_ID": None,  # WebAuthn relying party id: the hub's host name (default: request host)
    "AUTH_RP_NAME": "Gatehouse hub",
    "AUTH_ORIGIN": None,  # e.g. "https://hub.example.org" (default: from the request)
    "AUTH_TOTP_ISSUER": "Gatehouse",
    "AUTH_CLOCK": None,  # a Clock; tests pass hub.auth.clock.ManualClock
    "AUTH_SECRET_KEY_FILE": None,
    "AUTH_HOME_URL": "/",
    # reverse proxies in front of the hub (nginx terminating TLS: 1). Their X-Forwarded-For and
    # X-Forwarded-Proto are trusted for the client address (lockout) and HTTPS (HSTS, CSRF).
    "AUTH_TRUSTED_PROXIES": 0,  # where a completed sign-in lands when no page was asked for  # signs CSRF tokens (default: <VAR_DIR>/secrets/session.key)
}


@dataclass(frozen=True)
class AuthSettings:
    """The accounts layer's settings, resolved once at ``init_app``."""

    idle_timeout_s: int
    idle_warning_s: int
    absolute_timeout_s: int
    partial_timeout_s: int
    reauth_window_s: int
    password_rotation_days: int
    invitation_ttl_s: int
    account_lock_threshold: int
    addr_lock_threshold: int
    lock_base_s: int
    lock_max_s: int
    recovery_codes: int
    api_token_max_days: int
    rp_id: str | None
    rp_name: str
    origin: str | None
    totp_issuer: str

    @classmethod
    def from_config(cls, config: Any) -> AuthSettings:
        """Build from a Flask config, validating types and ranges (bad values stop the app)."""
        values = {key: config.get(key, default) for key, default in DEFAULTS.items()}
        unknown = sorted(k for k in config if k.startswith("AUTH_") and k not in DEFAULTS)
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
        ints = [k for k, v in DEFAULTS.items() if isinstance(v, int) and not isinstance(v, bool)]
        for key in ints:
            value = values[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{key} must be a non-negative integer, got {value!r}")
        if not 0 < values["AUTH_IDLE_WARNING_S"] < values["AUTH_IDLE_TIMEOUT_S"]:
            raise ValueError("AUTH_IDLE_WARNING_S must be between 0 and AUTH_IDLE_TIMEOUT_S")
        if values["AUTH_IDLE_TIMEOUT_S"] == 0 or values["AUTH_ABSOLUTE_TIMEOUT_S"] == 0:
            raise ValueError("session timeouts cannot be 0")
        return cls(
            idle_timeout_s=values["AUTH_IDLE_TIMEOUT_S"],
            idle_warning_s=values["AUTH_IDLE_WARNING_S"],
            absolute_timeout_s=values["AUTH_ABSOLUTE_TIMEOUT_S"],
            partial_timeout_s=values["AUTH_PARTIAL_TIMEOUT_S"],
            reauth_window_s=values["AUTH_REAUTH_WINDOW_S"],
            password_rotation_days=values["AUTH_PASSWORD_ROTATION_DAYS"],
            invitation_ttl_s=values["AUTH_INVITATION_TTL_S"],
            account_lock_threshold=max(1, values["AUTH_ACCOUNT_LOCK_THRESHOLD"]),
            addr_lock_threshold=max(1, values["AUTH_ADDR_LOCK_THRESHOLD"]),
            lock_base_s=values["AUTH_LOCK_BASE_S"],
            lock_max_s=values["AUTH_LOCK_MAX_S"],
            recovery_codes=values["AUTH_RECOVERY_CODES"],
            api_token_max_days=values["AUTH_API_TOKEN_MAX_DAYS"],
            rp_id=values["AUTH_RP_ID"],
            rp_name=values["AUTH_RP_NAME"],
            origin=values["AUTH_ORIGIN"],
            totp_issuer=values["AUTH_TOTP_ISSUER"],
        )


def get_settings(app: Any) -> AuthSettings:
    """The settings bound to ``app`` by ``init_app``."""
    return app.extensions[EXTENSION]["settings"]


def get_clock(app: Any) -> Clock:
    """The clock the app reads time from (``app.config['AUTH_CLOCK']``, else the system clock)."""
    ext = app.extensions.get(EXTENSION)
    if ext is not None:
        return ext["clock"]
    return app.config.get("AUTH_CLOCK") or SystemClock()


class AuthToml(BaseModel):
    """The ``[auth]`` table of ``hub.toml`` (strict: an unknown key or a wrong type stops the hub).

    ``hub/config.py`` embeds it as ``auth: AuthToml`` and merges :meth:`to_config` into the
    Flask config. Every key is optional; the defaults are those of :data:`DEFAULTS`.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    idle_timeout_s: int = Field(default=DEFAULTS["AUTH_IDLE_TIMEOUT_S"], ge=60, le=3600)
    idle_warning_s: int = Field(default=DEFAULTS["AUTH_IDLE_WARNING_S"], ge=1, le=3599)
    absolute_timeout_s: int = Field(default=DEFAULTS["AUTH_ABSOLUTE_TIMEOUT_S"], ge=600, le=86400)
    reauth_window_s: int = Field(default=DEFAULTS["AUTH_REAUTH_WINDOW_S"], ge=30, le=3600)
    password_rotation_days: int = Field(default=DEFAULTS["AUTH_PASSWORD_ROTATION_DAYS"], ge=0, le=3650)
    invitation_ttl_s: int = Field(default=DEFAULTS["AUTH_INVITATION_TTL_S"], ge=600, le=14 * 86400)
    account_lock_threshold: int = Field(default=DEFAULTS["AUTH_ACCOUNT_LOCK_THRESHOLD"], ge=1, le=100)
    addr_lock_threshold: int = Field(default=DEFAULTS["AUTH_ADDR_LOCK_THRESHOLD"], ge=1, le=10000)
    lock_base_s: int = Field(default=DEFAULTS["AUTH_LOCK_BASE_S"], ge=1, le=3600)
    lock_max_s: int = Field(default=DEFAULTS["AUTH_LOCK_MAX_S"], ge=1, le=86400)
    rp_id: str | None = None
    origin: str | None = None
    secret_key_file: str | None = None
    trusted_proxies: int = Field(default=0, ge=0, le=5)

    def to_config(self) -> dict[str, Any]:
        """Flask config keys (``AUTH_*``) for the values in this table."""
        out = {f"AUTH_{name.upper()}": value for name, value in self.model_dump().items()
               if value is not None}
        return out
