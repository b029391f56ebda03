"""Open device payloads in worker processes: JSON, envelope checks, Ed25519 and body validation.

Opening an envelope (:func:`link.envelope.open_envelope`) is most of what an event costs the
bridge, and most of it holds the GIL, so threads cannot spread it over cores. An
:class:`OpenPool` sends large batches, in chunks, to a pool of worker processes that run the
very same ``open_envelope`` with the key the bridge chose for each item, and returns the results
in order; small batches (and a pool of zero workers) are opened inline. The bridge decides which
key each device gets (unknown and revoked devices never reach a worker); a worker only opens.

Ed25519 is checked by libsodium (PyNaCl), about twice as fast here as OpenSSL's through
``cryptography`` (bench/hub_ingest.py prints both), behind :class:`SodiumKey`, which has the
``verify`` of cryptography's key so ``open_envelope`` itself is unchanged. Small batches run the
same code in this process, so a verdict never depends on the size of a batch. libsodium is the
stricter of the two (it also refuses small-order keys and non-canonical points), which only
ever refuses more.

A worker that dies (killed, out of memory) breaks the pool: the chunks it held are opened inline
instead and a new pool is started for the next batch, so a batch is never half-verified.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nacl.bindings import crypto_sign_open
from nacl.exceptions import CryptoError

from link import messages as m
from link.envelope import Envelope, open_envelope

log = logging.getLogger("gatehouse.hub.ingest")

#: One item to open: (device the topic names, payload, that device's public key).
Item = tuple[str, bytes, Ed25519PublicKey]
#: What opening one item gives: (envelope, "") or (None, reason).
Result = tuple[Envelope | None, str]

# A chunk crosses the process boundary as (raw public keys, [(key index, device, payload)]);
# the answer per item is ("", type, sender, seq, at, body as JSON values) or (reason,). A body
# travels as its full JSON dump (nulls kept, so defaults cannot differ) and is validated once
# more here: cheaper than pickling pydantic models, and equal to what open_envelope gives inline
# (tests/hub/test_ingest_pool.py checks every golden message).
_Chunk = tuple[list[bytes], list[tuple[int, str, bytes]]]


class SodiumKey:
    """An Ed25519 public key checked by libsodium, with the ``verify`` of cryptography's key."""

    __slots__ = ("_raw",)

    def __init__(self, raw: bytes) -> None:
        if len(raw) != 32:
            raise ValueError("an Ed25519 public key is 32 bytes")
        self._raw = bytes(raw)

    def verify(self, signature: bytes, data: bytes) -> None:
        """Return if ``signature`` is this key's over ``data``, else raise InvalidSignature."""
        # NOTE: crypto_sign_open takes signature + message and reads the first 64 bytes as the
        # signature: a shorter one would borrow bytes of the message.
        if len(signature) != 64:
            raise InvalidSignature()
        try:
            crypto_sign_open(signature + data, self._raw)
        except CryptoError:
            raise InvalidSignature() from None


_keys: dict[bytes, SodiumKey] = {}


def _key(raw: bytes) -> SodiumKey:
    key = _keys.get(raw)
    if key is None:
        if len(_keys) >= 4096:
            _keys.clear()
        key = _keys[raw] = SodiumKey(raw)
    return key


def open_chunk(chunk: _Chunk) -> list[tuple[Any, ...]]:
    """Worker side: open every payload of ``chunk`` with its own key (see module notes)."""
    raw_keys, entries = chunk
    keys = [_key(raw) for raw in raw_keys]
    out: list[tuple[Any, ...]] = []
    for index, device, payload in entries:
        try:
            env = open_envelope(payload, {device: keys[index]}, expect_sender=device)
        except m.MessageError as exc:
            out.append((exc.reason,))
            continue
        out.append(("", env.type, env.sender, env.seq, env.at, env.body.model_dump(mode="json")))
    return out


def _ready(_: int) -> bool:
    return True


def default_workers() -> int:
    """Worker processes for this machine: one per core but the bridge's own, at least two."""
    # NOTE: at least two even on two cores: the bridge's thread waits on every commit's fsync,
    # and opening is most of an event's CPU (a Pi 4/5 has four cores: three workers).
    return max(2, min(8, len(os.sched_getaffinity(0)) - 1))


def _chunk(items: Sequence[Item]) -> _Chunk:
    index_of: dict[int, int] = {}
    raw_keys: list[bytes] = []
    entries = []
    for device, payload, key in items:
        index = index_of.get(id(key))
        if index is None:
            index = index_of[id(key)] = len(raw_keys)
            raw_keys.append(key.public_bytes_raw())
        entries.append((index, device, payload))
    return raw_keys, entries


def open_inline(items: Sequence[Item]) -> list[Result]:
    """Open ``items`` in this thread, in order, by the same code the workers run."""
    return [_rebuild(a) for a in open_chunk(_chunk(items))]


def _rebuild(answer: tuple[Any, ...]) -> Result:
    if answer[0]:
        return None, answer[0]
    _, type_name, sender, seq, at, body = answer
    try:
        return Envelope(type=type_name, sender=sender, seq=seq, at=at,
                        body=m.decode_body(type_name, body)), ""
    except m.MessageError as exc:  # cannot differ from the worker's verdict; fail secure if it did
        return None, exc.reason


class Opening:
    """A batch being opened; :meth:`result` waits for it and gives one result per item."""

    def __init__(self, pool: OpenPool | None, parts: list[tuple[Sequence[Item], Future | None]]):
        self._pool = pool
        self._parts = parts
        self._results: list[Result] | None = None

    def result(self) -> list[Result]:
        """The results in the order of the items (waits for the workers)."""
        if self._results is not None:
            return self._results
        out: list[Result] = []
        for items, future in self._parts:
            if future is None:
                out += open_inline(items)
                continue
            try:
                answers = future.result()
            except BrokenProcessPool:
                log.error("ingest worker process died; opening its chunk inline items=%d",
                          len(items))
                if self._pool is not None:
                    self._pool.discard_broken()
                out += open_inline(items)
                continue
            out += [_rebuild(a) for a in answers]
        self._results = out
        return out


class OpenPool:
    """Opens batches of device payloads, in ``workers`` processes when a batch is large enough."""

    def __init__(self, workers: int, *, min_batch: int = 64, chunk_size: int = 256) -> None:
        if workers < 0:
            raise ValueError("workers must be 0 (inline) or more")
        if chunk_size < 1 or min_batch < 1:
            raise ValueError("chunk_size and min_batch must be at least 1")
        self.workers = workers
        self.min_batch = min_batch
        self.chunk_size = chunk_size
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _ensure(self) -> ProcessPoolExecutor | None:
        with self._lock:
            if self._closed or self.workers == 0:
                return None
            if self._executor is None:
                # NOTE: spawn, not fork: the bridge forks from a process with paho's and its own
                # threads running, and a forked child can inherit a lock held by one of them.
                self._executor = ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context("spawn"))
            return self._executor

    def start(self) -> None:
        """Start the worker processes now and wait until they answer (else: at the first batch)."""
        executor = self._ensure()
        if executor is not None:
            list(executor.map(_ready, range(self.workers * 2)))

    def discard_broken(self) -> None:
        """Forget a pool whose worker died; the next batch starts a new one."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def open(self, items: Sequence[Item]) -> Opening:
        """Start opening ``items``; the returned :class:`Opening` gives the results in order."""
        executor = self._ensure() if len(items) >= self.min_batch else None
        if executor is None:
            return Opening(None, [(items, None)])
        # Even chunks, at most chunk_size each, at least one per worker.
        n_chunks = max(self.workers, -(-len(items) // self.chunk_size))
        size = -(-len(items) // n_chunks)
        parts: list[tuple[Sequence[Item], Future | None]] = []
        for start in range(0, len(items), size):
            part = items[start:start + size]
            try:
                future: Future | None = executor.submit(open_chunk, _chunk(part))
            except BrokenProcessPool:
                log.error("ingest worker pool broken; opening a chunk inline items=%d", len(part))
                self.discard_broken()
                future = None
            except RuntimeError:  # shut down meanwhile (the bridge is stopping): finish inline
                future = None
            parts.append((part, future))
        return Opening(self, parts)

    def shutdown(self, wait: bool = True) -> None:
        """Stop the worker processes (idempotent)."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=wait, cancel_futures=not wait)
