"""Card reader figures: idle CPU of a polling reader and presentation-to-report latency.

Runs the real mfrc522 library code (through ``Mfrc522Reader``'s fixes) against the emulated
chip in this process, so the process CPU time includes the emulator; the emulator's own
share (CPU spent inside the fake ``spidev.xfer2``) is measured and printed separately. On a
Pi the SPI transfer is a kernel ioctl instead: use the transfers-per-second figure to judge.

Targets (issue 3): an idle reader costs <= 5 % of one core; a presented card is reported
within 100 ms. Run: ``.venv/bin/python -m bench.hardware_reader [--seconds 5] [--taps 30]``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import threading
import time

from hardware.mfrc522_sim import SimBoard
from hardware.reader import SimReader

UID = bytes.fromhex("04a1b2c3d4e5f6")


def idle_cpu(seconds: float, irq: bool) -> dict[str, float]:
    """Poll an empty reader in its background thread; return CPU shares of one core."""
    board = SimBoard()
    factory = None
    if irq:
        from gpiozero.pins.mock import MockFactory

        factory = MockFactory()
    with SimReader(board=board, irq_pin=24 if irq else None, pin_factory=factory) as reader:
        reader.start(lambda read: None)
        time.sleep(0.2)  # settle
        chip_before, transfers_before = board.spi_time_s, reader.chip.transfers
        polls_before = reader.counters["polls"]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        time.sleep(seconds)
        cpu1, wall1 = time.process_time(), time.perf_counter()
        wall = wall1 - wall0
        chip = board.spi_time_s - chip_before
        transfers = reader.chip.transfers - transfers_before
        polls = reader.counters["polls"] - polls_before
        reader.stop()
    return {
        "process_pct": 100 * (cpu1 - cpu0) / wall,
        "emulator_pct": 100 * chip / wall,
        "driver_pct": 100 * ((cpu1 - cpu0) - chip) / wall,
        "polls_per_s": polls / wall,
        "transfers_per_s": transfers / wall,
    }


def stock_no_card_poll() -> dict[str, float]:
    """One unmodified ``MFRC522_Request`` with no card: the library's busy loop."""
    board = SimBoard()
    board.attach()
    lib = board.load_mfrc522().MFRC522()
    chip = board.chips[(0, 0)]
    before = chip.transfers
    cpu0, wall0 = time.process_time(), time.perf_counter()
    lib.MFRC522_Request(lib.PICC_REQIDL)
    cpu1, wall1 = time.process_time(), time.perf_counter()
    lib.Close_MFRC522()
    return {"wall_ms": 1000 * (wall1 - wall0), "cpu_ms": 1000 * (cpu1 - cpu0), "transfers": chip.transfers - before}


def latency(taps: int, irq: bool, seed: int = 7) -> list[float]:
    """Present a card at a random moment of the polling cycle; time until on_card runs."""
    rng = random.Random(seed)
    factory = None
    if irq:
        from gpiozero.pins.mock import MockFactory

        factory = MockFactory()
    results: list[float] = []
    reported = threading.Event()
    stamp: dict[str, float] = {}

    def on_card(read: object) -> None:
        stamp["reported"] = time.perf_counter()
        reported.set()

    with SimReader(irq_pin=24 if irq else None, pin_factory=factory) as reader:
        reader.start(on_card)
        for _ in range(taps):
            time.sleep(rng.uniform(0.0, reader.poll_interval_s))
            reported.clear()
            stamp["presented"] = time.perf_counter()
            reader.present(UID)
            if not reported.wait(2.0):
                results.append(float("inf"))
            else:
                results.append(1000 * (stamp["reported"] - stamp["presented"]))
            reader.remove()
            time.sleep(reader.release_s + 2 * reader.poll_interval_s)  # a new presentation next time
        reader.stop()
    return results


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="idle measurement length")
    parser.add_argument("--taps", type=int, default=30, help="presentations for the latency figure")
    args = parser.parse_args()

    import os
    import platform

    print(f"machine: {platform.machine()} {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} cpus; the emulated chip runs in this process")
    stock = stock_no_card_poll()
    print("mfrc522 0.0.7 unmodified, one REQA with no card (the busy loop):")
    print(f"  {stock['transfers']:.0f} SPI transfers, {stock['wall_ms']:.1f} ms wall, {stock['cpu_ms']:.1f} ms CPU")
    for irq in (False, True):
        mode = "IRQ pin wait" if irq else "status polling (sleep 1 ms between reads)"
        idle = idle_cpu(args.seconds, irq)
        print(f"\nMfrc522Reader, idle, poll every 50 ms, {mode}, {args.seconds:g} s:")
        print(f"  process CPU {idle['process_pct']:.2f} % of one core "
              f"= driver+library {idle['driver_pct']:.2f} % + emulated chip {idle['emulator_pct']:.2f} %  (target <= 5 %)")
        print(f"  {idle['polls_per_s']:.1f} polls/s, {idle['transfers_per_s']:.0f} SPI transfers/s")
        lat = sorted(latency(args.taps, irq))
        p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
        print(f"  presentation -> report over {len(lat)} taps: median {statistics.median(lat):.1f} ms, "
              f"p95 {p95:.1f} ms, max {lat[-1]:.1f} ms  (target <= 100 ms)")
        tag = "irq" if irq else "polling"
        for name, value, unit, target in (
                (f"idle reader CPU ({tag}, emulated chip included)", idle["process_pct"], "% of a core", 5),
                (f"idle reader CPU ({tag}, driver and library only)", idle["driver_pct"], "% of a core", 5),
                (f"card presented -> reported ({tag}), p95", p95, "ms", 100)):
            print(json.dumps({"name": name, "value": round(value, 2), "unit": unit, "target": target,
                              "better": "lower"}))


if __name__ == "__main__":
    main()
