"""An elector's steps read each key at most once, and wait for few read round trips."""

from __future__ import annotations

from typing import Any

from elector_harness import CONFIG, make_core, start

from fdb_election.runtime import ManualClock
from read_counting import CountingDatabase

HEARTBEAT = CONFIG.heartbeat_interval.total_seconds()


def step_reading_each_key_once(db: CountingDatabase, core: Any) -> None:
    db.transactions.clear()
    core.step()
    assert db.transactions, "the step ran a transaction"
    for tr in db.transactions:
        twice = {key: n for key, n in (tr.reads + tr.snapshot_reads).items() if n > 1}
        assert not twice, f"{core.process_id} read keys more than once: {twice}"


def test_leader_and_follower_steps_read_no_key_twice(memory_db: Any, clock: ManualClock) -> None:
    db = CountingDatabase(memory_db)
    leader = make_core(db, clock, "a")
    follower = make_core(db, clock, "b", seed=1)
    start(leader)
    start(follower)
    assert leader.is_leader
    for _ in range(6):
        clock.advance(HEARTBEAT / 2)
        for core in (leader, follower):
            step_reading_each_key_once(db, core)
    assert leader.is_leader and not follower.is_leader
    # The stop step resigns and unregisters: one read of each key too.
    leader.request_stop()
    step_reading_each_key_once(db, leader)
    assert not leader.is_leader
    step_reading_each_key_once(db, follower)
    assert follower.is_leader


def round_trips(db: CountingDatabase, core: Any) -> int:
    """Run one step of ``core``; the read round trips its transactions waited for."""
    db.transactions.clear()
    core.step()
    return sum(tr.trips.count for tr in db.transactions)


def test_steps_wait_for_few_read_round_trips(memory_db: Any, clock: ManualClock) -> None:
    """On a cluster, each read round trip is network latency on the step, and the handover's
    critical path is a stop step and a claim step."""
    db = CountingDatabase(memory_db)
    leader = make_core(db, clock, "a")
    follower = make_core(db, clock, "b", seed=1)
    start(leader)
    start(follower)
    leading: list[int] = []
    following: list[int] = []
    for _ in range(12):
        clock.advance(HEARTBEAT / 2)
        leading.append(round_trips(db, leader))
        following.append(round_trips(db, follower))
    assert leader.is_leader and not follower.is_leader
    # One round trip, the first refresh of the tenure included; two when the step also scans
    # the candidates (once a lease).
    assert leading[0] == 1 and sorted(leading)[len(leading) // 2] == 1, leading
    assert max(leading) <= 2, leading
    assert max(following[1:]) == 1, following
    leader.request_stop()
    assert round_trips(db, leader) == 2, "the reads, then the candidate scan of the hand-over"
    assert round_trips(db, follower) == 1, "the reads that find the tenure handed over"
    assert follower.is_leader
