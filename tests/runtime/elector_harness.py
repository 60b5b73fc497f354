"""Helpers for elector tests: cores on a manual clock, and a tiny virtual-time driver."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from typing import Any

from fdb.subspace_impl import Subspace

from fdb_election.election import ElectionConfig, LeaderElection
from fdb_election.runtime import ElectorCore, ElectorSettings, ManualClock, Phase, Release

#: Short timings for the tests: 1 s lease, heartbeat 1/3 s, candidate timeout 1.5 s.
LEASE = 1.0
CONFIG = ElectionConfig.with_lease_duration(LEASE)
ELECTION_PREFIX = ("runtime-test",)


def new_election() -> LeaderElection:
    return LeaderElection(Subspace(ELECTION_PREFIX))


def write_config(db: Any, config: ElectionConfig) -> None:
    """Store ``config`` for the test election (as an operator's ``config set`` would)."""
    tr = db.create_transaction()
    new_election().write_config(tr, config)
    tr.commit().wait()


def make_core(
    db: Any,
    clock: ManualClock,
    process_id: str,
    *,
    priority: int = 0,
    observer: bool = False,
    config: ElectionConfig | None = CONFIG,
    wall_offset: float = 0.0,
    seed: int = 0,
    jitter: float = 0.0,
    before_release: Callable[[Release], object] | None = None,
) -> ElectorCore:
    settings = ElectorSettings(
        process_id=process_id,
        priority=priority,
        config=config,
        observer=observer,
        jitter=jitter,
        metrics=False,
    )
    return ElectorCore(
        db,
        new_election(),
        settings,
        clock=clock.skewed(wall_offset),
        rng=random.Random(seed),
        before_release=before_release,
    )


def start(core: ElectorCore) -> float:
    """Run the set-up steps (config, registration) and the first cycle; return its delay."""
    for _ in range(10):
        if core.phase is Phase.RUN:
            break
        core.step()
    assert core.phase is Phase.RUN, core.last_error
    return core.step()


def at_most_one_leader(cores: Iterable[ElectorCore]) -> None:
    leaders = [core.process_id for core in cores if core.is_leader]
    assert len(leaders) <= 1, f"two local leaders at once: {leaders}"


class VirtualDriver:
    """Drives several cores in virtual time and checks the one-leader invariant throughout.

    Each core runs when its requested delay has passed or when one of its watches fired; paused
    cores do not run at all (as a stopped process) until resumed.
    """

    def __init__(self, clock: ManualClock, cores: list[ElectorCore]) -> None:
        self.clock = clock
        self.cores = cores
        self.due = {core.process_id: clock.monotonic() for core in cores}
        self.paused_until = {core.process_id: -1.0 for core in cores}
        self.leader_time = 0.0
        self.leaders_seen: set[str] = set()
        self.consumed: dict[int, Any] = {}  # keeps futures alive, so ids are not reused

    def pause(self, core: ElectorCore, seconds: float) -> None:
        self.paused_until[core.process_id] = self.clock.monotonic() + seconds

    def _runnable_at(self, core: ElectorCore) -> float:
        due = self.due[core.process_id]
        if any(f.is_ready() and id(f) not in self.consumed for f in core.wake_futures()):
            due = min(due, self.clock.monotonic())
        return max(due, self.paused_until[core.process_id])

    def step_once(self, until: float) -> bool:
        core = min(self.cores, key=self._runnable_at)
        when = self._runnable_at(core)
        if when > until:
            self._advance_to(until)
            return False
        self._advance_to(when)
        self._note_leaders()
        self.consumed.update((id(f), f) for f in core.wake_futures() if f.is_ready())
        delay = core.step()
        core.take_events()
        self.due[core.process_id] = self.clock.monotonic() + delay
        at_most_one_leader(self.cores)
        self._note_leaders()
        return True

    def _note_leaders(self) -> None:
        self.leaders_seen.update(core.process_id for core in self.cores if core.is_leader)

    def _advance_to(self, when: float) -> None:
        now = self.clock.monotonic()
        # Walk in small increments so that every deadline in between is checked.
        while now < when:
            dt = min(0.01, when - now)
            leading = any(core.is_leader for core in self.cores)
            self.clock.advance(dt)
            now = self.clock.monotonic()
            if leading:
                self.leader_time += dt
            at_most_one_leader(self.cores)
            self._note_leaders()

    def run_for(self, seconds: float) -> None:
        until = self.clock.monotonic() + seconds
        for _ in range(1_000_000):
            if not self.step_once(until):
                return
        raise AssertionError("the driver did not reach the end time (a core never waits?)")


class BatchedVirtualDriver(VirtualDriver):
    """Like :class:`VirtualDriver`, but steps every runnable core together, as the runtime's
    driver does: each step up to its commit, then all the commits at once (``commit_all``: the
    store's group commit), then each step on with its own outcome."""

    def step_once(self, until: float) -> bool:
        from fdb_election.runtime import PendingCommit
        from fdb_election.runtime.driver import commit_all

        when = min(self._runnable_at(core) for core in self.cores)
        if when > until:
            self._advance_to(until)
            return False
        self._advance_to(when)
        self._note_leaders()
        batch = [core for core in self.cores if self._runnable_at(core) <= when]
        pending: list[tuple[ElectorCore, Any]] = []
        for core in batch:
            self.consumed.update((id(f), f) for f in core.wake_futures() if f.is_ready())
            result = core.begin_step()
            if isinstance(result, PendingCommit):
                pending.append((core, result))
            else:
                self._done(core, result)
        while pending:
            outcomes = commit_all(self.cores[0].db, [p.transaction for _, p in pending])
            resumed = []
            for (core, step), error in zip(pending, outcomes, strict=True):
                result = core.resume_step(step, error)
                if isinstance(result, PendingCommit):
                    resumed.append((core, result))
                else:
                    self._done(core, result)
            pending = resumed
            at_most_one_leader(self.cores)
        self._note_leaders()
        return True

    def _done(self, core: ElectorCore, delay: float) -> None:
        core.take_events()
        self.due[core.process_id] = self.clock.monotonic() + delay
        at_most_one_leader(self.cores)


def wait_until(condition: Callable[[], object], timeout: float = 15.0) -> bool:
    """Whether ``condition()`` holds within ``timeout`` seconds of real time (polled)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)  # polls a condition with a deadline
    return True
