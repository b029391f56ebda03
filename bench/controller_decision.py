"""Door controller, 100,000 credentials: tap → strike, revocation delta, memory, cold start.

- tap → relay: the reader's event handed to the running service (queue, HMAC, policy,
  durable outbox append with fsync, door machine) until the strike relay's MockFactory pin
  goes high, timed by the pin itself; 1,000 taps of random cards;
- delta revoking one card: :meth:`AclCache.apply_delta` (one fsynced transaction + index);
- service RSS: the real ``gatehouse-controller --simulate`` process with that cache,
  broker unreachable, read from /proc after it started;
- cold start: opening the 100,000-card cache (integrity check + in-memory index) in a fresh
  interpreter (the file is in the OS page cache, as after a service restart).

Prints figures, then one JSON line per figure for ``bench.run``.
"""

from __future__ import annotations

import json
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from gpiozero.pins.mock import MockFactory, MockPin

from controller.cache import AclCache
from controller.hw import DoorHardware
from controller.service import ControllerService
from hardware.door import SimDoorIO
from hardware.mfrc522_sim import SimBoard
from hardware.reader import SimReader
from link import keys
from link.client import BrokerConfig
from link.device import DeviceLink
from link.keys import card_hmac
from link.messages import AclCredential, AclDelta, AclDoor, AclGroup, AclSnapshot, AclWindow

N_CARDS = 100_000
N_TAPS = 1_000
CHUNK = 2_500
SITE_KEY = bytes(range(32))
DEVICE = "bench-ctl"


def figure(name: str, value: float, unit: str, target: float | None = None,
           better: str = "lower") -> None:
    """One machine-readable figure."""
    print(json.dumps({"name": name, "value": round(value, 4), "unit": unit, "target": target,
                      "better": better}))


def uid(i: int) -> bytes:
    """The i-th card's 4-byte UID."""
    return (0x10000000 + i).to_bytes(4, "big")


def build_cache(path: Path) -> float:
    """Write a 100,000-card ACL in chunks through the cache; return the apply time in s."""
    doors = [AclDoor(door="rr-1", name="Records", kind="records_room")]
    groups = [AclGroup(group="staff", doors=["rr-1"],
                       windows=[AclWindow(days=[0, 1, 2, 3, 4], start="07:00", end="18:00")]),
              AclGroup(group="allday", doors=["rr-1"], always=True)]
    now = datetime.now(UTC)
    chunks = N_CARDS // CHUNK
    started = time.perf_counter()
    with AclCache(path) as cache:
        for c in range(chunks):
            creds = [AclCredential(cred=card_hmac(SITE_KEY, uid(i)), holder=f"S{i:06d}",
                                   groups=["staff", "allday"], can_escort=i % 7 == 0)
                     for i in range(c * CHUNK, (c + 1) * CHUNK)]
            result = cache.apply_snapshot(AclSnapshot(
                version=1, chunk=c, chunks=chunks, building="bench-school",
                tz="America/New_York", doors=doors if c == 0 else [],
                groups=groups if c == 0 else [], credentials=creds), now)
        assert result.outcome == "applied", result
    return time.perf_counter() - started


class TimedPin(MockPin):
    """A MockPin that notes when it goes high (the strike energising)."""

    def __init__(self, factory, info) -> None:
        super().__init__(factory, info)
        self.high_at = 0.0
        self.went_high = threading.Event()

    def _change_state(self, value):
        changed = super()._change_state(value)
        if changed and value:
            self.high_at = time.perf_counter()
            self.went_high.set()
        return changed


def bench_taps(cache_path: Path, state_dir: Path) -> tuple[list[float], list[float]]:
    """Tap → relay energised latencies, and the outbox appends among them, in ms."""
    factory = MockFactory()
    relay_pin = factory.pin(17, pin_class=TimedPin)
    door = DoorHardware("rr-1", io=SimDoorIO("door0", relay_pin=17, pin_factory=factory),
                        reader=SimReader("reader0", board=SimBoard()))
    cache = AclCache(cache_path)
    link = DeviceLink(DEVICE, kind="controller", private_key=Ed25519PrivateKey.generate(),
                      hub_key=Ed25519PrivateKey.generate().public_key(),
                      broker=BrokerConfig("127.0.0.1", 9, DEVICE), state_dir=state_dir)
    service = ControllerService(device_id=DEVICE, cache=cache, link=link, doors={"rr-1": door},
                                site_key=SITE_KEY, ntp_synced=lambda: True)
    # Time every durable append too: the fsync is the floor under tap → relay.
    appends: list[float] = []
    plain_add = link.outbox.add

    def timed_add(topic, make_payload):
        t = time.perf_counter()
        try:
            return plain_add(topic, make_payload)
        finally:
            appends.append((time.perf_counter() - t) * 1000)

    link.outbox.add = timed_add  # type: ignore[method-assign]
    service.start()
    rng = random.Random(4)
    times: list[float] = []
    try:
        for _ in range(N_TAPS):
            relay_pin.went_high.clear()
            card = uid(rng.randrange(N_CARDS))
            t0 = time.perf_counter()
            service.card("rr-1", card)
            if not relay_pin.went_high.wait(5):
                raise RuntimeError(f"no grant: {service.decisions[-1]}")
            times.append((relay_pin.high_at - t0) * 1000)
            # Walk through and close the door: the strike relocks for the next tap.
            service.contact("rr-1", True)
            service.contact("rr-1", False)
            service.drain()
    finally:
        service.stop()
        door.close()
        link.stop(clean=False)
        cache.close()
    return times, appends


def bench_decide(cache_path: Path) -> list[float]:
    """The pure policy decision alone, in microseconds."""
    from controller.policy import Presentation, decide

    rng = random.Random(5)
    now = datetime.now(UTC)
    out = []
    with AclCache(cache_path) as cache:
        creds = [card_hmac(SITE_KEY, uid(rng.randrange(N_CARDS))) for _ in range(5000)]
        for c in creds:
            t = time.perf_counter()
            d = decide(cache, "rr-1", Presentation(c), now, (), is_clock_trusted=True)
            out.append((time.perf_counter() - t) * 1e6)
            assert d.granted
    return out


def bench_revoke(cache_path: Path) -> list[float]:
    """Apply time of deltas revoking one card each, in ms."""
    rng = random.Random(6)
    out = []
    now = datetime.now(UTC)
    with AclCache(cache_path) as cache:
        version = cache.version or 1
        for _ in range(50):
            c = card_hmac(SITE_KEY, uid(rng.randrange(N_CARDS)))
            d = AclDelta(from_version=version, to_version=version + 1, revoke=[c])
            t = time.perf_counter()
            result = cache.apply_delta(d, now + timedelta(seconds=1))
            out.append((time.perf_counter() - t) * 1000)
            assert result.outcome == "applied" and cache.credential(c).status == "revoked"
            version += 1
    return out


def cold_start(cache_path: Path) -> float:
    """Seconds to open the cache and build its index in a fresh interpreter."""
    code = ("import time, sys; from controller.cache import AclCache; t = time.perf_counter(); "
            "c = AclCache(sys.argv[1]); n = len(c); print(time.perf_counter() - t, n)")
    out = subprocess.run([sys.executable, "-c", code, str(cache_path)], capture_output=True,
                         text=True, check=True, cwd=Path(__file__).parents[1])
    seconds, n = out.stdout.split()
    assert int(n) == N_CARDS
    return float(seconds)


def service_rss(tmp: Path, cache_path: Path) -> tuple[float, float, float]:
    """(RSS MB, peak RSS MB, seconds to 'started') of the real service with the cache."""
    state = tmp / "svc"
    state.mkdir()
    (state / "acl.db").write_bytes(cache_path.read_bytes())
    keys.generate(tmp / "d.key", tmp / "d.pub")
    keys.generate(tmp / "h.key", tmp / "h.pub")
    (tmp / "site.key").write_text(SITE_KEY.hex())
    cfg = tmp / "controller.toml"
    cfg.write_text(f"""
[device]
id = "{DEVICE}"
state_dir = "{state}"
[broker]
host = "127.0.0.1"
port = 9
[keys]
device_key = "{tmp / 'd.key'}"
hub_public_key = "{tmp / 'h.pub'}"
site_key_file = "{tmp / 'site.key'}"
[clock]
ntp = "synced"
[[doors]]
id = "rr-1"
""")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "controller.cli", "--config", str(cfg),
                             "--simulate"], stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).parents[1])
    started = 0.0
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "event=started" in line:
                started = time.perf_counter() - t0
                break
        time.sleep(3)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss = int(fields["VmRSS"].split()[0]) / 1024
        hwm = int(fields["VmHWM"].split()[0]) / 1024
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return rss, hwm, started


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cache_path = tmp / "acl.db"
        apply_s = build_cache(cache_path)
        print(f"snapshot of {N_CARDS} cards in {N_CARDS // CHUNK} chunks applied in "
              f"{apply_s:.2f} s")
        figure("controller snapshot apply (100k cards)", apply_s, "s")

        cold = min(cold_start(cache_path) for _ in range(3))
        print(f"cache cold start with {N_CARDS} cards: {cold:.3f} s (best of 3)")
        figure("controller cache cold start (100k cards)", cold, "s", target=2)

        rss, hwm, started_s = service_rss(tmp, cache_path)
        print(f"service RSS with {N_CARDS} cards: {rss:.1f} MB (peak {hwm:.1f} MB), "
              f"started in {started_s:.2f} s")
        figure("controller service RSS (100k cards)", rss, "MB", target=80)
        figure("controller service peak RSS (100k cards)", hwm, "MB")

        dec = bench_decide(cache_path)
        print(f"policy decision alone: median {statistics.median(dec):.1f} us")
        figure("controller policy decision median", statistics.median(dec), "us")

        taps, appends = bench_taps(cache_path, tmp / "tapstate")
        taps, appends = sorted(taps), sorted(appends)
        med = statistics.median(taps)
        p99 = taps[int(len(taps) * 0.99) - 1]
        print(f"tap → strike energised over {len(taps)} taps: median {med:.3f} ms, "
              f"p99 {p99:.3f} ms, max {taps[-1]:.3f} ms")
        figure("controller tap to relay median (100k cards)", med, "ms", target=2)
        figure("controller tap to relay p99 (100k cards)", p99, "ms", target=10)
        a_med, a_p99 = statistics.median(appends), appends[int(len(appends) * 0.99) - 1]
        print(f"  of which the durable outbox append (fsync): median {a_med:.3f} ms, "
              f"p99 {a_p99:.3f} ms over {len(appends)} appends")
        figure("controller outbox append during taps median", a_med, "ms")
        figure("controller outbox append during taps p99", a_p99, "ms")

        from controller.policy import hash_pin

        pin_ms = []
        for _ in range(20):
            t = time.perf_counter()
            hash_pin("2468", "00112233445566778899aabbccddeeff", 50_000)
            pin_ms.append((time.perf_counter() - t) * 1000)
        print(f"PIN check (PBKDF2-SHA256, 50,000 iterations as the hub issues): median "
              f"{statistics.median(pin_ms):.1f} ms")
        figure("controller PIN check (50k iterations)", statistics.median(pin_ms), "ms")

        rev = sorted(bench_revoke(cache_path))
        print(f"delta revoking one card: median {statistics.median(rev):.3f} ms, "
              f"max {rev[-1]:.3f} ms (50 deltas)")
        figure("controller revoke delta apply median", statistics.median(rev), "ms", target=5)
        figure("controller revoke delta apply max", rev[-1], "ms")


if __name__ == "__main__":
    main()
