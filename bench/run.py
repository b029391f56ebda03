"""Run every benchmark in bench/, collect their figures, write results.json and RESULTS.md.

A benchmark is a script ``bench/<area>_<name>.py`` that prints human-readable lines and, for
each figure, one JSON line ``{"name", "value", "unit", "target", "better": "lower"|"higher"}``.
``python -m bench.run [pattern]`` runs those matching ``pattern`` (all by default) and merges
their figures into the existing results, so one benchmark can be re-run alone.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "results.json"
REPORT = HERE / "RESULTS.md"


def run_one(script: Path) -> list[dict]:
    """Run one benchmark script; return its figures."""
    print(f"== {script.name}", flush=True)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, capture_output=True,
                          text=True, timeout=900)
    figures = []
    for line in proc.stdout.splitlines():
        text = line.strip()
        if text.startswith("{") and '"name"' in text:
            try:
                fig = json.loads(text)
            except ValueError:
                print(line)
                continue
            fig["source"] = script.name
            figures.append(fig)
        else:
            print(line)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        print(f"!! {script.name} failed with exit code {proc.returncode}", file=sys.stderr)
    print(f"   ({time.monotonic() - started:.1f} s)", flush=True)
    return figures


def meets(fig: dict) -> str:
    """'yes', 'no' or '' when the figure has no target."""
    target, value = fig.get("target"), fig.get("value")
    if target is None or value is None:
        return ""
    ok = value <= target if fig.get("better", "lower") == "lower" else value >= target
    return "yes" if ok else "no"


def write_report(figures: list[dict]) -> None:
    """Rewrite RESULTS.md from the figures."""
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m bench.run`) from `bench/results.json`; do not edit by hand.",
        f"Machine: {platform.machine()}, {platform.system()} {platform.release()}, Python "
        f"{platform.python_version()}, {len(__import__('os').sched_getaffinity(0))} cores.",
        "",
        "| benchmark | figure | value | unit | target | meets |",
        "|---|---|---|---|---|---|",
    ]
    for fig in sorted(figures, key=lambda f: (f.get("source", ""), f["name"])):
        target = fig.get("target")
        bound = "" if target is None else ("≤ " if fig.get("better", "lower") == "lower" else "≥ ") + f"{target:g}"
        value = fig["value"]
        shown = f"{value:.3g}" if isinstance(value, float) else str(value)
        lines.append(f"| {fig.get('source', '')} | {fig['name']} | {shown} | {fig.get('unit', '')} | "
                     f"{bound} | {meets(fig)} |")
    REPORT.write_text("\n".join(lines) + "\n")


def main(argv: list[str]) -> int:
    """Entry point: ``python -m bench.run [pattern]``."""
    pattern = argv[0] if argv else ""
    scripts = sorted(p for p in HERE.glob("*_*.py") if pattern in p.name and p.name != "run.py")
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    ran = {s.name for s in scripts}
    figures = [f for f in old if f.get("source") not in ran]
    for script in scripts:
        figures.extend(run_one(script))
    RESULTS.write_text(json.dumps(figures, indent=1) + "\n")
    write_report(figures)
    print(f"wrote {RESULTS.relative_to(HERE.parent)} and {REPORT.relative_to(HERE.parent)} "
          f"({len(figures)} figures)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
