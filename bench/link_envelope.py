"""Wire-contract costs: sealing and opening envelopes, durable outbox appends."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from link.envelope import Signer, open_envelope
from link.messages import AccessGranted
from link.outbox import Outbox


def figure(name: str, value: float, unit: str, target: float | None = None, better: str = "lower") -> None:
    print(json.dumps({"name": name, "value": round(value, 4), "unit": unit, "target": target, "better": better}))


def main() -> None:
    key = Ed25519PrivateKey.generate()
    signer = Signer("door-1", key)
    keys = {"door-1": key.public_key()}
    body = AccessGranted(door="door-1", cred="ab" * 32, holder="S1001")
    now = datetime.now(UTC)
    n = 5000
    t0 = time.perf_counter()
    payloads = [signer.seal(body, seq=i, now=now) for i in range(n)]
    seal_us = (time.perf_counter() - t0) / n * 1e6
    t0 = time.perf_counter()
    for p in payloads:
        open_envelope(p, keys, expect_sender="door-1")
    open_us = (time.perf_counter() - t0) / n * 1e6
    print(f"seal {seal_us:.1f} us/message, open+verify {open_us:.1f} us/message ({n} messages)")
    figure("envelope seal", seal_us, "us")
    figure("envelope open and verify", open_us, "us", target=200)

    with tempfile.TemporaryDirectory() as tmp:
        box = Outbox(Path(tmp) / "o.db")
        times = []
        for i in range(500):
            t = time.perf_counter()
            box.add("t", lambda seq: payloads[i % n])
            times.append((time.perf_counter() - t) * 1000)
        box.close()
    med = statistics.median(times)
    p99 = sorted(times)[int(len(times) * 0.99) - 1]
    print(f"outbox durable append (WAL, synchronous=FULL): median {med:.3f} ms, p99 {p99:.3f} ms")
    figure("outbox durable append median", med, "ms", target=2)
    figure("outbox durable append p99", p99, "ms")


if __name__ == "__main__":
    main()
