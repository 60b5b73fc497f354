"""Run every benchmark, print one table, and record it in RESULTS.md and results.json.

Each benchmark module in this folder exposes ``run(quick: bool) -> dict[str, float]``: named
figures, where ratios are measured against a baseline taken in the same run (timings on a shared
2-core machine are noisy; ratios are what we compare). Each benchmark runs in a fresh
interpreter. ``--quick`` runs a reduced version of every benchmark in under a minute.

Usage: ``make bench`` or ``make bench QUICK=1``
(``python benchmarks/run.py [--quick] [--only NAME]``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: PEERS.md is written by peers.py (`make bench-peers`) alone; this file only links to it.
PEERS_LINK = (
    "Side by side with etcd and ZooKeeper (hand-over, failover, idle CPU, memory): "
    "[PEERS.md](PEERS.md), measured by `make bench-peers`."
)

# Order matters only for reading the table: cheap store figures first, failover last.
BENCHMARKS = [
    "store_throughput",
    "file_throughput",
    "group_commit",
    "election_cycle",
    "scale",
    "many_elections",
    "shards_on_file",
    "failover",
    "handover_chain",
    "footprint",
]


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({cpu}), "
        f"Python {platform.python_version()}"
    )


def format_value(value: Any) -> str:
    if isinstance(value, float):
        if value == 0 or 0.001 <= abs(value) < 1e6:
            return f"{value:.4g}"
        return f"{value:.3e}"
    return str(value)


_CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
import {name} as bench
figures = bench.run(quick=sys.argv[2] == "1")
print("\\n" + json.dumps(figures), flush=True)
"""


def run_isolated(name: str, quick: bool) -> dict[str, Any]:
    """Run one benchmark in a fresh interpreter, so no thread or cache of another one (or of this
    runner) is charged to it; CPU figures measured with ``process_time`` depend on that."""
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD.format(name=name), str(HERE), "1" if quick else "0"],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"exited with {proc.returncode}; see its output above")
    figures: dict[str, Any] = json.loads(lines[-1])
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced run, under a minute")
    parser.add_argument("--only", action="append", default=[], help="run only these benchmarks")
    args = parser.parse_args(argv)

    names = args.only or BENCHMARKS
    results: dict[str, dict[str, Any]] = {}
    failures: dict[str, str] = {}
    started = time.monotonic()
    for name in names:
        if not (HERE / f"{name}.py").exists():
            failures[name] = "not written yet"
            continue
        print(f"== {name}", flush=True)
        t0 = time.monotonic()
        try:
            figures = run_isolated(name, args.quick)
        except Exception as exc:  # one broken benchmark must not hide the rest
            failures[name] = f"{type(exc).__name__}: {exc}"
            print(f"   FAILED: {failures[name]}", flush=True)
            continue
        results[name] = figures
        print(f"   done in {time.monotonic() - t0:.1f} s", flush=True)

    rows = [
        (bench, key, format_value(val))
        for bench, figs in results.items()
        for key, val in figs.items()
    ]
    width = max((len(f"{b}.{k}") for b, k, _ in rows), default=10)
    print()
    print(f"{'figure':<{width}}  value")
    for bench, key, val in rows:
        print(f"{bench + '.' + key:<{width}}  {val}")
    for bench, why in failures.items():
        print(f"{bench:<{width}}  not measured: {why}")
    elapsed = time.monotonic() - started
    print(f"\ntotal {elapsed:.1f} s{' (quick)' if args.quick else ''}")

    if not args.only:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        flat = {key: val for figs in results.values() for key, val in figs.items()}
        payload = {
            "date": stamp,
            "machine": machine_description(),
            "quick": args.quick,
            "figures": flat,
            "by_benchmark": results,
            "not_measured": failures,
        }
        (HERE / "results.json").write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
        lines = [
            "# Benchmark results",
            "",
            f"Measured {stamp} on {machine_description()}"
            f"{' — quick run' if args.quick else ''}. Regenerate with `make bench`.",
            "",
            PEERS_LINK,
            "",
            "| benchmark | figure | value |",
            "|---|---|---|",
        ]
        lines += [f"| {b} | `{k}` | {v} |" for b, k, v in rows]
        lines += [f"| {b} | — | not measured: {why} |" for b, why in failures.items()]
        (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
