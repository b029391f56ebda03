"""Ed25519 key files (PEM) and the card-UID HMAC.

Private keys are written 0600 and never logged. Public keys are what the hub registers for
each device and what every device trusts for the hub.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class KeyFileError(ValueError):
    """A key file that is missing, unreadable or not the expected key type."""


def generate(private_path: Path, public_path: Path) -> Ed25519PrivateKey:
    """Create a key pair and write both PEM files (the private one 0600)."""
    key = Ed25519PrivateKey.generate()
    write_private(private_path, key)
    write_public(public_path, key.public_key())
    return key


def write_private(path: Path, key: Ed25519PrivateKey) -> None:
    """Write ``key`` as unencrypted PKCS#8 PEM readable only by the owner."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    os.chmod(path, 0o600)


def public_pem(key: Ed25519PublicKey) -> bytes:
    """The SubjectPublicKeyInfo PEM of ``key``."""
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def write_public(path: Path, key: Ed25519PublicKey) -> None:
    """Write ``key`` as PEM."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(public_pem(key))


def load_private(path: Path) -> Ed25519PrivateKey:
    """Read an Ed25519 private key PEM, or raise KeyFileError naming the file."""
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read ({exc.strerror})") from None
    except (ValueError, TypeError):
        raise KeyFileError(f"{path}: not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: not an Ed25519 key")
    return key


def parse_public(pem: bytes, *, name: str = "key") -> Ed25519PublicKey:
    """Parse an Ed25519 public key PEM."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):
        raise KeyFileError(f"{name}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{name}: not an Ed25519 key")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    """Read an Ed25519 public key PEM, or raise KeyFileError naming the file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_public(data, name=str(path))


def card_hmac(site_key: bytes, uid: bytes) -> str:
    """The identifier of a card everywhere but the reader: HMAC-SHA256(site key, UID), hex.

    The raw UID is never stored or sent; a leaked database gives nothing to clone.
    """
    if len(site_key) < 16:
        raise ValueError("site key must be at least 16 bytes")
    if len(uid) not in (4, 7, 10):
        raise ValueError(f"card UID must be 4, 7 or 10 bytes, got {len(uid)}")
    return hmac.new(site_key, bytes(uid), hashlib.sha256).hexdigest()
