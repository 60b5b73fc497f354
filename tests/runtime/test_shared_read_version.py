"""A driver's batch reads at one read version: the first step's, shared by the others.

On a cluster that saves each further step a round trip. The version is older than the steps
that use it, which the rules must tolerate: a claim over a record that changed since that
version fails its commit, and the elector does not adopt it.
"""

from __future__ import annotations

from typing import Any

from elector_harness import CONFIG, LEASE, make_core, start

from fdb_election.runtime import ElectorDriver, ManualClock
from fdb_election.runtime.core import PendingCommit
from fdb_election.runtime.driver import Member

HEARTBEAT = CONFIG.heartbeat_interval.total_seconds()


def test_a_batch_fetches_one_read_version(memory_db: Any, clock: ManualClock) -> None:
    cores = [make_core(memory_db, clock, f"p{i}") for i in range(5)]
    for core in cores:
        start(core)  # each leads the test election in turn? no: one leads, the rest follow
    fetched: list[int] = []
    memory_db.set_fault_hook(
        lambda event, _tr: fetched.append(1) if event == "read_version" else None
    )
    clock.advance(HEARTBEAT)
    driver = ElectorDriver(memory_db, name="shared-read-version")
    driver._step_batch([Member(core, lambda _event: None) for core in cores])
    memory_db.set_fault_hook(None)
    assert len(fetched) == 1, f"{len(fetched)} read versions fetched for a batch of 5"
    assert driver.committed == 5
    assert sum(core.is_leader for core in cores) == 1


def test_a_claim_at_a_shared_version_older_than_a_refresh_is_not_adopted(
    memory_db: Any, clock: ManualClock
) -> None:
    leader = make_core(memory_db, clock, "leader")
    follower = make_core(memory_db, clock, "follower", seed=1)
    start(leader)
    start(follower)
    assert leader.is_leader and not follower.is_leader
    follower.step()  # the follower has seen the leader's record since now
    # The leader stalls for more than a lease: the follower's rules would allow a claim.
    clock.advance(LEASE + HEARTBEAT)
    assert not leader.is_leader
    earlier = memory_db.create_transaction()
    shared = earlier.get_read_version().wait()
    # The leader wakes and takes its record up again, after the shared version was read.
    leader.step()
    assert leader.is_leader
    # The follower's step reads at the older version: it sees the stale record and claims.
    pending = follower.begin_step(read_version=shared)
    assert isinstance(pending, PendingCommit)
    try:
        pending.transaction.commit().wait()
        error = None
    except Exception as exc:
        error = exc
    assert getattr(error, "code", None) == 1020, "the claim conflicts with the refresh"
    follower.resume_step(pending, error)
    assert not follower.is_leader and leader.is_leader
    follower.step()  # at a version of its own: the refreshed record, followed
    assert not follower.is_leader and follower.leader is not None
    assert follower.leader.leader_id == "leader"


def test_a_long_batch_fetches_a_new_read_version_once_it_is_old(
    memory_db: Any, clock: ManualClock
) -> None:
    cores = [make_core(memory_db, clock, f"p{i}") for i in range(6)]
    for core in cores:
        start(core)
    fetched: list[str] = []

    def count(event: str, _tr: Any) -> None:
        if event == "read_version":
            fetched.append(event)

    now = [0.0]

    def slow_clock() -> float:  # every look at the clock finds it a fifth of a second later
        now[0] += 0.2
        return now[0]

    memory_db.set_fault_hook(count)
    clock.advance(HEARTBEAT)
    driver = ElectorDriver(memory_db, name="long-batch", clock=slow_clock)
    driver._step_batch([Member(core, lambda _event: None) for core in cores])
    memory_db.set_fault_hook(None)
    assert 1 < len(fetched) < len(cores), f"{len(fetched)} read versions for {len(cores)} steps"
    assert driver.committed == len(cores)
