"""Hub configuration: defaults, a strictly validated ``hub.toml``, environment overrides.

Precedence (last wins): :class:`Config` defaults, the TOML file named by
``GATEHOUSE_HUB_CONFIG`` (or passed in), ``GATEHOUSE_*`` environment variables, and the
``test_config`` mapping given to :func:`hub.create_app`. Secrets are never in the TOML: it
names the files that hold them.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.auth.config import AuthToml


class ConfigError(ValueError):
    """A configuration file or value that the hub refuses to start with."""


class Config:
    """Defaults for development (state under ``var/`` in the checkout)."""

    DATABASE_URL = "sqlite:///var/gatehouse.db"
    VAR_DIR = "var"
    #: files holding secrets (created 0600 on first use when missing)
    SITE_KEY_FILE = "var/secrets/site.key"
    VAULT_KEY_FILE = "var/secrets/vault.key"
    HUB_KEY_FILE = "var/secrets/hub-ed25519.pem"
    CA_DIR = "var/ca"
    BROKER_HOST = "127.0.0.1"
    BROKER_PORT = 8883
    BROKER_TLS = True
    #: a loopback demo broker without TLS: user name and a file holding the password
    BROKER_USERNAME: str | None = None
    BROKER_PASSWORD_FILE: str | None = None
    #: days a terminated person has to hand back a physical key before a re-key alert
    KEY_RETURN_DAYS = 3
    TESTING = False


class _Hub(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    database_url: str = Config.DATABASE_URL
    var_dir: str = Config.VAR_DIR
    key_return_days: int = Field(default=Config.KEY_RETURN_DAYS, ge=0, le=365)


class _Secrets(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    site_key_file: str = Config.SITE_KEY_FILE
    vault_key_file: str = Config.VAULT_KEY_FILE
    hub_key_file: str = Config.HUB_KEY_FILE
    ca_dir: str = Config.CA_DIR


class _Broker(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    host: str = Config.BROKER_HOST
    port: int = Field(default=Config.BROKER_PORT, ge=1, le=65535)
    tls: bool = Config.BROKER_TLS
    username: str | None = None
    password_file: str | None = None


class HubToml(BaseModel):
    """The schema of ``hub.toml``; an unknown key or a wrong type stops the hub."""

    model_config = ConfigDict(extra="forbid", strict=True)

    hub: _Hub = Field(default_factory=_Hub)
    secrets: _Secrets = Field(default_factory=_Secrets)
    broker: _Broker = Field(default_factory=_Broker)
    #: the accounts layer's settings (docs/security.md), e.g. trusted_proxies behind nginx
    auth: AuthToml = Field(default_factory=AuthToml)


def _line_of(text: str, key: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip().startswith(f"{key}") and "=" in line:
            return number
    return None


def load_toml(path: Path) -> dict[str, Any]:
    """Read and validate ``hub.toml``; return Flask config keys. Errors name key and line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        parsed = HubToml.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        line = _line_of(text, str(err["loc"][-1]))
        where = f" (line {line})" if line else ""
        raise ConfigError(f"{path}: {key}{where}: {err['msg']}") from None
    return {
        "DATABASE_URL": parsed.hub.database_url, "VAR_DIR": parsed.hub.var_dir,
        "KEY_RETURN_DAYS": parsed.hub.key_return_days,
        "SITE_KEY_FILE": parsed.secrets.site_key_file,
        "VAULT_KEY_FILE": parsed.secrets.vault_key_file,
        "HUB_KEY_FILE": parsed.secrets.hub_key_file, "CA_DIR": parsed.secrets.ca_dir,
        "BROKER_HOST": parsed.broker.host, "BROKER_PORT": parsed.broker.port,
        "BROKER_TLS": parsed.broker.tls, "BROKER_USERNAME": parsed.broker.username,
        "BROKER_PASSWORD_FILE": parsed.broker.password_file,
        **parsed.auth.to_config(),
    }


_ENV = {
    "GATEHOUSE_DATABASE_URL": ("DATABASE_URL", str),
    "GATEHOUSE_VAR_DIR": ("VAR_DIR", str),
    "GATEHOUSE_BROKER_HOST": ("BROKER_HOST", str),
    "GATEHOUSE_BROKER_PORT": ("BROKER_PORT", int),
}


def from_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Config keys from ``GATEHOUSE_*`` variables (containers), and the TOML they name."""
    env = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    path = env.get("GATEHOUSE_HUB_CONFIG")
    if path:
        out.update(load_toml(Path(path)))
    for var, (key, kind) in _ENV.items():
        if var in env:
            try:
                out[key] = kind(env[var])
            except ValueError:
                raise ConfigError(f"{var}: not a valid {kind.__name__}") from None
    return out
