"""The driver: many electors of one database, one thread, their steps committed together."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from elector_harness import CONFIG, make_core, start, wait_until

from fdb_election.election import ElectionConfig
from fdb_election.runtime import Elector, ElectorDriver, ManualClock
from fdb_election.runtime.driver import Member, commit_all

FAST = ElectionConfig.with_lease_duration(0.6)
WAIT = 15.0


def test_many_elections_share_one_thread_and_commit_in_batches(db: Any) -> None:
    driver = ElectorDriver(db, name="driver-under-test")
    electors = [
        Elector(db, f"shard-{i}", process_id="p", config=FAST, driver=driver, metrics=False)
        for i in range(60)
    ]
    for elector in electors[:10]:
        elector.start()
    try:
        assert wait_until(lambda: all(e.is_leader for e in electors[:10]))
        threads = threading.active_count()
        for elector in electors[10:]:
            elector.start()
        assert wait_until(lambda: all(e.is_leader for e in electors))
        # The driver's thread and its callback thread, whatever the number of elections.
        assert threading.active_count() == threads
        committed, batches = driver.committed, driver.batches
        assert committed >= 60 * 2  # each registered and claimed
        assert batches * 5 <= committed, f"{batches} batches for {committed} transactions"
    finally:
        for elector in electors:
            elector.stop(WAIT)
    assert not any(e.is_leader for e in electors)


def test_two_candidates_in_one_batch_get_one_leader(db: Any) -> None:
    driver = ElectorDriver(db)
    a = Elector(db, "same-batch", process_id="a", config=FAST, driver=driver)
    b = Elector(db, "same-batch", process_id="b", config=FAST, driver=driver)
    with a, b:
        assert wait_until(lambda: a.is_leader or b.is_leader)
        assert wait_until(lambda: a.leader is not None and b.leader is not None)
        assert not (a.is_leader and b.is_leader)
        assert a.leader == b.leader


def test_commit_all_gives_each_transaction_its_own_outcome(db: Any) -> None:
    first, second, third = (db.create_transaction() for _ in range(3))
    for tr in (first, second):
        tr.get(b"contended").wait()
    first.set(b"contended", b"1")
    second.set(b"contended", b"2")  # read the key the first one writes: conflicts
    third.set(b"elsewhere", b"3")
    outcomes = commit_all(db, [first, second, third])
    assert outcomes[0] is None and outcomes[2] is None
    assert getattr(outcomes[1], "code", None) == 1020
    check = db.create_transaction()
    assert bytes(check[b"contended"]) == b"1" and bytes(check[b"elsewhere"]) == b"3"


def test_refreshes_go_first(db: Any, clock: ManualClock) -> None:
    leader = make_core(db, clock, "leader")
    start(leader)
    follower = make_core(db, clock, "follower")
    start(follower)
    assert leader.is_leader and not follower.is_leader
    members = [Member(follower, print, due=1.0), Member(leader, print, due=2.0)]
    assert [m.core for m in ElectorDriver._prioritised(members)] == [leader, follower]


def test_saturation_is_one_line_per_episode_and_makes_electors_unhealthy(
    db: Any, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    driver = ElectorDriver(db, lag_limit=0.5)
    core = make_core(db, clock, "late")
    start(core)
    heartbeat = CONFIG.heartbeat_interval.total_seconds()
    late = Member(core, print, due=10.0, woken=False)
    with caplog.at_level(logging.INFO, logger="fdb_election"):
        for lateness in (0.6, 0.9, 2.0):  # heartbeats late: saturated once
            driver._note_lag(10.0 + lateness * heartbeat, [late])
            assert driver.saturated
        driver._note_lag(10.0 + 0.1 * heartbeat, [late])  # caught up
        assert not driver.saturated
    warnings = [r for r in caplog.records if "cannot keep up" in r.getMessage()]
    assert len(warnings) == 1
    assert any("keeps up again" in r.getMessage() for r in caplog.records)


def test_an_elector_of_a_saturated_driver_is_unhealthy(db: Any) -> None:
    driver = ElectorDriver(db)
    with Elector(db, "health", process_id="h", config=FAST, driver=driver) as elector:
        assert elector.wait_for_leadership(WAIT)
        assert elector.healthy()
        driver._saturated_since = 0.0  # as the loop marks it (see the test above)
        assert not elector.healthy()
        driver._saturated_since = None
        assert elector.healthy()


def test_the_shared_driver_is_one_per_database(memory_db: Any) -> None:
    from fdb_election import embedded

    assert ElectorDriver.shared(memory_db) is ElectorDriver.shared(memory_db)
    other = embedded.open()
    assert ElectorDriver.shared(other) is not ElectorDriver.shared(memory_db)
    with pytest.raises(ValueError, match="same database"):
        Elector(memory_db, "x", driver=ElectorDriver.shared(other))


def test_bad_batch_size_is_refused(memory_db: Any) -> None:
    with pytest.raises(ValueError, match="max_batch must be a positive int"):
        ElectorDriver(memory_db, max_batch=0)
