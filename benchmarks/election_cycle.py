"""Cost of one ``run_election_cycle`` next to its floor, on the in-memory store.

The *floor* is a hand-written transaction that does what the cycle must do and nothing more, with
the tuple layer: the same keys, the same value encodings, the same number of reads, writes and
commits (the benchmark counts both and refuses to report if they differ, and checks that both
write the same bytes). What the election layer adds beyond it — argument checks, decoding into
typed records, validation of stored data — is its overhead; the target is a ratio of at most 1.5.

Measures, for one registered candidate that leads (the steady state of a leader's main loop):

* ``cycle_us``: one committed transaction running ``LeaderElection.run_election_cycle``;
* ``floor_us``: one committed transaction running the floor;
* ``cycle_vs_floor_ratio``: their ratio, both timed in interleaved rounds of the same run.

``--profile`` also runs both under cProfile and prints where each spends its time by layer
(election, tuple codec, store) and the election-layer functions that cost the most per cycle.

Usage: ``python benchmarks/election_cycle.py [--quick] [--profile]``; ``run(quick)`` is what
``benchmarks/run.py`` calls.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import statistics
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from _common import commit
from fdb_election import embedded, tuples
from fdb_election.election import Leader, LeaderElection

#: A fixed wall-clock origin (seconds since the epoch); each cycle advances it, so every cycle
#: really refreshes the lease with a new expiry, as a leader's loop does.
T0 = 1_700_000_000.0
T0_NS = int(T0) * 1_000_000_000
PROCESS_ID = "bench-process"
PRIORITY = 0


# ---------------------------------------------------------------------------------------------
# Shared helpers (scale.py imports these)


def setup_election(db: Any, name: str, process_ids: list[str], when: float = T0) -> LeaderElection:
    """Initialize an election with the default configuration and register ``process_ids``."""
    election = LeaderElection((name,))
    commit(db, election.initialize)
    for process_id in process_ids:
        commit(db, lambda tr, p=process_id: election.register_candidate(tr, p, PRIORITY, when))
    return election


def timed_rounds(
    contenders: dict[str, Callable[[int], None]], per_round: int, rounds: int
) -> dict[str, float]:
    """Median seconds per call of each contender, over ``rounds`` interleaved rounds.

    Each contender is called with a running index (``fn(i)`` does one operation). Interleaving
    the contenders round by round spreads noise from other processes on the machine evenly,
    and the median drops rounds that a burst of it disturbed.
    """
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    index = 0
    gc.collect()
    for _ in range(rounds):
        for name, fn in contenders.items():
            started = time.perf_counter()
            for _ in range(per_round):
                fn(index)
                index += 1
            samples[name].append((time.perf_counter() - started) / per_round)
    return {name: statistics.median(values) for name, values in samples.items()}


class CountingTransaction:
    """A transaction that counts the binding calls made on it (and records what is written)."""

    COUNTED = ("get", "set", "clear", "get_range", "set_versionstamped_value")

    def __init__(self, tr: Any) -> None:
        self._tr = tr
        self.calls: Counter[str] = Counter()
        self.written: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> Any:
        self.calls["get"] += 1
        return self._tr.get(key)

    def set(self, key: bytes, value: bytes) -> None:
        self.calls["set"] += 1
        self.written[bytes(key)] = bytes(value)
        self._tr.set(key, value)

    def clear(self, key: bytes) -> None:
        self.calls["clear"] += 1
        self._tr.clear(key)

    def get_range(self, *args: Any, **kwargs: Any) -> Any:
        self.calls["get_range"] += 1
        return self._tr.get_range(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tr, name)


# ---------------------------------------------------------------------------------------------
# The floor


class Floor:
    """The cycle's reads and writes for a leader refreshing its lease, written by hand.

    It reads config, candidate, leader, ballot mark and tenure, decodes each value once with the
    tuple layer, and writes the same four values as the cycle. With ``repeat_reads`` it also
    issues a second ``get`` of config and candidate, for a cycle that reads them twice (the
    unfused cycle did: its heartbeat and its claim each read both), so the call counts match;
    the benchmark sets it from the cycle's own counts. It checks only what it must to decide
    (enabled, still the leader) and trusts the stored data.
    """

    def __init__(
        self, election: LeaderElection, process_id: str, priority: int, repeat_reads: bool = True
    ) -> None:
        self.repeat_reads = repeat_reads
        subspace = election.subspace
        self.config_key = bytes(subspace.pack(("config",)))
        self.leader_key = bytes(subspace.pack(("leader",)))
        self.ballot_key = bytes(subspace.pack(("ballot",)))
        self.tenure_key = bytes(subspace.pack(("tenure",)))
        self.candidate_key = bytes(subspace.pack(("candidates", process_id)))
        self.process_id = process_id
        self.priority = priority

    def cycle(self, tr: Any, now_ns: int) -> int:
        """One cycle on ``tr`` (not committed); returns the new ballot."""
        unpack, pack = tuples.unpack, tuples.pack
        # Heartbeat: read config and candidate, rewrite the candidate keeping its stamp.
        config_future = tr.get(self.config_key)
        candidate_future = tr.get(self.candidate_key)
        lease_ns, _, _, enabled, _ = unpack(bytes(config_future))
        if not enabled:
            raise RuntimeError("election disabled")
        _, _, stamp = unpack(bytes(candidate_future))
        stamp = tuples.Versionstamp(stamp.tr_version, stamp.user_version)
        tr.set(self.candidate_key, pack((self.priority, now_ns, stamp)))
        if self.repeat_reads:  # what the cycle's claim reads again
            tr.get(self.config_key).present()
            tr.get(self.candidate_key).present()
        leader_future = tr.get(self.leader_key)
        mark_future = tr.get(self.ballot_key)
        tenure_future = tr.get(self.tenure_key)
        leader_value = bytes(leader_future)
        ballot, leader_id, _, _, _ = unpack(leader_value)
        if leader_id != self.process_id:
            raise RuntimeError("the floor measures the leader's refresh only")
        (mark,) = unpack(bytes(mark_future))
        first_ballot, tenure_leader_value, _ = unpack(bytes(tenure_future))
        new_ballot = max(ballot, mark) + 1
        if tenure_leader_value != leader_value:
            first_ballot = new_ballot
        value = pack(
            (new_ballot, self.process_id, self.priority, now_ns + lease_ns, stamp.to_bytes())
        )
        tr.set(self.leader_key, value)
        tr.set(self.ballot_key, pack((new_ballot,)))
        tr.set(self.tenure_key, pack((first_ballot, value, lease_ns)))
        return new_ballot


def matched_floor(db: Any, election: LeaderElection) -> Floor:
    """The floor, after checking it makes the cycle's calls and writes the cycle's bytes.

    Runs one cycle and one floor cycle at the same instant, each in its own uncommitted
    transaction on the same state, and raises rather than compare unlike things.
    """
    when = T0 + 0.5
    real = CountingTransaction(db.create_transaction())
    result = election.run_election_cycle(real, PROCESS_ID, PRIORITY, when)
    if not isinstance(result, Leader):
        raise RuntimeError(f"expected the candidate to lead, got {result!r}")
    floor = Floor(election, PROCESS_ID, PRIORITY, repeat_reads=real.calls["get"] > 5)
    hand = CountingTransaction(db.create_transaction())
    floor.cycle(hand, int(when * 1_000_000_000))
    if real.calls != hand.calls:
        raise RuntimeError(f"floor calls {dict(hand.calls)} differ from the cycle's {real.calls}")
    if real.written != hand.written:
        raise RuntimeError("the floor writes different bytes from the cycle")
    return floor


# ---------------------------------------------------------------------------------------------
# Measurement


def prepare() -> tuple[Any, LeaderElection, Floor]:
    """A database with one initialized election whose only candidate leads."""
    db = embedded.open()
    election = setup_election(db, "cycle-bench", [PROCESS_ID])
    result = commit(db, lambda tr: election.run_election_cycle(tr, PROCESS_ID, PRIORITY, T0))
    if not isinstance(result, Leader):
        raise RuntimeError(f"expected the only candidate to lead, got {result!r}")
    return db, election, matched_floor(db, election)


def contenders(db: Any, election: LeaderElection, floor: Floor) -> dict[str, Callable[[int], None]]:
    """``cycle(i)`` and ``floor(i)``: one committed transaction each, at instant ``T0 + i ms``."""

    def cycle(i: int) -> None:
        now = T0 + 1 + i * 0.001
        commit(db, lambda tr: election.run_election_cycle(tr, PROCESS_ID, PRIORITY, now))

    def hand(i: int) -> None:
        now_ns = T0_NS + (1_000 + i) * 1_000_000
        commit(db, lambda tr: floor.cycle(tr, now_ns))

    return {"cycle": cycle, "floor": hand}


def run(quick: bool = False) -> dict[str, float]:
    """The named figures: ``cycle_us``, ``floor_us``, ``cycle_vs_floor_ratio``."""
    db, election, floor = prepare()
    per_round, rounds = (500, 7) if quick else (2_000, 15)
    medians = timed_rounds(contenders(db, election, floor), per_round, rounds)
    cycle_us, floor_us = medians["cycle"] * 1e6, medians["floor"] * 1e6
    return {
        "cycle_us": cycle_us,
        "floor_us": floor_us,
        "cycle_vs_floor_ratio": cycle_us / floor_us,
    }


def _layer(filename: str) -> str:
    if "/fdb_election/election/" in filename:
        return "election layer"
    if "/fdb_election/embedded/" in filename:
        return "store (embedded)"
    if filename.endswith(("/fdb/tuple.py", "/fdb_election/tuples.py")):
        return "tuple codec"
    if filename == "~":
        return "builtins"
    if "fractions.py" in filename or "datetime" in filename:
        return "stdlib (fractions, datetime)"
    return "other"


def profile(calls: int = 5_000, top: int = 12) -> None:
    """Print, for the cycle and the floor, microseconds per cycle by layer and top functions."""
    db, election, floor = prepare()
    for name, fn in contenders(db, election, floor).items():
        profiler = cProfile.Profile()
        profiler.enable()
        for i in range(calls):
            fn(i)
        profiler.disable()
        stats: Any = pstats.Stats(profiler).stats
        by_layer: Counter[str] = Counter()
        rows = []
        for (filename, line, function), (_, ncalls, tottime, _, _) in stats.items():
            by_layer[_layer(filename)] += tottime
            rows.append((tottime, ncalls, f"{filename.rsplit('/', 1)[-1]}:{line}({function})"))
        total = sum(by_layer.values())
        print(f"\n{name}: {total / calls * 1e6:.1f} us per cycle under cProfile")
        for layer, seconds in by_layer.most_common():
            print(f"  {layer:<30} {seconds / calls * 1e6:7.1f} us  {seconds / total:6.1%}")
        print("  top functions (own time per cycle, calls per cycle):")
        for tottime, ncalls, where in sorted(rows, reverse=True)[:top]:
            print(f"    {tottime / calls * 1e6:6.2f} us  {ncalls / calls:5.1f}x  {where}")


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--profile", action="store_true", help="also profile cycle and floor")
    args = parser.parse_args(argv)
    figures = run(quick=args.quick)
    print(f"{'figure':<24} value")
    for name, value in figures.items():
        print(f"{name:<24} {value:.3g}")
    print("target: cycle_vs_floor_ratio <= 1.5")
    if args.profile:
        profile(calls=1_000 if args.quick else 5_000)
    return figures


if __name__ == "__main__":
    main()
