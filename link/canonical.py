"""Canonical JSON: the exact bytes a signature covers.

Keys sorted, no whitespace, UTF-8, integers only (a float has no single text form across
languages, so the contract carries none), no NaN or Infinity.
"""

from __future__ import annotations

import json
from typing import Any


class CanonicalError(ValueError):
    """A value that has no canonical JSON form in this contract."""


def _check(value: Any, path: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        return
    if isinstance(value, float):
        raise CanonicalError(f"{path}: floats are not allowed on the wire; use integers")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalError(f"{path}: object keys must be strings")
            _check(item, f"{path}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
        return
    raise CanonicalError(f"{path}: {type(value).__name__} is not a JSON value")


def dumps(value: Any) -> bytes:
    """Encode ``value`` as canonical JSON bytes."""
    _check(value, "$")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")
