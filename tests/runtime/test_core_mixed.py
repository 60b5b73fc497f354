"""Electors in an election with Rust processes (played by ``rust_recipe``), on a manual clock.

Every cycle of a Python elector records the ballot it read in the leader key, so its claims
never repeat a Rust ballot it saw; the preemption asymmetry of mixed elections (a Rust
candidate of higher priority claims over a Python leader, which learns of it at its next step;
a Python candidate never preempts a Rust leader) is pinned down here as well.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from elector_harness import CONFIG, LEASE, make_core, new_election, start, write_config

from fdb_election.election import LeaderState, layout
from fdb_election.runtime import ElectorCore, ManualClock
from rust_recipe import rust_claim, rust_resign

HEARTBEAT = CONFIG.heartbeat_interval.total_seconds()


def _commit(db: Any, body: Any) -> Any:
    tr = db.create_transaction()
    result = body(tr)
    tr.commit().wait()
    return result


def _wall(clock: ManualClock) -> timedelta:
    return timedelta(seconds=clock.wall())


def rust_register(db: Any, clock: ManualClock, pid: str, priority: int = 0) -> None:
    _commit(db, lambda tr: new_election().register_candidate(tr, pid, priority, _wall(clock)))


def rust_cycle(db: Any, clock: ManualClock, pid: str, priority: int = 0) -> LeaderState | None:
    """The Rust recipe's run_election_cycle: heartbeat, then claim (a refresh when it leads)."""

    def body(tr: Any) -> LeaderState | None:
        election = new_election()
        election.heartbeat_candidate(tr, pid, priority, _wall(clock))
        return rust_claim(tr, election, pid, priority, _wall(clock))

    return _commit(db, body)


def rust_stop(db: Any, pid: str) -> None:
    """A graceful Rust shutdown: resign (clears the leader key), then unregister."""

    def body(tr: Any) -> None:
        election = new_election()
        assert rust_resign(tr, election, pid)
        election.unregister_candidate(tr, pid)

    _commit(db, body)


def stored_ballot(db: Any) -> int | None:
    record = _commit(db, new_election().get_leader_raw)
    return None if record is None else record.ballot


def raise_floor(db: Any, ballot: int) -> None:
    _commit(db, lambda tr: new_election().raise_ballot_floor(tr, ballot))


def seen(db: Any) -> int | None:
    def body(tr: Any) -> bytes | None:
        value = tr.get(layout.ballot_seen_key(new_election().subspace))
        return bytes(value) if value.present() else None

    value = _commit(db, body)
    return None if value is None else layout.decode_ballot_seen(value)


def leads_with(core: ElectorCore, ballot: int, db: Any) -> None:
    assert core.is_leader, core.last_error
    assert core.ballot == ballot
    assert stored_ballot(db) == ballot


def test_measured_1_after_rust_resigns_at_19_the_elector_claims_20(
    db: Any, clock: ManualClock
) -> None:
    write_config(db, CONFIG)
    rust_register(db, clock, "rust")
    state = rust_cycle(db, clock, "rust")
    assert state is not None and state.ballot == 1
    py = make_core(db, clock, "py")
    start(py)
    for expected in range(2, 20):  # Rust refreshes every heartbeat; the follower steps between
        clock.advance(HEARTBEAT)
        state = rust_cycle(db, clock, "rust")
        assert state is not None and state.ballot == expected
        py.step()
        assert not py.is_leader
    assert seen(db) == 19
    rust_stop(db, "rust")
    py.step()  # an empty leader key is claimed at once
    leads_with(py, 20, db)  # measured before: 1


def test_measured_2_rust_81_to_89_over_a_mark_of_80_the_elector_claims_90(
    db: Any, clock: ManualClock
) -> None:
    write_config(db, CONFIG)
    raise_floor(db, 79)
    py = make_core(db, clock, "py")
    start(py)
    leads_with(py, 80, db)
    # py is killed (it never steps again); Rust claims once its lease ran out on the wall clock.
    rust_register(db, clock, "rust")
    clock.advance(LEASE + 0.01)
    py2 = make_core(db, clock, "py2")
    for expected in range(81, 90):
        state = rust_cycle(db, clock, "rust")
        assert state is not None and state.ballot == expected
        if expected == 81:
            start(py2)
        else:
            py2.step()
        assert not py2.is_leader
        clock.advance(HEARTBEAT)
    rust_stop(db, "rust")
    py2.step()
    leads_with(py2, 90, db)  # measured before: 81


def test_measured_3_rust_preempts_at_148_the_python_leader_learns_within_a_heartbeat(
    db: Any, clock: ManualClock
) -> None:
    write_config(db, CONFIG)
    raise_floor(db, 146)
    py = make_core(db, clock, "py", priority=0)
    delay = start(py)  # claims 147; its next step comes at most a heartbeat later
    leads_with(py, 147, db)
    assert delay <= HEARTBEAT
    rust_register(db, clock, "rust", priority=5)
    state = rust_cycle(db, clock, "rust", priority=5)  # claims over the live Python lease
    assert state is not None and state.ballot == 148
    # Two leaders until the Python leader's next step.
    clock.advance(delay)
    assert py.is_leader, "the Python leader has not read the leader key since"
    py.step()
    assert not py.is_leader
    assert seen(db) == 148
    rust_stop(db, "rust")
    py.step()
    leads_with(py, 149, db)  # measured before: 148, a repeat of Rust's


def test_a_python_candidate_never_preempts_a_rust_leader(db: Any, clock: ManualClock) -> None:
    write_config(db, CONFIG)
    rust_register(db, clock, "rust", priority=0)
    assert rust_cycle(db, clock, "rust") is not None
    py = make_core(db, clock, "py", priority=5)
    start(py)
    ballot = 1
    for _ in range(int(7 / HEARTBEAT)):  # 7 leases: the Rust leader never hands over
        clock.advance(HEARTBEAT)
        state = rust_cycle(db, clock, "rust")
        assert state is not None
        ballot = state.ballot
        py.step()
        assert not py.is_leader
    # Rust is killed: the follower claims once the record stayed unchanged for a lease.
    killed = clock.monotonic()
    while not py.is_leader:
        clock.advance(min(py.step(), HEARTBEAT))
        assert clock.monotonic() - killed <= LEASE + 2 * HEARTBEAT, "no failover"
    leads_with(py, ballot + 1, db)


def test_a_python_leader_hands_over_to_a_rust_candidate_which_takes_it_up_at_its_cycle(
    db: Any, clock: ManualClock
) -> None:
    python = make_core(db, clock, "py")
    start(python)
    rust_register(db, clock, "rust")
    token = python.ballot
    assert token is not None
    clock.advance(0.1)
    python.request_stop()
    python.step()
    record = _commit(db, new_election().get_leader_raw)
    assert record is not None and record.leader_id == "rust" and record.ballot > token
    state = rust_cycle(db, clock, "rust")  # Rust's claim rule: the record names it
    assert state is not None and state.ballot == record.ballot + 1
