"""Changing ``lease_duration`` while electors run: lowering it must never make two leaders.

A leader's local deadline comes from the lease it claimed or refreshed with. When an operator
lowers the lease, a follower must keep waiting out the lease the observed record was written with
(recorded next to it by every claim and refresh), or, when that is unknown (a record written by
another implementation), the longest lease it has seen in the configuration meanwhile.
"""

from __future__ import annotations

from typing import Any

from elector_harness import (
    VirtualDriver,
    at_most_one_leader,
    make_core,
    new_election,
    start,
    write_config,
)

from fdb_election.election import ElectionConfig, layout
from fdb_election.runtime import ElectorCore, ManualClock

LONG_S = 10.0
LONG = ElectionConfig.with_lease_duration(LONG_S)
SHORT = ElectionConfig.with_lease_duration(1.0)


def forget_recorded_lease(db: Any) -> None:
    """Make the leader record look written by another implementation (no lease recorded)."""
    tr = db.create_transaction()
    tr.clear(layout.tenure_key(new_election().subspace))
    tr.commit().wait()


def step_until(
    clock: ManualClock, cores: list[ElectorCore], follower: ElectorCore, until: float
) -> None:
    """Step ``follower`` every 50 ms until ``until``, checking the one-leader rule throughout."""
    while clock.monotonic() < until:
        follower.step()
        at_most_one_leader(cores)
        clock.advance(0.05)
        at_most_one_leader(cores)


def test_follower_that_saw_the_long_lease_waits_it_out(db: Any, clock: ManualClock) -> None:
    leader = make_core(db, clock, "a", config=LONG)
    start(leader)
    follower = make_core(db, clock, "b", config=LONG)
    start(follower)
    deadline = leader.deadline
    assert deadline is not None

    write_config(db, SHORT)  # the leader holds a 10 s lease and is frozen from now on
    step_until(clock, [leader, follower], follower, deadline + 0.01)
    assert not leader.is_leader
    clock.advance(0.2)
    follower.step()
    assert follower.is_leader, "once the old lease is over the follower takes over"


def test_follower_that_arrives_after_the_change_waits_the_recorded_lease(
    db: Any, clock: ManualClock
) -> None:
    leader = make_core(db, clock, "a", config=LONG)
    start(leader)
    deadline = leader.deadline
    assert deadline is not None
    write_config(db, SHORT)
    clock.advance(0.5)
    follower = make_core(db, clock, "b")  # only ever sees the 1 s configuration
    start(follower)
    first_seen = clock.monotonic()
    step_until(clock, [leader, follower], follower, deadline + 0.01)
    step_until(clock, [leader, follower], follower, first_seen + LONG_S)
    follower.step()
    assert follower.is_leader, "a full recorded lease after its first read, it takes over"


def test_unknown_recorded_lease_falls_back_to_the_longest_configured(
    db: Any, clock: ManualClock
) -> None:
    leader = make_core(db, clock, "a", config=LONG)
    start(leader)
    follower = make_core(db, clock, "b", config=LONG)
    start(follower)
    deadline = leader.deadline
    assert deadline is not None
    forget_recorded_lease(db)
    write_config(db, SHORT)
    step_until(clock, [leader, follower], follower, deadline + 0.01)
    clock.advance(0.2)
    follower.step()
    assert follower.is_leader


def test_a_refresh_under_the_lower_lease_shortens_the_wait_again(
    db: Any, clock: ManualClock
) -> None:
    leader = make_core(db, clock, "a", config=LONG)
    follower = make_core(db, clock, "b", config=LONG)
    start(leader)
    start(follower)
    write_config(db, SHORT)
    driver = VirtualDriver(clock, [leader, follower])
    driver.run_for(1.0)  # the leader refreshes with the 1 s lease; the follower sees it
    assert leader.is_leader
    deadline = leader.deadline
    assert deadline is not None
    assert deadline <= clock.monotonic() + 1.0, "the deadline uses the lease it refreshed with"
    driver.pause(leader, 30.0)
    driver.run_for(1.5)
    assert follower.is_leader, "after a 1 s refresh a 1 s wait suffices"
