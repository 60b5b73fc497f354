"""Election cost as the number of registered candidates grows, on the in-memory store.

One election per size (1, 100, 10,000 and 100,000 candidates; ``--quick`` stops at 10,000), each
in a database of its own so the store's size grows with it. The first candidate leads and runs
its cycle; the others are registered, alive and silent. Measures:

* ``cycle_us_<n>``: one committed ``run_election_cycle`` of the leader with ``n`` candidates;
  the sizes are timed in interleaved rounds of the same run, so noise falls on all of them;
* ``candidates_scale_ratio``: cycle cost at the largest size over the smallest (target
  <= 1.5: a cycle reads a fixed set of keys, never the candidate list);
* ``list_candidates_us_per_candidate``: ``list_candidates`` in one transaction at the largest
  size, divided by the number of candidates;
* ``evict_us_per_candidate``: ``evict_dead_candidates`` of every candidate but the leader (all
  timed out) at 10,000 candidates, committed, divided by the number evicted. Not at 100,000:
  clearing that many keys in one transaction exceeds the 10 MB limit (error 2101), on the
  embedded store as on FoundationDB; this times the seed's call, which clears every dead
  candidate at once (``limit=`` evicts in bounded parts instead).

Candidates are registered in batches: one transaction registers as many as fit in
:data:`BATCH_BYTES` (far below FoundationDB's 10 MB transaction limit, and well within its 5 s
lifetime). Usage: ``python benchmarks/scale.py [--quick]``; ``run(quick)`` is what
``benchmarks/run.py`` calls.
"""

from __future__ import annotations

import time
from typing import Any

from _common import commit, print_figures, quick_flag
from election_cycle import PRIORITY, PROCESS_ID, T0, setup_election, timed_rounds
from fdb_election import embedded
from fdb_election.election import ElectionConfig, Leader, LeaderElection, layout

SIZES = (1, 100, 10_000, 100_000)
QUICK_SIZES = (1, 100, 10_000)

#: Bytes of candidate keys and values written per registration transaction.
BATCH_BYTES = 1_000_000

#: Largest size evicted in one transaction (the seed's ``evict_dead_candidates``, no ``limit``).
EVICT_MAX = 10_000

#: How far past the registrations the eviction runs: every candidate has timed out by then.
AFTER_TIMEOUT = ElectionConfig().candidate_timeout.total_seconds() + 1


def populate(db: Any, election: LeaderElection, count: int, when: float = T0) -> None:
    """Register ``count`` silent candidates ``c0000001``... in batched transactions.

    Each batch checks the configuration once (as ``register_candidate`` does for each) and then
    writes the registrations blindly, with the same key and ``set_versionstamped_value``
    parameter as ``register_candidate``. Calling ``register_candidate`` thousands of times in
    one transaction is quadratic on the embedded store today (each of its reads records a read
    conflict by scanning all of the transaction's writes), which is not what this measures.
    """
    names = [f"c{i:07d}" for i in range(1, count + 1)]
    if not names:
        return
    when_ns = round(when * 1_000_000_000)
    param = layout.registration_param(PRIORITY, when_ns)
    sample_key = layout.candidate_key(election.subspace, names[0])
    batch = max(1, BATCH_BYTES // (len(sample_key) + len(param)))

    def register(tr: Any, chunk: list[str]) -> None:
        if not election.read_config(tr).election_enabled:
            raise RuntimeError("the election is disabled")
        for name in chunk:
            tr.set_versionstamped_value(layout.candidate_key(election.subspace, name), param)

    for start in range(0, len(names), batch):
        chunk = names[start : start + batch]
        commit(db, lambda tr, chunk=chunk: register(tr, chunk))


def prepare(size: int) -> tuple[Any, LeaderElection]:
    """A database whose election has ``size`` candidates, the first of which leads."""
    db = embedded.open()
    election = setup_election(db, "scale", [PROCESS_ID])
    result = commit(db, lambda tr: election.run_election_cycle(tr, PROCESS_ID, PRIORITY, T0))
    if not isinstance(result, Leader):
        raise RuntimeError(f"expected the first candidate to lead, got {result!r}")
    populate(db, election, size - 1)
    return db, election


def cycle_at(db: Any, election: LeaderElection) -> Any:
    """``fn(i)``: one committed cycle of the leader at ``T0 + 1 s + i ms``."""

    def cycle(i: int) -> None:
        now = T0 + 1 + i * 0.001
        commit(db, lambda tr: election.run_election_cycle(tr, PROCESS_ID, PRIORITY, now))

    return cycle


def run(quick: bool = False) -> dict[str, float]:
    """The named figures (see the module docstring)."""
    sizes = QUICK_SIZES if quick else SIZES
    prepared = {size: prepare(size) for size in sizes}
    per_round, rounds = (300, 5) if quick else (1_000, 9)
    medians = timed_rounds(
        {str(size): cycle_at(db, election) for size, (db, election) in prepared.items()},
        per_round,
        rounds,
    )
    figures = {f"cycle_us_{size}": medians[str(size)] * 1e6 for size in sizes}
    figures["candidates_scale_ratio"] = medians[str(sizes[-1])] / medians[str(sizes[0])]

    largest = sizes[-1]
    db, election = prepared[largest]
    now = T0 + 2
    started = time.perf_counter()
    alive = commit(db, lambda tr: election.list_candidates(tr, now))
    listed = time.perf_counter() - started
    if len(alive) != largest:
        raise RuntimeError(f"list_candidates found {len(alive)} candidates, expected {largest}")
    figures["list_candidates_us_per_candidate"] = listed / largest * 1e6

    # Evicting 100,000 candidates at once exceeds the 10 MB transaction limit (2101): every
    # clear counts its key twice (begin and end) plus its write conflict range.
    evict_size = max(size for size in sizes if size <= EVICT_MAX)
    db, election = prepared[evict_size]
    later = T0 + 2 + AFTER_TIMEOUT
    started = time.perf_counter()
    evicted = commit(db, lambda tr: election.evict_dead_candidates(tr, later))
    elapsed = time.perf_counter() - started
    if evicted != evict_size - 1:  # all but the leader, whose cycles kept it alive
        raise RuntimeError(f"evict_dead_candidates removed {evicted}, expected {evict_size - 1}")
    figures["evict_us_per_candidate"] = elapsed / evicted * 1e6
    return figures


def main(argv: list[str] | None = None) -> dict[str, float]:
    figures = run(quick=quick_flag(__doc__, "stop at 10,000 candidates", argv))
    print_figures(figures, ".3g", header=True)
    print("target: candidates_scale_ratio <= 1.5")
    return figures


if __name__ == "__main__":
    main()
