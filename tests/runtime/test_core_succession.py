"""Followers are woken by claims and resignations, not by refreshes, and read each refresh soon
after it is due."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from elector_harness import CONFIG, make_core, new_election, start

from fdb_election import embedded
from fdb_election.runtime import ElectorCore, ManualClock
from fdb_election.runtime.refresh_alignment import MIN_SLACK
from rust_recipe import rust_claim

HEARTBEAT = CONFIG.heartbeat_interval.total_seconds()


@pytest.fixture(params=["memory", "file"])
def local_db(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """An embedded store whose watches fire in the committing thread when the committer is in
    the same process, so "did not fire" can be checked without waiting."""
    return embedded.open() if request.param == "memory" else embedded.open(str(tmp_path / "f"))


def fired(core: ElectorCore) -> bool:
    return any(future.is_ready() for future in core.wake_futures())


def leader_and_follower(db: Any, clock: ManualClock) -> tuple[ElectorCore, ElectorCore]:
    """ "a" leads, "b" follows and has probed (a refresh woke it, which set its timing)."""
    leader = make_core(db, clock, "a")
    follower = make_core(db, clock, "b", seed=1)
    start(leader)
    start(follower)
    assert leader.is_leader and not follower.is_leader
    clock.advance(HEARTBEAT / 2)
    leader.step()
    assert fired(follower), "a new tenure is probed: its next refresh wakes the follower"
    follower.step()
    return leader, follower


def test_refreshes_do_not_wake_a_follower_and_a_resignation_does(
    local_db: Any, clock: ManualClock
) -> None:
    leader, follower = leader_and_follower(local_db, clock)
    assert follower.wake_futures(), "the follower watches something"
    for _ in range(3):
        clock.advance(HEARTBEAT)
        ballot = leader.leader.ballot if leader.leader else None
        leader.step()
        assert leader.leader is not None and leader.leader.ballot != ballot, "a refresh"
        assert not fired(follower)
    leader.request_stop()
    leader.step()
    assert fired(follower)
    follower.step()
    assert follower.is_leader


def test_a_new_leader_wakes_the_other_followers(local_db: Any, clock: ManualClock) -> None:
    _, follower = leader_and_follower(local_db, clock)
    other = make_core(local_db, clock, "c", seed=2)
    start(other)
    assert not fired(follower) and not fired(other)
    # The leader stops refreshing (it crashed); a lease later one follower takes over.
    for _ in range(5):
        clock.advance(HEARTBEAT)
        follower.step()
        if follower.is_leader:
            break
    assert follower.is_leader
    assert fired(other)
    other.step()
    assert other.leader is not None and other.leader.leader_id == "b"


def test_the_follower_times_its_heartbeat_just_after_the_next_refresh(
    local_db: Any, clock: ManualClock
) -> None:
    """Measured on the leader's clock, which runs 30 s ahead here."""
    leader = make_core(local_db, clock, "a", wall_offset=30.0)
    follower = make_core(local_db, clock, "b", seed=1)
    start(leader)
    start(follower)
    clock.advance(0.1)
    leader.step()
    clock.advance(0.005)
    delay = follower.step()  # woken by that refresh: the probe
    assert delay == pytest.approx(HEARTBEAT + MIN_SLACK)
    for _ in range(3):
        clock.advance(HEARTBEAT - 0.001)
        leader.step()
        assert not fired(follower)
        clock.advance(delay - HEARTBEAT + 0.001)
        before = follower.leader
        delay = follower.step()
        assert follower.leader != before, "the planned read finds the refresh"
        assert delay == pytest.approx(HEARTBEAT + 0.001, abs=MIN_SLACK)


def test_a_record_written_by_rust_wakes_the_follower_at_every_change(
    local_db: Any, clock: ManualClock
) -> None:
    """Rust processes announce nothing: the follower watches the leader key itself."""
    _leader, follower = leader_and_follower(local_db, clock)
    election = new_election()
    tr = local_db.create_transaction()
    assert election.resign_leadership(tr, "a")  # as a Rust leader resigns
    tr.commit().wait()

    def commit(body: Any) -> None:
        tr = local_db.create_transaction()
        body(tr)
        tr.commit().wait()

    def rust_refresh() -> None:
        now = timedelta(seconds=clock.wall())
        commit(lambda tr: election.heartbeat_candidate(tr, "rust", 0, now))
        commit(lambda tr: rust_claim(tr, election, "rust", 0, now))

    commit(lambda tr: election.register_candidate(tr, "rust", 0, timedelta(seconds=clock.wall())))
    rust_refresh()
    follower.step()
    assert not follower.is_leader and not fired(follower)
    clock.advance(HEARTBEAT)
    rust_refresh()
    assert fired(follower), "a refresh of a record this library did not write wakes it"


def test_a_refresh_that_comes_late_is_seen_through_the_leader_key(
    local_db: Any, clock: ManualClock
) -> None:
    """The planned read found no refresh (the leader is slow): until it comes, the follower
    watches the leader key, so the late refresh starts its observation at once."""
    leader, follower = leader_and_follower(local_db, clock)
    delay = follower.step()
    clock.advance(delay)
    follower.step()  # the planned read: no refresh yet
    assert not fired(follower)
    clock.advance(0.1)
    leader.step()  # late
    assert fired(follower)
    delay = follower.step()
    clock.advance(HEARTBEAT)
    leader.step()
    assert not fired(follower), "back on the succession key after the late refresh"
