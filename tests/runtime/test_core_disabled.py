"""Elections disabled while electors run: leadership is frozen, not lost, until re-enabled.

The seed refuses heartbeats, registrations and claims while ``election_enabled`` is false but
lets the leader refresh; the elector follows that: the leader keeps refreshing, followers
neither claim nor busy-loop, and nobody evicts candidates that cannot heartbeat.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from elector_harness import (
    CONFIG,
    LEASE,
    VirtualDriver,
    make_core,
    new_election,
    start,
    write_config,
)

from fdb_election.election import layout
from fdb_election.runtime import ManualClock

DISABLED = dataclasses.replace(CONFIG, election_enabled=False)


def candidate_ids(db: Any) -> set[str]:
    election = new_election()
    begin, end = layout.candidates_range(election.subspace)
    tr = db.create_transaction()
    return {layout.candidate_process_id(election.subspace, kv.key) for kv in tr[begin:end]}


def test_the_leader_keeps_leading_while_elections_are_disabled(db: Any, clock: ManualClock) -> None:
    leader = make_core(db, clock, "a")
    follower = make_core(db, clock, "b")
    start(leader)
    start(follower)
    write_config(db, DISABLED)
    driver = VirtualDriver(clock, [leader, follower])
    timeout = CONFIG.candidate_timeout.total_seconds()
    driver.run_for(2 * timeout)  # long past the lease and the candidate timeout
    assert leader.is_leader and driver.leaders_seen == {"a"}
    assert driver.leader_time >= 2 * timeout - 0.011, "leadership was never interrupted"
    assert candidate_ids(db) == {"a", "b"}, "nobody evicts candidates that cannot heartbeat"


def test_followers_neither_claim_nor_spin_while_disabled(db: Any, clock: ManualClock) -> None:
    leader = make_core(db, clock, "a")
    follower = make_core(db, clock, "b")
    start(leader)
    start(follower)
    write_config(db, DISABLED)
    steps = 0
    step = follower.step

    def counted() -> float:
        nonlocal steps
        steps += 1
        return step()

    follower.step = counted  # type: ignore[method-assign]
    driver = VirtualDriver(clock, [follower])  # the leader is gone (crashed)
    driver.run_for(5 * LEASE)
    assert not follower.is_leader and driver.leaders_seen == set()
    assert follower.last_error is None, follower.last_error
    heartbeat = CONFIG.heartbeat_interval.total_seconds()
    assert steps <= 5 * LEASE / (0.9 * heartbeat) + 1, f"{steps} steps: a busy loop"


def test_a_follower_takes_over_once_elections_are_enabled_again(
    db: Any, clock: ManualClock
) -> None:
    leader = make_core(db, clock, "a")
    follower = make_core(db, clock, "b")
    start(leader)
    start(follower)
    write_config(db, DISABLED)
    driver = VirtualDriver(clock, [follower])  # the leader crashed while disabled
    driver.run_for(3 * LEASE)
    assert driver.leaders_seen == set()
    write_config(db, CONFIG)
    driver.run_for(2 * LEASE)
    assert follower.is_leader
