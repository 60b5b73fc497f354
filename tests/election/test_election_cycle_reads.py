"""ElectionCycle: the seed's operations in one transaction with each key read once, the same
writes as the seed methods, its own writes visible to its later reads, and conflicts kept."""

from __future__ import annotations

from typing import Any

import pytest
from election_helpers import at, register, run

from fdb_election.election import LeaderElection, LeaderState, layout
from fdb_election.election.cycle import ElectionCycle, ElectionKeys
from fdb_election.election.times import to_nanos
from read_counting import CountingTransaction


def leader_step(election: LeaderElection, tr: Any, process_id: str, second: float) -> Any:
    """What an elector's leader does in one transaction: heartbeat, read, refresh."""
    cycle = election.cycle(tr, process_id)
    cycle.read_cycle()
    cycle.config()
    cycle.heartbeat(0, at(second))
    record = cycle.leader()
    assert record is not None
    return cycle.refresh(at(second), versionstamp=record.versionstamp)


def follower_step(election: LeaderElection, tr: Any, process_id: str, second: float) -> Any:
    """What a follower does: heartbeat, read the leader and its lease, choose a watch."""
    cycle = election.cycle(tr, process_id)
    cycle.read_cycle()
    cycle.config()
    cycle.heartbeat(0, at(second))
    cycle.leader()
    lease = cycle.leader_lease_ns()
    return lease, cycle.leadership_key()


def counted_run(db: Any, call: Any) -> CountingTransaction:
    """Run ``call(tr)`` on a counting transaction and commit; the transaction's counts."""
    counted: list[CountingTransaction] = []

    def body(tr: Any) -> Any:
        counted.append(CountingTransaction(tr))
        return call(counted[-1])

    assert run(db, body) is not None
    return counted[-1]


def test_a_leader_and_a_follower_step_read_each_key_once(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a")
    register(ready, election, "b")
    run(ready, lambda tr: election.try_claim_leadership(tr, "a", 0, at(0)))
    for step, process_id in ((leader_step, "a"), (follower_step, "b")):
        counted = counted_run(
            ready, lambda tr, step=step, pid=process_id: step(election, tr, pid, 1)
        )
        assert counted.reads, "the step read something"
        assert max(counted.reads.values()) == 1, f"{step.__name__} read a key twice"
        assert not set(counted.reads) & set(counted.snapshot_reads), "no key read both ways"


def test_the_seed_methods_issue_the_same_reads_as_before(
    ready: Any, election: LeaderElection
) -> None:
    """Each seed method still reads what it needs, with the same conflict kinds."""
    register(ready, election, "a")
    keys = {
        "config": layout.config_key(election.subspace),
        "leader": layout.leader_key(election.subspace),
        "ballot": layout.ballot_key(election.subspace),
        "seen": layout.ballot_seen_key(election.subspace),
        "tenure": layout.tenure_key(election.subspace),
        "candidate": layout.candidate_key(election.subspace, "a"),
    }
    names = {value: name for name, value in keys.items()}

    def reads_of(call: Any) -> tuple[set[str], set[str]]:
        counted = counted_run(ready, lambda tr: (call(tr), True)[1])
        return {names[k] for k in counted.reads}, {names[k] for k in counted.snapshot_reads}

    assert reads_of(lambda tr: election.heartbeat_candidate(tr, "a", 0, at(0))) == (
        {"config", "candidate"},
        set(),
    )
    claim = reads_of(lambda tr: election.try_claim_leadership(tr, "a", 0, at(0)))
    assert claim == ({"config", "candidate", "leader", "ballot", "tenure"}, {"seen"})
    refresh = reads_of(lambda tr: election.refresh_lease(tr, "a", at(1)))
    assert refresh == ({"config", "leader", "ballot", "tenure"}, {"seen"})
    assert reads_of(lambda tr: election.resign_leadership(tr, "a")) == ({"leader", "ballot"}, set())


def test_a_cycle_writes_what_the_seed_methods_write(ready: Any) -> None:
    """The same heartbeat and claim through a cycle and through the seed methods, in two
    elections of one database: the stored values agree but for the registrations' stamps."""
    through_cycle = LeaderElection(("cycle-writes", "cycle"))
    through_seed = LeaderElection(("cycle-writes", "seed"))
    states: dict[str, LeaderState | None] = {}
    for election in (through_cycle, through_seed):
        run(ready, lambda tr, e=election: e.initialize(tr))
        register(ready, election, "a", priority=3)
    states["cycle"] = run(ready, lambda tr: _heartbeat_and_claim(through_cycle, tr))
    states["seed"] = run(
        ready,
        lambda tr: (
            through_seed.heartbeat_candidate(tr, "a", 3, at(5)),
            through_seed.try_claim_leadership(tr, "a", 3, at(5)),
        )[1],
    )
    cycle_state, seed_state = states["cycle"], states["seed"]
    assert cycle_state is not None and seed_state is not None
    assert (cycle_state.ballot, cycle_state.leader_id, cycle_state.lease_expiry_nanos) == (
        seed_state.ballot,
        seed_state.leader_id,
        seed_state.lease_expiry_nanos,
    )
    for election in (through_cycle, through_seed):
        candidate = run(ready, lambda tr, e=election: e.get_candidate(tr, "a"))
        assert candidate is not None
        assert (candidate.priority, candidate.last_heartbeat_nanos) == (3, to_nanos(at(5), "t"))
        assert run(ready, election.leadership_key) == layout.succession_key(election.subspace)


def _heartbeat_and_claim(election: LeaderElection, tr: Any) -> LeaderState | None:
    cycle = election.cycle(tr, "a")
    cycle.read_all()
    cycle.heartbeat(3, at(5))
    return cycle.try_claim(3, at(5))


def test_a_cycle_reads_its_own_writes(ready: Any, election: LeaderElection) -> None:
    register(ready, election, "a")

    def body(tr: Any) -> None:
        cycle = election.cycle(tr, "a")
        cycle.read_cycle()
        assert cycle.leader() is None
        assert cycle.leadership_key() == layout.leader_key(election.subspace)
        cycle.heartbeat(0, at(7))
        candidate = cycle.candidate()
        assert candidate is not None and candidate.last_heartbeat_nanos == to_nanos(at(7), "t")
        claimed = cycle.try_claim(0, at(7))
        assert claimed is not None
        assert cycle.leader() == claimed
        assert cycle.leader_lease_ns() == 10 * 10**9
        assert cycle.leadership_key() == layout.succession_key(election.subspace)
        refreshed = cycle.refresh(at(8))
        assert refreshed is not None and refreshed.ballot == claimed.ballot + 1
        assert cycle.leader() == refreshed

    run(ready, body)
    assert run(ready, lambda tr: election.get_leader_raw(tr)) is not None


def test_a_noted_ballot_is_above_the_next_claim_of_the_same_cycle(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a")

    def body(tr: Any) -> LeaderState | None:
        cycle = election.cycle(tr, "a")
        cycle.read_all()
        cycle.note_observed_ballot(41)
        return cycle.try_claim(0, at(0))

    claimed = run(ready, body)
    assert claimed is not None and claimed.ballot == 42


@pytest.mark.parametrize("then_conflicting", [False, True])
def test_a_snapshot_read_is_read_again_when_a_conflict_is_needed(
    ready: Any, election: LeaderElection, then_conflicting: bool
) -> None:
    """leadership_key reads as a snapshot; leader_lease_ns after it must still conflict with a
    change of the leader key, and without it nothing conflicts."""
    register(ready, election, "a")
    register(ready, election, "b")
    run(ready, lambda tr: election.try_claim_leadership(tr, "a", 0, at(0)))
    tr = ready.create_transaction()
    cycle = election.cycle(tr, "b")
    cycle.leadership_key()
    if then_conflicting:
        assert cycle.leader_lease_ns() == 10 * 10**9
    run(ready, lambda other: election.refresh_lease(other, "a", at(1)))
    tr.set(b"cycle-conflict-probe", b"x")
    if then_conflicting:
        with pytest.raises(Exception) as raised:
            tr.commit().wait()
        assert getattr(raised.value, "code", None) == 1020
    else:
        tr.commit().wait()


def test_a_cycle_without_a_process_id_refuses_candidate_operations(
    ready: Any, election: LeaderElection
) -> None:
    tr = ready.create_transaction()
    cycle = ElectionCycle(tr, ElectionKeys(*_keys_of(election)), None)
    assert cycle.leader_lease_ns() is None
    with pytest.raises(TypeError, match="without a candidate key function"):
        cycle.heartbeat(0, at(0))


def _keys_of(election: LeaderElection) -> tuple[bytes, ...]:
    sub = election.subspace
    return (
        layout.config_key(sub),
        layout.leader_key(sub),
        layout.ballot_key(sub),
        layout.ballot_seen_key(sub),
        layout.tenure_key(sub),
        layout.succession_key(sub),
    )


def test_cycle_checks_the_process_id(election: LeaderElection, ready: Any) -> None:
    tr = ready.create_transaction()
    with pytest.raises((TypeError, ValueError)):
        election.cycle(tr, "")


def test_a_resignation_in_a_cycle_is_seen_by_its_later_reads(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a")
    claimed = run(ready, lambda tr: election.try_claim_leadership(tr, "a", 0, at(0)))
    assert claimed is not None

    def body(tr: Any) -> None:
        cycle = election.cycle(tr, "a")
        cycle.read_resignation(candidate=True)
        assert cycle.leader() == claimed
        assert cycle.resign(versionstamp=claimed.versionstamp)
        assert cycle.leader() is None
        assert cycle.leader_lease_ns() is None
        assert cycle.leadership_key() == layout.leader_key(election.subspace)
        assert not cycle.resign(), "nothing left to resign"

    run(ready, body)
    assert run(ready, election.get_leader_raw) is None
    assert run(ready, election.highest_ballot) == claimed.ballot
