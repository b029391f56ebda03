"""Password hashing (argon2id) and the password rules of NIST SP 800-63B.

Rules: 12 to 64 characters, any characters (no composition rules), not on the shipped list of
common and breached passwords, not built from the user's own name or the product's name, not a
run of one character or a keyboard/alphabet sequence. Rotation is a separate, time-based rule
(see :func:`rotation_due`) because the district policy asks for yearly changes.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 64

# OWASP Password Storage Cheat Sheet, argon2id: m=19 MiB, t=2, p=1 is the floor.
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1

_hasher = PasswordHasher(
    time_cost=ARGON2_TIME_COST,
    memory_cost=ARGON2_MEMORY_KIB,
    parallelism=ARGON2_PARALLELISM,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)

_SEQUENCES = (
    "abcdefghijklmnopqrstuvwxyz",
    "0123456789012345678901234567890",
    "qwertyuiopasdfghjklzxcvbnm",
    "qwertzuiopasdfghjklyxcvbnm",
    "azertyuiopqsdfghjklmwxcvbn",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "qazwsxedcrfvtgbyhnujmikolp",
)

_CONTEXT_WORDS = ("gatehouse", "gatehousehub", "natickps", "natickschools", "password")


class PasswordRejected(ValueError):
    """A password that breaks one of the rules; ``reason`` is a short code, ``str()`` a sentence."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class PasswordCheck:
    """The result of checking a candidate password: ``ok`` or the first rule it broke."""

    ok: bool
    reason: str = ""
    message: str = ""


def normalise(password: str) -> str:
    """Return the NFKC form used for hashing and checking (SP 800-63B 5.1.1.2)."""
    return unicodedata.normalize("NFKC", password)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """Load the shipped list of common and breached passwords (lower-cased)."""
    text = resources.files("hub.auth").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def _is_sequence(candidate: str) -> bool:
    lowered = candidate.lower()
    if len(set(lowered)) <= 2:
        return True
    for seq in _SEQUENCES:
        if lowered in seq or lowered in seq[::-1]:
            return True
    # a short block repeated: "abcabcabcabc", "pass1pass1pass1"
    for size in range(1, len(lowered) // 2 + 1):
        block = lowered[:size]
        if block * (len(lowered) // size) + block[: len(lowered) % size] == lowered:
            return True
    return False


def check(password: str, *, username: str = "", display_name: str = "") -> PasswordCheck:
    """Check ``password`` against the rules; pure, so forms and the CLI give the same answer."""
    if not isinstance(password, str):
        return PasswordCheck(False, "type", "The password must be text.")
    candidate = normalise(password)
    if len(candidate) < MIN_LENGTH:
        return PasswordCheck(False, "too_short", f"Use at least {MIN_LENGTH} characters.")
    if len(candidate) > MAX_LENGTH:
        return PasswordCheck(False, "too_long", f"Use at most {MAX_LENGTH} characters.")
    if any(unicodedata.category(ch) == "Cc" for ch in candidate):
        return PasswordCheck(False, "control", "The password cannot contain control characters.")
    lowered = candidate.lower()
    if lowered in common_passwords():
        return PasswordCheck(
            False, "common", "That password is on the list of common or breached passwords."
        )
    if _is_sequence(candidate):
        return PasswordCheck(False, "sequence", "That password is a repeated or sequential pattern.")
    squeezed = "".join(ch for ch in lowered if ch.isalnum())
    for word in _CONTEXT_WORDS:
        # the product or district name padded with a few characters is still guessable
        if word in squeezed and len(squeezed) - len(word) < 6:
            return PasswordCheck(False, "context", "The password is too close to the service's name.")
    for word in (username.lower(), display_name.lower().replace(" ", "")):
        if len(word) >= 4 and word in squeezed:
            return PasswordCheck(False, "personal", "The password cannot contain your user name or your name.")
    return PasswordCheck(True)


def require_acceptable(password: str, *, username: str = "", display_name: str = "") -> str:
    """Return the normalised password or raise :class:`PasswordRejected`."""
    result = check(password, username=username, display_name=display_name)
    if not result.ok:
        raise PasswordRejected(result.reason, result.message)
    return normalise(password)


def hash_password(password: str) -> str:
    """Hash an already-accepted password with argon2id."""
    return _hasher.hash(normalise(password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Return True when ``password`` matches ``stored_hash``; always spends an argon2 verification."""
    if not stored_hash:
        # compare against a fixed hash so unknown accounts cost the same time as known ones
        stored_hash = _dummy_hash()
        try:
            _hasher.verify(stored_hash, "not the password" + password)
        except (VerificationError, InvalidHashError):
            pass
        return False
    try:
        return _hasher.verify(stored_hash, normalise(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Return True when the stored hash was made with weaker parameters than today's."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("gatehouse timing equaliser")


def rotation_due(changed_at: datetime | None, now: datetime, rotation_days: int) -> bool:
    """Return True when the password is older than the rotation interval (0 turns rotation off)."""
    if changed_at is None:
        return True
    if rotation_days <= 0:
        return False
    return now - changed_at >= timedelta(days=rotation_days)
