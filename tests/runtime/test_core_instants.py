"""The instants the rules count from, on a manual clock with a store whose steps take time.

Every transaction in these tests completes at once unless a hook of the embedded store moves the
clock while it runs: a read version that comes late, a commit that returns late. That is enough
to tell the right instant from a plausible wrong one without the simulator:

* the deadline counts from the START of the attempt whose claim or refresh committed, not from
  when its commit returned (rule 1);
* a follower's observation of a record counts from just AFTER the read that returned it, not
  from the start of its attempt (rule 2);
* an elector evicted while it was paused registers again, and leads again when it may;
* a tenure that lapsed (the deadline passed before a refresh committed) is not revived: taking the
  record up again starts a new tenure, and the lapsed tenure's token no longer passes ``fence``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from elector_harness import CONFIG, LEASE, VirtualDriver, make_core, start

from fdb_election import embedded
from fdb_election.election import NotLeader
from fdb_election.runtime import Demoted, Elected, ElectorCore, ManualClock, Phase
from fdb_election.runtime.tenure import DEFAULT_CLOCK_DRIFT, safety_margin

NOT_COMMITTED = 1020
MARGIN = safety_margin(LEASE, DEFAULT_CLOCK_DRIFT)


class SlowStore:
    """A fault hook that runs ``action`` once, at the next ``event`` of the store, then returns
    no error: the action moves the clock (a slow step) and may run other electors meanwhile."""

    def __init__(self) -> None:
        self.armed: tuple[str, Callable[[], object]] | None = None
        self.fail: int | None = None

    def at(self, event: str, action: Callable[[], object]) -> None:
        self.armed = (event, action)

    def __call__(self, event: str, _tr: Any) -> int | None:
        armed = self.armed
        if armed is not None and armed[0] == event:
            self.armed = None
            armed[1]()
        if self.fail is not None and event == "commit":
            return self.fail
        return None


@pytest.fixture
def slow(clock: ManualClock) -> tuple[Any, SlowStore]:
    db = embedded.open(clock=clock.monotonic)
    hook = SlowStore()
    db.set_fault_hook(hook)
    return db, hook


def registered(core: ElectorCore) -> Any:
    tr = core.db.create_transaction()
    candidate = core.election.get_candidate(tr, core.process_id)
    tr.commit().wait()
    return candidate


def test_the_deadline_counts_from_the_attempt_start_not_from_the_commit_return(
    slow: tuple[Any, SlowStore], clock: ManualClock
) -> None:
    db, store = slow
    core = make_core(db, clock, "a")
    core.step()  # configuration
    core.step()  # registration
    began = clock.monotonic()
    store.at("committed", lambda: clock.advance(0.3))  # the claim's commit returns 0.3 s late
    core.step()
    assert core.is_leader
    assert core.deadline == pytest.approx(began + LEASE - MARGIN)
    clock.advance(0.2)
    began = clock.monotonic()
    store.at("commit", lambda: clock.advance(0.4))  # a refresh whose commit takes 0.4 s
    core.step()
    assert core.deadline == pytest.approx(began + LEASE - MARGIN)


def test_a_follower_that_read_a_late_commit_claims_only_after_the_leader_stopped(
    slow: tuple[Any, SlowStore], clock: ManualClock
) -> None:
    """The follower reads the refresh the moment it commits; the leader hears of its commit
    0.5 s later and then freezes. A deadline counted from the commit's return would outlast
    the follower's wait of one lease from its read."""
    db, store = slow
    leader, follower = make_core(db, clock, "a"), make_core(db, clock, "b")
    start(leader)
    start(follower)
    clock.advance(0.3)

    def late_return() -> None:
        follower.step()  # reads the new record as soon as it is durable
        clock.advance(0.5)

    store.at("committed", late_return)
    leader.step()
    assert leader.is_leader
    driver = VirtualDriver(clock, [leader, follower])
    driver.pause(leader, 10 * LEASE)
    driver.run_for(2 * LEASE)  # one leader at most, checked every 10 ms
    assert follower.is_leader


def test_the_observation_counts_from_just_after_the_read(
    slow: tuple[Any, SlowStore], clock: ManualClock
) -> None:
    """The follower's attempt starts, its read version comes 0.4 s late, and meanwhile the
    leader refreshes and then freezes. The follower has seen that refresh only since its read:
    counting from the attempt's start would end the wait 0.4 s too early."""
    db, store = slow
    leader, follower = make_core(db, clock, "a"), make_core(db, clock, "b")
    start(leader)
    start(follower)
    clock.advance(0.3)

    def late_read() -> None:
        clock.advance(0.4)
        leader.step()  # a refresh commits while the follower waits for its read version

    store.at("read_version", late_read)
    follower.step()
    assert leader.is_leader and not follower.is_leader
    driver = VirtualDriver(clock, [leader, follower])
    driver.pause(leader, 10 * LEASE)
    driver.run_for(2 * LEASE)  # one leader at most, checked every 10 ms
    assert follower.is_leader


def test_an_elector_evicted_while_paused_registers_again_and_can_lead(
    db: Any, clock: ManualClock
) -> None:
    leader, follower = make_core(db, clock, "a"), make_core(db, clock, "b")
    start(leader)
    start(follower)
    first = follower.registration
    driver = VirtualDriver(clock, [leader, follower])
    timeout = CONFIG.candidate_timeout.total_seconds()
    driver.pause(follower, 2 * timeout + 2 * LEASE)
    driver.run_for(2 * timeout + LEASE)
    assert registered(follower) is None, "the leader evicted the silent follower"
    driver.run_for(LEASE)  # the pause ends: the next heartbeat finds the registration gone
    again = registered(follower)
    assert again is not None and again.versionstamp == follower.registration != first
    assert follower.phase is Phase.RUN
    # Registered again, it is a candidate like any other: it takes over when the leader stops.
    leader.request_stop()
    driver.run_for(LEASE)
    assert follower.is_leader


def test_a_lapsed_tenure_is_taken_up_again_as_a_new_one(
    slow: tuple[Any, SlowStore], clock: ManualClock
) -> None:
    db, store = slow
    core = make_core(db, clock, "a")
    start(core)
    core.take_events()
    old = core.ballot
    assert old is not None
    store.fail = NOT_COMMITTED  # the database refuses every commit for a while
    for _ in range(20):
        clock.advance(0.1)
        core.step()
    assert not core.is_leader, "the deadline passed without a committed refresh"
    store.fail = None
    core.step()  # nobody took over: the record is still this elector's, so it refreshes it
    assert core.is_leader and core.ballot is not None and core.ballot > old
    events = core.take_events()
    assert [type(e) for e in events if isinstance(e, Demoted | Elected)] == [Demoted, Elected]
    tr = db.create_transaction()
    core.fence(tr)  # the new tenure's token passes ...
    with pytest.raises(NotLeader, match="earlier tenure"):
        core.election.fence(tr, "a", old)  # ... the lapsed one's does not


def test_a_refresh_that_commits_after_the_deadline_is_not_adopted_into_the_old_tenure(
    slow: tuple[Any, SlowStore], clock: ManualClock
) -> None:
    db, store = slow
    core = make_core(db, clock, "a")
    start(core)
    old = core.ballot
    deadline = core.deadline
    assert deadline is not None and old is not None
    clock.advance(deadline - 0.05 - clock.monotonic())
    store.at("commit", lambda: clock.advance(0.1))  # it commits 0.05 s after the deadline
    core.step()
    assert not core.is_leader, "the tenure ended while the refresh was in flight"
    core.step()  # the record is still this elector's: taken up again, in a new tenure
    assert core.is_leader and core.ballot is not None and core.ballot > old
    tr = db.create_transaction()
    with pytest.raises(NotLeader, match="earlier tenure"):
        core.election.fence(tr, "a", old)
