"""One process id, one leader: a restart or a duplicate never inherits a live tenure.

Two electors with the same process id stand for a process and its restart (or for two processes
given the same ``--id``). Leadership belongs to the registration that claimed it, so the newer
one waits out the older one's lease unless that one provably let go, the older one stops as soon
as it sees the newer registration, and a fenced write of the older one never commits once the
newer one has claimed.
"""

from __future__ import annotations

from typing import Any

import pytest
from elector_harness import LEASE, make_core, new_election, start

from fdb_election.election import DuplicateProcessId, NotLeader
from fdb_election.runtime import Demoted, ElectorCore, ManualClock, Phase, Release

HEARTBEAT = LEASE / 3


def fenced_write(db: Any, core: ElectorCore) -> None:
    tr = db.create_transaction()
    core.fence(tr)
    tr[b"resource"] = core.process_id.encode()
    tr.commit().wait()


def leader_record(db: Any) -> Any:
    return new_election().get_leader_raw(db.create_transaction())


def test_a_restart_with_the_same_id_waits_out_a_live_predecessors_lease(
    db: Any, clock: ManualClock
) -> None:
    old = make_core(db, clock, "x")
    start(old)
    assert old.is_leader
    new = make_core(db, clock, "x", seed=1)
    start(new)
    assert not new.is_leader, "the record names x, but another registration of x made it"
    assert new.registration != old.registration
    # The old one is paused (it never steps): the new one claims only after a full lease.
    clock.advance(LEASE / 2)
    new.step()
    assert not new.is_leader
    clock.advance(LEASE / 2 + 0.01)
    assert not old.is_leader, "the old one's local deadline has passed"
    new.step()
    assert new.is_leader
    record = leader_record(db)
    assert record.versionstamp == new.registration


def test_the_older_registration_stops_when_it_sees_the_newer_one(
    db: Any, clock: ManualClock
) -> None:
    released: list[Release] = []
    old = make_core(db, clock, "x", before_release=released.append)
    start(old)
    old.take_events()
    new = make_core(db, clock, "x", seed=1)
    start(new)
    clock.advance(HEARTBEAT)
    old.step()  # its heartbeat finds x registered again by someone else
    assert not old.is_leader
    assert isinstance(old.failure, DuplicateProcessId)
    assert "'x'" in str(old.failure)
    events = old.take_events()
    assert [type(e) for e in events if isinstance(e, Demoted)] == [Demoted]
    old.step()  # the stop step: runs before_release, resigns its own tenure
    assert old.phase is Phase.STOPPED and not old.healthy()
    assert len(released) == 1, "the hook runs before the resignation lets the newer one in"
    assert leader_record(db) is None
    # The newer registration stays registered and takes over at once (the old one resigned).
    assert new.election.get_candidate(db.create_transaction(), "x") is not None
    new.step()
    assert new.is_leader


def test_a_stale_run_of_the_id_gets_no_fenced_write_in(db: Any, clock: ManualClock) -> None:
    old = make_core(db, clock, "x")
    start(old)
    stale_ballot = old.ballot
    assert stale_ballot is not None
    stale_stamp = leader_record(db).versionstamp
    fenced_write(db, old)
    new = make_core(db, clock, "x", seed=1)
    start(new)
    clock.advance(LEASE + 0.01)  # the old one is paused past its lease
    new.step()
    assert new.is_leader
    fenced_write(db, new)
    assert new.ballot is not None and new.ballot > stale_ballot
    # The old run resumes. Its own elector no longer leads (its deadline passed), and a write
    # fenced with what it held before the pause (same id, its ballot) is refused either way.
    assert not old.is_leader
    with pytest.raises(NotLeader):
        fenced_write(db, old)
    for stamp in (None, stale_stamp):
        tr = db.create_transaction()
        with pytest.raises(NotLeader):
            new_election().fence(tr, "x", stale_ballot, versionstamp=stamp)
    old.step()  # and it stops on seeing the newer registration, leaving the leader alone
    old.step()
    assert old.phase is Phase.STOPPED and isinstance(old.failure, DuplicateProcessId)
    assert new.is_leader and leader_record(db).versionstamp == new.registration


def test_after_a_graceful_stop_the_restart_leads_at_once(db: Any, clock: ManualClock) -> None:
    old = make_core(db, clock, "x")
    start(old)
    old.request_stop()
    old.step()
    assert old.phase is Phase.STOPPED and old.failure is None
    new = make_core(db, clock, "x", seed=1)
    start(new)
    assert new.is_leader, "the predecessor resigned: nothing to wait out"


def test_a_stopping_old_run_leaves_the_newer_registration_alone(
    db: Any, clock: ManualClock
) -> None:
    old = make_core(db, clock, "x")
    start(old)
    new = make_core(db, clock, "x", seed=1)
    start(new)
    old.request_stop()  # before it has seen the newer registration
    old.step()
    assert old.phase is Phase.STOPPED
    tr = db.create_transaction()
    assert new_election().get_candidate(tr, "x") is not None, "x is still registered (new)"
    assert leader_record(db) is None, "the old run resigned its own tenure"
    new.step()
    assert new.is_leader
