"""The hub's secret files: the card site key, the vault key for codes, the hub's signing key.

Each lives in its own file readable only by the service user (0600), named in ``hub.toml``;
a missing file is created on first use, a file with the wrong size or type stops the hub.
Nothing here is ever logged or written to the database.
"""

from __future__ import annotations

import os
import secrets as _secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from link import keys as link_keys


class KeyringError(ValueError):
    """A secret file that is unreadable or not what it should be."""


def _write_secret(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def load_or_create_bytes(path: Path, size: int) -> bytes:
    """Read a raw key of ``size`` bytes, creating it (0600) if the file does not exist."""
    path = Path(path)
    if not path.exists():
        _write_secret(path, _secrets.token_bytes(size))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyringError(f"{path}: cannot read ({exc.strerror})") from None
    if len(data) != size:
        raise KeyringError(f"{path}: expected a {size}-byte key, found {len(data)} bytes")
    return data


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """The hub's Ed25519 key (PEM), created with its ``.pub`` beside it when missing."""
    path = Path(path)
    if not path.exists():
        return link_keys.generate(path, path.with_suffix(".pub"))
    try:
        return link_keys.load_private(path)
    except link_keys.KeyFileError as exc:
        raise KeyringError(str(exc)) from None


class Vault:
    """AES-256-GCM for codes and combinations; the key stays in its file, never in the DB."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def encrypt(self, plaintext: str, *, context: str) -> bytes:
        """Nonce + ciphertext; ``context`` (e.g. ``secret:12``) is bound as associated data."""
        nonce = _secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode())

    def decrypt(self, blob: bytes, *, context: str) -> str:
        """The plaintext, or KeyringError if the blob was altered or moved to another row."""
        try:
            return self._aead.decrypt(blob[:12], blob[12:], context.encode()).decode("utf-8")
        except (InvalidTag, ValueError):
            raise KeyringError("secret does not decrypt: wrong key or altered row") from None


@dataclass
class Keyring:
    """The three secrets a hub process needs."""

    site_key: bytes
    vault: Vault
    hub_key: Ed25519PrivateKey

    @classmethod
    def from_config(cls, config: Any) -> Keyring:
        """Load (or create) every secret file named in the Flask config."""
        return cls(
            site_key=load_or_create_bytes(Path(config["SITE_KEY_FILE"]), 32),
            vault=Vault(load_or_create_bytes(Path(config["VAULT_KEY_FILE"]), 32)),
            hub_key=load_or_create_signing_key(Path(config["HUB_KEY_FILE"])),
        )


def get_keyring(app: Any = None) -> Keyring:
    """The app's keyring, loaded once per app."""
    if app is None:
        from flask import current_app

        app = current_app
    ring = app.extensions.get("gatehouse.keyring")
    if ring is None:
        ring = Keyring.from_config(app.config)
        app.extensions["gatehouse.keyring"] = ring
    return ring
