"""The simulator's command line: run many seeds, summarise, replay a failing one.

Usage::

    python -m fdb_election.sim --seeds 1000            # seeds 0..999, 3 processes
    python -m fdb_election.sim --seeds 50 --start 7000 --processes 5 --hours 0.5
    python -m fdb_election.sim --replay 4242           # one seed, with its full trace
    python -m fdb_election.sim --seeds 20 --mutation lease_not_checked   # must find bugs

The output ends with exactly one machine-readable line ``seeds=N violations=V``; the exit status
is 1 when V > 0 (2 for bad arguments).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from typing import TextIO

from fdb_election import _mutations
from fdb_election.sim.faults import FAULT_KINDS, SimConfig
from fdb_election.sim.world import Outcome, run_seed

__all__ = ["main", "parse_args"]


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line (``--help`` lists everything)."""
    parser = argparse.ArgumentParser(
        prog="python -m fdb_election.sim",
        description="Deterministic simulation of fdb-election electors with fault injection.",
    )
    parser.add_argument("--seeds", type=_positive_int, default=100, help="how many seeds to run")
    parser.add_argument("--start", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--processes", type=_positive_int, default=3, help="electors per run")
    parser.add_argument(
        "--hours",
        type=_positive_float,
        default=120 / 3600,
        help="simulated hours per seed (default 0.0333 = 2 minutes)",
    )
    parser.add_argument("--lease", type=_positive_float, default=2.0, help="initial lease, s")
    parser.add_argument(
        "--replay", type=int, default=None, metavar="SEED", help="run one seed, print its trace"
    )
    parser.add_argument(
        "--faults",
        default=",".join(FAULT_KINDS),
        help=f"comma-separated fault kinds to inject (default all: {','.join(FAULT_KINDS)})",
    )
    parser.add_argument(
        "--no-shrink-leases",
        action="store_true",
        help="configuration faults never lower the lease",
    )
    parser.add_argument(
        "--mutation",
        action="append",
        default=[],
        choices=sorted(_mutations.KNOWN),
        help="plant a known bug (test of the checker; repeatable)",
    )
    parser.add_argument("--trace", type=int, default=40, help="trace lines for a failure")
    return parser.parse_args(argv)


def _config(args: argparse.Namespace) -> SimConfig:
    kinds = tuple(k for k in args.faults.split(",") if k)
    lease = args.lease
    return SimConfig(
        processes=args.processes,
        duration=round(args.hours * 3600, 6),
        lease=lease,
        heartbeat=lease * 0.3,
        leases=(lease / 2, lease, lease * 1.5),
        kinds=kinds,
        shrink_leases=not args.no_shrink_leases,
    )


def _quantiles(values: list[float]) -> str:
    if not values:
        return "none"
    values = sorted(values)

    def at(q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))]

    return (
        f"n={len(values)} median={statistics.median(values):.3f}s p90={at(0.9):.3f}s "
        f"p99={at(0.99):.3f}s max={values[-1]:.3f}s"
    )


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the simulator; the exit status (0 clean, 1 violations found)."""
    stream = out if out is not None else sys.stdout
    try:
        args = parse_args(argv)
        config = _config(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("fdb_election").setLevel(logging.CRITICAL)
    seeds = [args.replay] if args.replay is not None else range(args.start, args.start + args.seeds)
    faults: Counter[str] = Counter()
    changes = 0
    failovers: list[float] = []
    failing: list[Outcome] = []
    events = 0
    began = time.perf_counter()
    with ExitStack() as stack:
        if args.mutation:
            stack.enter_context(_mutations.active(*args.mutation))
            print(f"planted bugs: {', '.join(args.mutation)}", file=stream)
        for seed in seeds:
            outcome = run_seed(seed, config)
            faults.update(outcome.faults)
            changes += outcome.leadership_changes
            failovers.extend(outcome.failovers)
            events += outcome.events
            if outcome.violations:
                failing.append(outcome)
                print(outcome.report(args.trace), file=stream)
            elif args.replay is not None:
                print("\n".join(outcome.history.trace(args.trace)), file=stream)
    elapsed = time.perf_counter() - began
    n = len(seeds)
    hours = n * config.duration / 3600
    violations = sum(len(o.violations) for o in failing)
    print(
        f"seeds: {n} ({seeds[0]}..{seeds[-1]}), {config.processes} processes, "
        f"{config.duration:.0f} s each, {hours:.2f} simulated hours in {elapsed:.1f} s "
        f"({events} events)",
        file=stream,
    )
    kinds = ", ".join(f"{k}={faults[k]}" for k in sorted(faults)) or "none"
    print(f"faults injected: {sum(faults.values())} ({kinds})", file=stream)
    print(f"leadership changes: {changes}", file=stream)
    print(f"failover (leaderless gaps): {_quantiles(failovers)}", file=stream)
    if failing:
        print(f"failing seeds: {', '.join(str(o.seed) for o in failing[:50])}", file=stream)
        print(f"replay the first: {failing[0].replay_command()}", file=stream)
    print(f"seeds={n} violations={violations}", file=stream)
    return 1 if violations else 0
