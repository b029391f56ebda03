"""TOTP seeds sealed at rest with the hub's vault key (AES-256-GCM, key file outside the DB).

A copy of the database alone then yields no working authenticator codes. The account's user name
is bound as associated data, so a sealed seed moved to another account does not open.
"""

from __future__ import annotations

import base64
from typing import Protocol

PREFIX = "v1:"


class Sealer(Protocol):
    """What :class:`hub.keyring.Vault` offers: authenticated encryption with a context."""

    def encrypt(self, plaintext: str, *, context: str) -> bytes:
        """Encrypt ``plaintext`` bound to ``context``."""

    def decrypt(self, blob: bytes, *, context: str) -> str:
        """Decrypt, or raise if the blob or context is wrong."""


def seal(vault: Sealer, username: str, seed: str) -> str:
    """The stored form of a TOTP seed."""
    blob = vault.encrypt(seed, context=f"totp:{username}")
    return PREFIX + base64.b64encode(blob).decode("ascii")


def unseal(vault: Sealer, username: str, stored: str | None) -> str | None:
    """The seed from its stored form (None when the account has no authenticator app).

    A value without the prefix is a plaintext seed from before sealing; the caller reseals it.
    """
    if not stored:
        return None
    if not stored.startswith(PREFIX):
        return stored
    return vault.decrypt(base64.b64decode(stored[len(PREFIX):]), context=f"totp:{username}")


def is_sealed(stored: str | None) -> bool:
    """True when ``stored`` is in the sealed form."""
    return bool(stored) and stored.startswith(PREFIX)  # type: ignore[union-attr]
