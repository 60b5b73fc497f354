"""run_election_cycle, and many threads running it at once, against every database backend."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

import pytest
from election_helpers import T0, at, register, register_then_disable, run

from fdb_election.election import (
    ElectionConfig,
    ElectionDisabled,
    Follower,
    Leader,
    LeaderElection,
    LeaderElectionError,
    NotInitialized,
    ProcessNotFound,
    layout,
)

T0_NS = 1_700_000_000 * 1_000_000_000


def cycle(db: Any, election: LeaderElection, pid: str, priority: int, when: Any) -> Any:
    return run(db, lambda tr: election.run_election_cycle(tr, pid, priority, when))


def test_first_candidate_leads_and_the_others_follow_it(
    ready: Any, election: LeaderElection
) -> None:
    for pid in ("a", "b", "c"):
        register(ready, election, pid)
    first = cycle(ready, election, "a", 0, at(1))
    assert isinstance(first, Leader) and first.state.leader_id == "a"
    for pid in ("b", "c"):
        result = cycle(ready, election, pid, 0, at(2))
        assert result == Follower(first.state)
        assert not result.is_leader()
        assert result.leader_state() == first.state


def test_the_leaders_cycle_refreshes_with_a_new_ballot(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a")
    first = cycle(ready, election, "a", 0, at(0))
    second = cycle(ready, election, "a", 0, at(3))
    assert isinstance(second, Leader)
    assert second.state.ballot == first.state.ballot + 1
    assert second.state.lease_expiry_nanos == first.state.lease_expiry_nanos + 3 * 10**9


def test_the_cycle_heartbeats_the_candidate(ready: Any, election: LeaderElection) -> None:
    register(ready, election, "a", 0, at(0))
    cycle(ready, election, "a", 6, at(7))
    candidate = run(ready, lambda tr: election.get_candidate(tr, "a"))
    assert candidate is not None
    assert (candidate.priority, candidate.last_heartbeat_nanos) == (6, (1_700_000_007) * 10**9)


def test_a_follower_takes_over_when_the_leader_stops_cycling(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a")
    register(ready, election, "b")
    led = cycle(ready, election, "a", 0, at(0))
    assert isinstance(cycle(ready, election, "b", 0, at(9)), Follower)
    took = cycle(ready, election, "b", 0, at(10))
    assert isinstance(took, Leader) and took.state.ballot == led.state.ballot + 1
    match cycle(ready, election, "a", 0, at(11)):
        case Follower(state):
            assert state == took.state
        case other:
            pytest.fail(f"the former leader should follow, got {other}")


def test_the_cycle_of_an_unregistered_process_is_process_not_found(
    ready: Any, election: LeaderElection
) -> None:
    with pytest.raises(ProcessNotFound):
        cycle(ready, election, "ghost", 0, T0)


def test_the_cycle_requires_initialize_and_enabled_elections(
    db: Any, election: LeaderElection, config: ElectionConfig
) -> None:
    with pytest.raises(NotInitialized):
        cycle(db, election, "a", 0, T0)
    register_then_disable(db, election, config)
    with pytest.raises(ElectionDisabled):
        cycle(db, election, "a", 0, T0)


class YieldingTransaction:
    """A real transaction that lets other threads run around each read and write.

    Without it, a short transaction usually finishes within one thread's time slice and the
    threads never overlap; with it they do, and commits conflict as on a busy cluster.
    """

    def __init__(self, tr: Any) -> None:
        self._tr = tr

    def get(self, key: bytes) -> Any:
        value = self._tr.get(key)
        time.sleep(0)  # yield the GIL: not a wait for anything
        return value

    def set(self, key: bytes, value: bytes) -> None:
        time.sleep(0)
        self._tr.set(key, value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tr, name)


def test_concurrent_cycles_never_give_one_ballot_to_two_leaders(
    ready: Any, election: LeaderElection
) -> None:
    """Threads cycle with their own clocks and changing priorities, so leases expire and
    preemptions happen while transactions overlap.

    Every committed Leader result gets a ballot nobody else got, and the stored leader is the
    holder of the highest ballot.
    """
    workers = 4
    rounds = 15
    for index in range(workers):
        register(ready, election, f"w{index}")
    committed: list[tuple[int, str]] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(workers)

    def work(index: int) -> None:
        pid = f"w{index}"
        try:
            start.wait()
            for step in range(rounds):
                # Different clocks per thread: leases look expired to some and valid to others;
                # rotating priorities make preemptions.
                when = at(step * 4 + index * 3)
                priority = (step + index) % workers
                result = run(
                    ready,
                    lambda tr, when=when, priority=priority: election.run_election_cycle(
                        YieldingTransaction(tr), pid, priority, when
                    ),
                )
                if isinstance(result, Leader):
                    with lock:
                        committed.append((result.state.ballot, pid))
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker did not finish"
    assert failures == []
    ballots = [ballot for ballot, _pid in committed]
    assert len(ballots) == len(set(ballots)), f"a ballot was given twice: {sorted(committed)}"
    # Not vacuous: several leaderships were committed (which thread wins depends on scheduling).
    assert len(committed) > 1, f"too few committed leaderships to compare: {committed}"
    final = run(ready, election.get_leader_raw)
    assert final is not None
    assert (final.ballot, final.leader_id) == max(committed)


def test_overlapping_claims_commit_one_leader_and_the_others_conflict(
    ready: Any, election: LeaderElection
) -> None:
    """Three transactions all see no leader and claim ballot 1; only the first commit wins."""
    for pid in ("a", "b", "c"):
        register(ready, election, pid)
    transactions = {pid: ready.create_transaction() for pid in ("a", "b", "c")}
    results = {
        pid: election.run_election_cycle(tr, pid, 0, at(1)) for pid, tr in transactions.items()
    }
    assert all(isinstance(r, Leader) and r.state.ballot == 1 for r in results.values())
    transactions["b"].commit().wait()
    for pid in ("a", "c"):
        with pytest.raises(Exception) as info:
            transactions[pid].commit().wait()
        assert getattr(info.value, "code", None) == 1020
    leader = run(ready, election.get_leader_raw)
    assert leader is not None and (leader.leader_id, leader.ballot) == ("b", 1)
    # Retried, the losers see b's valid lease and follow it.
    assert cycle(ready, election, "a", 0, at(2)) == Follower(leader)


# ---------------------------------------------------------------------------------------------
# The one-pass cycle against the seed's composition of heartbeat, claim and get_leader

STAMP = bytes(range(12))

#: Each scenario: the steps that set the election up, then candidate "a" (priority 0) cycles at
#: at(1). Candidates are written with a fixed versionstamp so two elections get equal bytes.
SCENARIOS: dict[str, list[tuple[Any, ...]]] = {
    "nobody leads": [],
    "it leads": [("claim", "a", 0, 0)],
    "another leads with a valid lease": [("claim", "b", 5, 0)],
    "a lower priority leads and is preempted": [("claim", "b", -1, 0)],
    "the leader's lease expired": [("claim", "b", 5, -20)],
    "after a resignation": [("claim", "b", 0, 0), ("resign", "b")],
    "a leader value without a tenure record": [("claim", "a", 0, 0), ("drop_tenure",)],
    "not registered": [("unregister", "a")],
    "elections disabled": [("disable",)],
    "not initialized": [("uninitialize",)],
}


def _set_up(
    tr: Any, election: LeaderElection, config: ElectionConfig, step: tuple[Any, ...]
) -> None:
    match step:
        case ("claim", pid, priority, seconds):
            election.try_claim_leadership(tr, pid, priority, at(seconds))
        case ("resign", pid):
            election.resign_leadership(tr, pid)
        case ("unregister", pid):
            election.unregister_candidate(tr, pid)
        case ("drop_tenure",):
            tr.clear(layout.tenure_key(election.subspace))
        case ("disable",):
            election.write_config(tr, dataclasses.replace(config, election_enabled=False))
        case ("uninitialize",):
            tr.clear(layout.config_key(election.subspace))


def _seed_cycle(tr: Any, election: LeaderElection, pid: str, priority: int, when: Any) -> Any:
    """What run_election_cycle did before it was fused: the seed's three calls (and ours: a
    follower records the ballot it read)."""
    election.heartbeat_candidate(tr, pid, priority, when)
    state = election.try_claim_leadership(tr, pid, priority, when)
    if state is not None:
        return Leader(state)
    record = election.get_leader_raw(tr)
    if record is not None:
        election.note_observed_ballot(tr, record.ballot)
    return Follower(election.get_leader(tr, when))


def _outcome(db: Any, election: LeaderElection, body: Any) -> tuple[Any, list[Any]]:
    """(result or (error type, message), every stored key and value of the election)."""
    try:
        result: Any = run(db, body)
    except LeaderElectionError as exc:
        result = (type(exc), str(exc))
    begin, end = election.subspace.range().start, election.subspace.range().stop

    def stored(tr: Any) -> list[Any]:
        return [(election.subspace.unpack(kv.key), kv.value) for kv in tr.get_range(begin, end)]

    return result, run(db, stored)


@pytest.mark.parametrize("steps", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_the_cycle_does_what_heartbeat_claim_and_get_leader_did(
    db: Any, config: ElectionConfig, steps: list[tuple[Any, ...]]
) -> None:
    fused = LeaderElection(("cycle-differential", "fused"))
    composed = LeaderElection(("cycle-differential", "composed"))
    for election in (fused, composed):

        def prepare(tr: Any, election: LeaderElection = election) -> None:
            election.initialize_with_config(tr, config)
            for pid, priority in (("a", 0), ("b", 0)):
                key = layout.candidate_key(election.subspace, pid)
                tr[key] = layout.encode_candidate(priority, T0_NS, STAMP)

        run(db, prepare)
        for step in steps:
            run(db, lambda tr, e=election, s=step: _set_up(tr, e, config, s))
    got = _outcome(db, fused, lambda tr: fused.run_election_cycle(tr, "a", 0, at(1)))
    expected = _outcome(db, composed, lambda tr: _seed_cycle(tr, composed, "a", 0, at(1)))
    assert got == expected
