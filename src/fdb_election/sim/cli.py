"""The simulator's command line: run many seeds, summarise, replay a failing one.

Usage::

    python -m fdb_election.sim --seeds 1000            # seeds 0..999, 3 processes
    python -m fdb_election.sim --seeds 50 --start 7000 --processes 5 --hours 0.5
    python -m fdb_election.sim --replay 4242           # one seed, with its full trace
    python -m fdb_election.sim --scenario crash --timeline crash.svg     # a picture of a failover
    python -m fdb_election.sim --replay 3 --timeline seed3.svg --window 10:40

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
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from fdb_election.sim.faults import ELECTORS_PER_DRIVER, FAULT_KINDS, SimConfig
from fdb_election.sim.scenarios import SCENARIOS, run_scenario
from fdb_election.sim.timeline import render_svg
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


def _window(text: str) -> tuple[float, float]:
    begin, sep, end = text.partition(":")
    try:
        if not sep:
            raise ValueError
        window = float(begin), float(end)
        if not 0 <= window[0] < window[1]:
            raise ValueError
        return window
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected START:END in seconds of simulated time with 0 <= START < END "
            f"(e.g. 10:40), got {text!r}"
        ) from None


#: Options that shape a random run; a scenario has its own configuration.
_RUN_OPTIONS = (
    "seeds",
    "start",
    "processes",
    "electors_per_driver",
    "hours",
    "lease",
    "faults",
    "no_shrink_leases",
)


def parse_args(
    argv: Sequence[str] | None = None, prog: str = "python -m fdb_election.sim"
) -> argparse.Namespace:
    """Parse the command line (``--help`` lists everything)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Deterministic simulation of fdb-election electors with fault injection.",
    )
    parser.add_argument("--seeds", type=_positive_int, default=100, help="how many seeds to run")
    parser.add_argument("--start", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--processes", type=_positive_int, default=3, help="electors per run")
    parser.add_argument(
        "--electors-per-driver",
        type=_positive_int,
        default=ELECTORS_PER_DRIVER,
        help="electors that share one driver, as the elections of one process do: their steps "
        f"run and commit together (default {ELECTORS_PER_DRIVER}: every elector on its own)",
    )
    parser.add_argument(
        "--hours",
        type=_positive_float,
        default=120 / 3600,
        help="simulated hours per seed (default 0.0333 = 2 minutes)",
    )
    parser.add_argument("--lease", type=_positive_float, default=2.0, help="initial lease, s")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--replay", type=int, default=None, metavar="SEED", help="run one seed, print its trace"
    )
    which.add_argument(
        "--scenario",
        choices=sorted(SCENARIOS),
        help="run one scripted failover (its own configuration: 3 processes, lease 2 s), "
        "print its trace",
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
    parser.add_argument("--trace", type=int, default=40, help="trace lines for a failure")
    parser.add_argument(
        "--timeline",
        type=Path,
        metavar="FILE.svg",
        help="with --replay or --scenario: draw the run's leadership timeline as SVG",
    )
    parser.add_argument(
        "--window",
        type=_window,
        metavar="START:END",
        help="with --timeline: draw only these seconds of simulated time",
    )
    args = parser.parse_args(argv)
    if args.timeline is not None and args.replay is None and args.scenario is None:
        parser.error("--timeline draws one run: give --replay SEED or --scenario NAME")
    if args.window is not None and args.timeline is None:
        parser.error("--window only applies to --timeline")
    if args.scenario is not None:
        given = [n for n in _RUN_OPTIONS if getattr(args, n) != parser.get_default(n)]
        if given:
            options = ", ".join("--" + n.replace("_", "-") for n in given)
            parser.error(f"--scenario runs its own configuration; drop {options}")
    return args


def _config(args: argparse.Namespace) -> SimConfig:
    kinds = tuple(k for k in args.faults.split(",") if k)
    lease = args.lease
    return SimConfig(
        processes=args.processes,
        electors_per_driver=args.electors_per_driver,
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


def _runs(args: argparse.Namespace, config: SimConfig) -> Iterator[Outcome]:
    if args.scenario is not None:
        yield run_scenario(args.scenario)
        return
    seeds = [args.replay] if args.replay is not None else range(args.start, args.start + args.seeds)
    for seed in seeds:
        yield run_seed(seed, config)


def _settings(config: SimConfig) -> str:
    return (
        f"{config.processes} simulated processes, lease {config.lease:g} s, "
        f"heartbeat {config.heartbeat:g} s"
    )


def _timeline(args: argparse.Namespace, outcome: Outcome) -> str:
    """The SVG of one run, titled for the docs (a scenario) or for debugging (a seed)."""
    start, end = args.window if args.window is not None else (0.0, None)
    if args.scenario is not None:
        scenario = SCENARIOS[args.scenario]
        title = scenario.title
        subtitle = f"{scenario.summary}\n{_settings(outcome.config)}"
    else:
        kinds = outcome.config.kinds
        faults = "all kinds" if set(kinds) == set(FAULT_KINDS) else ", ".join(kinds) or "none"
        title = f"Leadership timeline, seed {outcome.seed}"
        subtitle = f"{_settings(outcome.config)}; faults: {faults}"
        if outcome.violations:
            subtitle += (
                f"\n{len(outcome.violations)} violation(s), the first: {outcome.violations[0]}"
            )
    return render_svg(outcome.history, title=title, subtitle=subtitle, start=start, end=end)


def main(
    argv: Sequence[str] | None = None,
    out: TextIO | None = None,
    prog: str = "python -m fdb_election.sim",
) -> int:
    """Run the simulator; the exit status (0 clean, 1 violations found, 2 bad arguments).

    ``prog`` is the name the usage and error messages give the command.
    """
    stream = out if out is not None else sys.stdout
    try:
        args = parse_args(argv, prog)
        config = _config(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # The electors' warnings (demoted, registered again) are the faults doing their work: quiet
    # while the runs last, then as before (main() may run inside a test or another program).
    library_log = logging.getLogger("fdb_election")
    level = library_log.level
    library_log.setLevel(logging.CRITICAL)
    try:
        return _simulate(args, config, stream)
    finally:
        library_log.setLevel(level)


def _simulate(args: argparse.Namespace, config: SimConfig, stream: TextIO) -> int:
    """Run what ``args`` asks for and print the report on ``stream``; the exit status."""
    single = args.replay is not None or args.scenario is not None
    seeds: list[int] = []
    faults: Counter[str] = Counter()
    changes = 0
    failovers: list[float] = []
    failing: list[Outcome] = []
    events = batches = batched = 0
    began = time.perf_counter()
    for outcome in _runs(args, config):
        seeds.append(outcome.seed)
        config = outcome.config
        faults.update(outcome.faults)
        changes += outcome.leadership_changes
        failovers.extend(outcome.failovers)
        events += outcome.events
        batches += outcome.batches
        batched += outcome.batched
        if outcome.violations:
            failing.append(outcome)
            print(outcome.report(args.trace), file=stream)
        elif single:
            print("\n".join(outcome.history.trace(args.trace)), file=stream)
        if args.timeline is not None:
            try:
                args.timeline.write_text(_timeline(args, outcome), encoding="utf-8")
            except (OSError, ValueError) as exc:
                print(f"error: --timeline {args.timeline}: {exc}", file=sys.stderr)
                return 2
            print(f"timeline: {args.timeline}", file=stream)
    elapsed = time.perf_counter() - began
    n = len(seeds)
    hours = n * config.duration / 3600
    violations = sum(len(o.violations) for o in failing)
    if args.scenario is not None:
        print(f"scenario {args.scenario}: {SCENARIOS[args.scenario].summary}", file=stream)
    print(
        f"seeds: {n} ({seeds[0]}..{seeds[-1]}), {config.processes} electors "
        f"({config.electors_per_driver} per driver), "
        f"{config.duration:.0f} s each, {hours:.2f} simulated hours in {elapsed:.1f} s "
        f"({events} events)",
        file=stream,
    )
    kinds = ", ".join(f"{k}={faults[k]}" for k in sorted(faults)) or "none"
    print(f"faults injected: {sum(faults.values())} ({kinds})", file=stream)
    print(f"leadership changes: {changes}", file=stream)
    if batches:
        print(f"shared-driver batch commits: {batches} ({batched} transactions)", file=stream)
    print(f"failover (leaderless gaps): {_quantiles(failovers)}", file=stream)
    if failing:
        print(f"failing seeds: {', '.join(str(o.seed) for o in failing[:50])}", file=stream)
        print(f"replay the first: {failing[0].replay_command()}", file=stream)
    print(f"seeds={n} violations={violations}", file=stream)
    return 1 if violations else 0
