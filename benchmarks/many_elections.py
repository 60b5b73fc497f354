"""CPU cost of one process keeping leadership of 1,000 elections (shard leaders).

Every election uses the default configuration (10 s lease, 3 s heartbeat) on one in-memory
store, and this process is the registered candidate and leader of all of them. A one-thread
scheduler spreads the elections evenly over the heartbeat interval and sleeps in between, as a
shard-leader process would; the steady state is measured after every election has been claimed.

* ``many_elections_cpu_share``: one committed transaction running ``run_election_cycle`` per
  election per heartbeat; CPU seconds (``time.process_time()``) per wall second of schedule,
  as a fraction of one core (target < 0.10);
* ``many_elections_cpu_share_elector``: the same schedule driven by the runtime's
  ``ElectorCore.step()`` (what ``Elector`` runs: config read, heartbeat, leader read, step-down
  check when its watch fired, refresh with, once a lease, the preemption check as a snapshot
  scan inside the same transaction, watch, and once per ``candidate_timeout`` a transaction of
  its own that evicts dead candidates), with its own jittered delays;
* ``many_elections_max_lateness_ms``: how late the scheduler ran the most delayed cycle (it
  should stay far below the heartbeat, or the share would understate the need).

What can surprise you: a cycle costs about twice the CPU here that it costs in a tight loop
(``election_cycle.py``), because caches are cold after each sleep, more so on a busy machine.

There is no batched variant: one transaction per election meets the target, and running many
cycles in one transaction saved at most about 10 % of the CPU in a trial, while it would make
one election's conflict or error retry or fail all the others in its transaction.

Usage: ``python benchmarks/many_elections.py [--quick]``; ``run(quick)`` is what
``benchmarks/run.py`` calls.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Callable
from typing import Any

from _common import commit, print_figures, quick_flag
from election_cycle import PRIORITY
from fdb_election import embedded
from fdb_election.election import ElectionConfig, Leader, LeaderElection
from fdb_election.runtime.clock import SystemClock
from fdb_election.runtime.core import ElectorCore
from fdb_election.runtime.settings import ElectorSettings

ELECTIONS = 1_000
PROCESS_ID = "shard-owner"
HEARTBEAT = ElectionConfig().heartbeat_interval.total_seconds()
#: The scheduler's wake-up granularity (seconds).
TICK = 0.02


def paced(
    steps: list[Callable[[], float]], duration: float, first_delay: float, tick: float = TICK
) -> tuple[float, float, float]:
    """Run each step when due for ``duration`` seconds; each returns its next delay.

    Steps start evenly spread over ``first_delay``. The scheduler wakes at most once per
    ``tick`` and then runs every step due within it (up to ``tick`` early), as a timer wheel
    would: waking for each of 1,000 elections separately costs more CPU than the cycles.
    Returns (CPU seconds, wall seconds, worst lateness in seconds) over the whole schedule.
    """
    started = time.monotonic()
    queue = [(started + first_delay * i / len(steps), i) for i in range(len(steps))]
    heapq.heapify(queue)
    end = started + duration
    worst = 0.0
    cpu_started = time.process_time()
    while True:
        due, index = queue[0]
        if due >= end:
            break
        now = time.monotonic()
        if due > now + tick:
            time.sleep(due - now - tick)
        else:
            worst = max(worst, now - due)
        delay = steps[index]()
        heapq.heapreplace(queue, (due + delay, index))
    remaining = end - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)
    return time.process_time() - cpu_started, time.monotonic() - started, worst


def election_cycles(db: Any) -> list[Callable[[], float]]:
    """One step per election: a committed ``run_election_cycle`` at ``time.time()``."""
    elections = [LeaderElection(("shard", i)) for i in range(ELECTIONS)]

    def setup(tr: Any, election: LeaderElection) -> None:
        election.initialize(tr)

    def register(tr: Any, election: LeaderElection) -> None:
        election.register_candidate(tr, PROCESS_ID, PRIORITY, time.time())

    for election in elections:
        commit(db, lambda tr, e=election: setup(tr, e))
        commit(
            db, lambda tr, e=election: e.register_candidate(tr, PROCESS_ID, PRIORITY, time.time())
        )
    for election in elections:
        result = commit(
            db, lambda tr, e=election: e.run_election_cycle(tr, PROCESS_ID, PRIORITY, time.time())
        )
        if not isinstance(result, Leader):
            raise RuntimeError(f"expected to lead {election!r}, got {result!r}")

    def step(election: LeaderElection) -> Callable[[], float]:
        def cycle() -> float:
            result = commit(
                db, lambda tr: election.run_election_cycle(tr, PROCESS_ID, PRIORITY, time.time())
            )
            if not isinstance(result, Leader):
                raise RuntimeError(f"lost {election!r}: {result!r}")
            return HEARTBEAT

        return cycle

    return [step(election) for election in elections]


def elector_steps(db: Any) -> tuple[list[Callable[[], float]], list[ElectorCore]]:
    """One ``ElectorCore`` per election, stepped until it leads; its ``step`` is the step."""
    clock = SystemClock()
    rng = random.Random(8)
    settings = ElectorSettings(process_id=PROCESS_ID, metrics=False)
    cores = [
        ElectorCore(db, LeaderElection(("elector", i)), settings, clock=clock, rng=rng)
        for i in range(ELECTIONS)
    ]
    for core in cores:
        for _ in range(10):
            core.step()
            if core.is_leader:
                break
        else:
            raise RuntimeError(f"{core.name} did not lead after 10 steps")
    return [core.step for core in cores], cores


def run(quick: bool = False) -> dict[str, float]:
    """The named figures (see the module docstring)."""
    periods = 1 if quick else 3
    duration = periods * HEARTBEAT
    figures: dict[str, float] = {}

    steps = election_cycles(embedded.open())
    cpu, wall, late = paced(steps, duration, HEARTBEAT)
    figures["many_elections_cpu_share"] = cpu / wall
    worst = late

    steps, cores = elector_steps(embedded.open())
    cpu, wall, late = paced(steps, duration, HEARTBEAT)
    lost = sum(not core.is_leader for core in cores)
    if lost:
        raise RuntimeError(f"{lost} electors lost leadership during the measurement")
    figures["many_elections_cpu_share_elector"] = cpu / wall
    figures["many_elections_max_lateness_ms"] = max(worst, late) * 1e3
    return figures


def main(argv: list[str] | None = None) -> dict[str, float]:
    figures = run(quick=quick_flag(__doc__, "one heartbeat period per variant", argv))
    print_figures(figures, ".3g", header=True)
    print("target: many_elections_cpu_share < 0.10")
    return figures


if __name__ == "__main__":
    main()
