"""No adoption of failed or unknown commits (embedded store's fault hook: embedded-only tests)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from elector_harness import LEASE, BatchedVirtualDriver, VirtualDriver, make_core, start

from fdb_election import embedded
from fdb_election.runtime import Departure, Elected, ManualClock, Phase

NOT_COMMITTED = 1020
COMMIT_UNKNOWN_RESULT = 1021


class Faults:
    """A fault hook: fail the next commits with the given codes (at 'commit' or 'committed')."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, int]] = []

    def __call__(self, event: str, tr: Any) -> int | None:
        if self.pending and self.pending[0][0] == event:
            return self.pending.pop(0)[1]
        return None


@pytest.fixture
def faulty(clock: ManualClock) -> tuple[Any, Faults]:
    db = embedded.open(clock=clock.monotonic)
    faults = Faults()
    db.set_fault_hook(faults)
    return db, faults


def read_leader_id(core: Any) -> str | None:
    tr = core.db.create_transaction()
    record = core.election.get_leader_raw(tr)
    return None if record is None else record.leader_id


def test_a_failed_claim_is_not_adopted(faulty: tuple[Any, Faults], clock: ManualClock) -> None:
    db, faults = faulty
    core = make_core(db, clock, "a")
    core.step()  # config
    core.step()  # registration
    assert core.phase is Phase.RUN
    faults.pending.append(("commit", NOT_COMMITTED))
    core.step()
    assert not core.is_leader
    assert core.last_error is not None and getattr(core.last_error, "code", None) == NOT_COMMITTED
    assert not any(isinstance(e, Elected) for e in core.take_events())
    core.step()
    assert core.is_leader


def test_a_claim_of_unknown_outcome_is_not_adopted(
    faulty: tuple[Any, Faults], clock: ManualClock
) -> None:
    db, faults = faulty
    core = make_core(db, clock, "a")
    core.step()
    core.step()
    faults.pending.append(("committed", COMMIT_UNKNOWN_RESULT))
    core.step()
    assert not core.is_leader, "1021: the claim may have committed, but it is not adopted"
    assert read_leader_id(core) == "a", "(it did commit)"
    clock.advance(0.1)
    refresh_started = clock.monotonic()
    core.step()  # the stored record names this process: a committed refresh adopts it
    assert core.is_leader
    assert core.deadline is not None and core.deadline < refresh_started + LEASE
    tr = db.create_transaction()
    core.fence(tr)  # the adopted ballot is a valid fencing token of this tenure
    tr.commit().wait()


def test_a_refresh_of_unknown_outcome_does_not_extend_the_deadline(
    faulty: tuple[Any, Faults], clock: ManualClock
) -> None:
    db, faults = faulty
    core = make_core(db, clock, "a")
    start(core)
    deadline = core.deadline
    clock.advance(0.3)
    faults.pending.append(("committed", COMMIT_UNKNOWN_RESULT))
    core.step()
    assert core.deadline == deadline
    clock.advance(deadline - clock.monotonic())  # type: ignore[operator]
    assert not core.is_leader


def test_a_failed_resignation_keeps_local_leadership_given_up(
    faulty: tuple[Any, Faults], clock: ManualClock
) -> None:
    db, faults = faulty
    core = make_core(db, clock, "a")
    start(core)
    core.request_stop()
    faults.pending.append(("commit", NOT_COMMITTED))
    core.step()
    assert not core.is_leader, "leadership is given up before the resignation commits"
    assert core.phase is Phase.STOPPING
    assert core.departure is None, "nothing committed yet"
    core.step()
    assert core.phase is Phase.STOPPED
    assert read_leader_id(core) is None
    assert core.departure == Departure(resigned=True)


def test_an_elector_stopped_before_its_first_step_left_without_a_commit(
    faulty: tuple[Any, Faults], clock: ManualClock
) -> None:
    db, _ = faulty
    core = make_core(db, clock, "a")
    core.request_stop()
    assert core.phase is Phase.STOPPED
    assert core.departure == Departure()


@pytest.mark.parametrize("seed", range(5))
def test_random_commit_failures_never_give_two_leaders(clock: ManualClock, seed: int) -> None:
    rng = random.Random(seed)
    db = embedded.open(clock=clock.monotonic)

    def hook(event: str, tr: Any) -> int | None:
        if event in ("commit", "committed") and rng.random() < 0.25:
            return rng.choice((NOT_COMMITTED, COMMIT_UNKNOWN_RESULT))
        return None

    cores = [
        make_core(db, clock, name, wall_offset=offset, seed=seed + i, jitter=0.2)
        for i, (name, offset) in enumerate((("a", 2.0), ("b", 0.0), ("c", -2.0)))
    ]
    for core in cores:
        start(core)
    db.set_fault_hook(hook)
    driver = VirtualDriver(clock, cores)
    for _ in range(10):
        driver.run_for(rng.uniform(0.2, 1.5))
        if rng.random() < 0.5:
            driver.pause(rng.choice(cores), rng.uniform(0.1, 2 * LEASE))
    assert driver.leader_time > 0


def test_a_refresh_of_unknown_outcome_under_a_lowered_lease_caps_the_deadline(
    faulty: tuple[Any, Faults], clock: ManualClock
) -> None:
    from fdb_election.election import ElectionConfig

    db, faults = faulty
    long_config = ElectionConfig.with_lease_duration(3.0)
    leader = make_core(db, clock, "a", config=long_config)
    follower = make_core(db, clock, "b", config=long_config)
    start(leader)
    start(follower)
    tr = db.create_transaction()
    leader.election.write_config(tr, ElectionConfig.with_lease_duration(2.0))
    tr.commit().wait()
    clock.advance(0.5)
    # The refresh writes a record with the 2 s lease, but its commit reports 1021: the leader
    # may not keep the 3 s deadline of its last known refresh, since followers that read the new
    # record wait only the 2 s it records.
    faults.pending.append(("committed", COMMIT_UNKNOWN_RESULT))
    leader.step()
    follower.step()  # first read of the new record
    cores = [leader, follower]
    driver = VirtualDriver(clock, cores)
    driver.pause(leader, 10.0)
    driver.run_for(3.0)  # the invariant is checked every 10 ms
    assert follower.is_leader


@pytest.mark.parametrize("seed", range(8))
def test_steps_committed_together_never_give_two_leaders(clock: ManualClock, seed: int) -> None:
    """The driver's group commit: members of one batch conflict with each other, fail alone or
    report unknown outcomes; one leader at most, and one again once the faults stop."""
    rng = random.Random(seed)
    db = embedded.open(clock=clock.monotonic)
    faulty = True

    def hook(event: str, tr: Any) -> int | None:
        if faulty and event in ("commit", "committed") and rng.random() < 0.2:
            return rng.choice((NOT_COMMITTED, COMMIT_UNKNOWN_RESULT))
        return None

    cores = [
        make_core(db, clock, name, wall_offset=offset, seed=seed + i, jitter=0.2)
        for i, (name, offset) in enumerate((("a", 2.0), ("b", 0.0), ("c", -2.0), ("d", 1.0)))
    ]
    db.set_fault_hook(hook)
    driver = BatchedVirtualDriver(clock, cores)
    for _ in range(12):
        driver.run_for(rng.uniform(0.2, 1.5))
        if rng.random() < 0.5:
            driver.pause(rng.choice(cores), rng.uniform(0.1, 2 * LEASE))
    faulty = False
    driver.run_for(4 * LEASE)
    assert sum(core.is_leader for core in cores) == 1
