"""The elector core's safety rules, step by step on a manual clock."""

from __future__ import annotations

import random
from typing import Any

import pytest
from elector_harness import (
    CONFIG,
    LEASE,
    VirtualDriver,
    at_most_one_leader,
    make_core,
    new_election,
    start,
)

from fdb_election.election import ElectionConfig
from fdb_election.runtime import (
    DEFAULT_CLOCK_DRIFT,
    Demoted,
    Elected,
    LeaderChanged,
    ManualClock,
    Phase,
    safety_margin,
)

MARGIN = safety_margin(LEASE, DEFAULT_CLOCK_DRIFT)


def read_leader(db: Any) -> Any:
    tr = db.create_transaction()
    record = new_election().get_leader_raw(tr)
    tr.commit().wait()
    return record


def test_first_candidate_leads_until_its_local_deadline(db: Any, clock: ManualClock) -> None:
    core = make_core(db, clock, "a")
    claim_started = clock.monotonic()
    start(core)

    assert core.is_leader
    assert core.deadline == pytest.approx(claim_started + LEASE - MARGIN)
    clock.advance(LEASE - MARGIN - 0.001)
    assert core.is_leader
    clock.advance(0.001)
    assert not core.is_leader, "leadership must end at the deadline even without a step"
    assert core.ballot is None


def test_refresh_extends_the_deadline_from_the_attempt_start(db: Any, clock: ManualClock) -> None:
    core = make_core(db, clock, "a")
    start(core)
    first_ballot = core.ballot
    clock.advance(0.3)
    refresh_started = clock.monotonic()
    core.step()
    assert core.deadline == pytest.approx(refresh_started + LEASE - MARGIN)
    assert core.ballot == first_ballot, "the fencing token is the tenure's, not the refresh's"
    assert read_leader(db).ballot > first_ballot


def test_the_margin_covers_the_stated_drift_bound() -> None:
    assert safety_margin(10.0, 0.01) == pytest.approx(0.105)
    assert safety_margin(1.0, 0.0) == pytest.approx(0.005)


def test_follower_waits_a_full_lease_of_unchanged_record_after_its_read(
    db: Any, clock: ManualClock
) -> None:
    leader = make_core(db, clock, "a")
    start(leader)
    clock.advance(0.1)
    follower = make_core(db, clock, "b")
    delay = start(follower)
    first_seen = clock.monotonic()
    assert not follower.is_leader
    assert delay <= LEASE

    # The leader is frozen from now on: no refresh. The follower may take over only a full
    # lease after its first read of the unchanged record, never earlier.
    clock.advance(LEASE - 0.001)
    follower.step()
    assert not follower.is_leader
    clock.advance(first_seen + LEASE - clock.monotonic())
    assert not leader.is_leader
    follower.step()
    assert follower.is_leader


def test_crashed_leader_is_replaced_exactly_one_lease_after_last_change(
    db: Any, clock: ManualClock
) -> None:
    leader = make_core(db, clock, "a")
    start(leader)
    follower = make_core(db, clock, "b")
    start(follower)
    seen_at = clock.monotonic()
    clock.advance(0.2)
    delay = follower.step()  # heartbeats continue meanwhile
    assert delay == pytest.approx(CONFIG.heartbeat_interval.total_seconds())
    clock.advance(0.5)
    delay = follower.step()  # the claim is due before the next heartbeat: wake exactly then
    assert clock.monotonic() + delay == pytest.approx(seen_at + LEASE)
    clock.advance(delay)
    follower.step()
    assert follower.is_leader


@pytest.mark.parametrize("skew", [-5.0, 5.0])
def test_skewed_wall_clocks_never_give_two_local_leaders(
    db: Any, clock: ManualClock, skew: float
) -> None:
    leader = make_core(db, clock, "a")
    follower = make_core(db, clock, "b", wall_offset=skew)
    start(leader)
    start(follower)
    driver = VirtualDriver(clock, [leader, follower])
    driver.run_for(3.0)
    assert driver.leaders_seen == {"a"}, "a refreshing leader keeps the lead whatever the skew"
    driver.pause(leader, 3 * LEASE)  # the leader stops refreshing: the follower takes over
    driver.run_for(3.0)
    assert follower.is_leader
    assert driver.leaders_seen == {"a", "b"}


def test_paused_leader_stops_leading_before_anyone_else_starts(db: Any, clock: ManualClock) -> None:
    cores = [make_core(db, clock, name) for name in ("a", "b", "c")]
    for core in cores:
        start(core)
    driver = VirtualDriver(clock, cores)
    driver.run_for(1.0)
    leader = next(core for core in cores if core.is_leader)
    deadline = leader.deadline
    assert deadline is not None
    driver.pause(leader, 5.0)
    driver.run_for(2.0)  # the invariant is checked every 10 ms of virtual time
    successor = next(core for core in cores if core.is_leader)
    assert successor is not leader
    # When the paused process wakes up it learns it is no longer the leader.
    driver.run_for(4.0)
    assert not leader.is_leader or successor.is_leader is False
    at_most_one_leader(cores)


@pytest.mark.parametrize("seed", range(6))
def test_random_pauses_and_skews_keep_one_leader(db: Any, clock: ManualClock, seed: int) -> None:
    rng = random.Random(seed)
    cores = [
        make_core(db, clock, name, wall_offset=offset, seed=seed * 10 + i, jitter=0.2)
        for i, (name, offset) in enumerate((("a", -5.0), ("b", 0.0), ("c", 5.0)))
    ]
    for core in cores:
        start(core)
    driver = VirtualDriver(clock, cores)
    for _ in range(12):
        driver.run_for(rng.uniform(0.1, 1.5))
        if rng.random() < 0.6:
            driver.pause(rng.choice(cores), rng.uniform(0.1, 2.5 * LEASE))
    assert driver.leader_time > 0, "somebody must lead some of the time"


def test_a_leader_that_sees_another_leader_is_demoted_at_once(db: Any, clock: ManualClock) -> None:
    a = make_core(db, clock, "a")
    b = make_core(db, clock, "b")
    start(a)
    start(b)
    # Simulate a foreign process (e.g. a Rust recipe preempting by priority) taking the key.
    tr = db.create_transaction()
    a.election.resign_leadership(tr, "a")
    tr.commit().wait()
    b.step()
    assert b.is_leader
    assert a.is_leader  # a does not know yet; this is why resign --id uses a step-down request
    a.step()
    assert not a.is_leader
    events = a.take_events()
    assert any(isinstance(e, Demoted) for e in events)


def test_config_is_initialized_once_and_then_read(db: Any, clock: ManualClock) -> None:
    first = make_core(db, clock, "a")
    start(first)
    other_config = CONFIG.with_lease_duration(5.0)
    second = make_core(db, clock, "b", config=other_config)
    start(second)
    assert second.config == CONFIG, "the stored configuration wins over the constructor's"


def test_a_stored_candidate_timeout_below_the_heartbeat_is_warned_about_once(
    db: Any, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    bad = ElectionConfig(lease_duration=LEASE, heartbeat_interval=LEASE / 3, candidate_timeout=0.2)
    tr = db.create_transaction()
    new_election().initialize_with_config(tr, bad)  # as another implementation could
    tr.commit().wait()
    core = make_core(db, clock, "a")
    with caplog.at_level("WARNING", logger="fdb_election"):
        start(core)
        core.step()
    warnings = [r for r in caplog.records if "candidate_timeout" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
    assert "config set --candidate-timeout" in warnings[0].getMessage()


def test_observer_follows_without_registering(db: Any, clock: ManualClock) -> None:
    observer = make_core(db, clock, "watcher", observer=True)
    start(observer)
    leader = make_core(db, clock, "a")
    start(leader)
    assert observer.wake_futures(), "an observer watches the leader key"
    observer.step()
    assert observer.leader is not None and observer.leader.leader_id == "a"
    changes = [e for e in observer.take_events() if isinstance(e, LeaderChanged)]
    assert [e.leader_id for e in changes] == ["a"]
    tr = db.create_transaction()
    candidates = observer.election.list_candidates(tr, clock.wall())
    assert [c.process_id for c in candidates] == ["a"]
    # Whatever happens to the leader, an observer never claims.
    clock.advance(3 * LEASE)
    observer.step()
    assert not observer.is_leader
    assert observer.leader is None, "a record unchanged for a full lease is presumed dead"


def test_stop_resigns_and_unregisters(db: Any, clock: ManualClock) -> None:
    core = make_core(db, clock, "a")
    start(core)
    assert core.is_leader
    core.request_stop()
    core.step()
    assert core.phase is Phase.STOPPED
    assert not core.is_leader
    assert read_leader(db) is None
    tr = db.create_transaction()
    assert core.election.get_candidate(tr, "a") is None


def test_events_come_in_order(db: Any, clock: ManualClock) -> None:
    core = make_core(db, clock, "a")
    start(core)
    core.request_stop()
    core.step()
    events = core.take_events()
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["LeaderChanged", "Elected", "Demoted", "LeaderChanged"]
    changed, elected, demoted, gone = events
    assert isinstance(changed, LeaderChanged) and changed.leader_id == "a"
    assert isinstance(elected, Elected) and isinstance(demoted, Demoted)
    assert elected.ballot == demoted.ballot
    assert isinstance(gone, LeaderChanged) and gone.previous_id == "a" and gone.leader is None


def test_ballots_never_go_backwards_across_tenures(db: Any, clock: ManualClock) -> None:
    ballots = []
    for name in ("a", "b", "c"):
        core = make_core(db, clock, name)
        start(core)
        assert core.ballot is not None
        ballots.append(core.ballot)
        core.request_stop()
        core.step()
    assert ballots == sorted(ballots) and len(set(ballots)) == 3


def test_fence_protects_a_write_of_the_current_tenure(db: Any, clock: ManualClock) -> None:
    from fdb_election.election import NotLeader

    core = make_core(db, clock, "a")
    start(core)
    tr = db.create_transaction()
    core.fence(tr)
    tr.set(b"protected", b"1")
    tr.commit().wait()
    clock.advance(LEASE)  # deadline passed: not leading any more
    with pytest.raises(NotLeader):
        core.fence(db.create_transaction())


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"process_id": ""}, ValueError),
        ({"priority": 2**31}, ValueError),
        ({"priority": True}, TypeError),
        ({"jitter": 1.0}, ValueError),
        ({"clock_drift": 0.7}, ValueError),
        ({"config": "fast"}, TypeError),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any], error: type[Exception]) -> None:
    from fdb_election.runtime import ElectorSettings

    arguments: dict[str, Any] = {"process_id": "a"}
    arguments.update(kwargs)
    with pytest.raises(error) as info:
        ElectorSettings(**arguments)
    assert str(info.value)
