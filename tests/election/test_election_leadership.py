"""Claiming, refreshing, resigning and querying leadership against every database backend."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from election_helpers import T0, at, read_raw, register, register_then_disable, run

from fdb_election import tuples
from fdb_election.election import (
    ElectionConfig,
    ElectionDisabled,
    InvalidState,
    LeaderElection,
    LeaderState,
    NotInitialized,
    UnregisteredCandidate,
    layout,
)

SECOND = 1_000_000_000
T0_NS = 1_700_000_000 * SECOND


def claim(db: Any, election: LeaderElection, pid: str, priority: int, when: Any) -> Any:
    return run(db, lambda tr: election.try_claim_leadership(tr, pid, priority, when))


def refresh(db: Any, election: LeaderElection, pid: str, when: Any) -> LeaderState | None:
    return run(db, lambda tr: election.refresh_lease(tr, pid, when))


def resign(db: Any, election: LeaderElection, pid: str) -> bool:
    return run(db, lambda tr: election.resign_leadership(tr, pid))


def raw_leader(db: Any, election: LeaderElection) -> LeaderState | None:
    return run(db, election.get_leader_raw)


def set_raw(db: Any, key: bytes, value: bytes) -> None:
    def body(tr: Any) -> None:
        tr[key] = value

    run(db, body)


# ---------------------------------------------------------------------------------------------
# try_claim_leadership


def test_first_claim_takes_ballot_one_with_a_lease_from_current_time(
    ready: Any, election: LeaderElection
) -> None:
    stamp = register(ready, election, "a", 2)
    state = claim(ready, election, "a", 2, T0)
    assert state == LeaderState(1, "a", 2, T0_NS + 10 * SECOND, stamp)
    assert raw_leader(ready, election) == state
    assert read_raw(ready, layout.leader_key(election.subspace)) == layout.encode_leader(state)


def test_three_candidates_one_leader(ready: Any, election: LeaderElection) -> None:
    for pid in ("a", "b", "c"):
        register(ready, election, pid)
    results = {pid: claim(ready, election, pid, 0, at(1)) for pid in ("b", "a", "c")}
    assert results["b"] is not None
    assert results["a"] is None and results["c"] is None
    for pid in ("a", "b", "c"):
        is_leader = run(ready, lambda tr, pid=pid: election.is_leader(tr, pid, at(2)))
        assert is_leader is (pid == "b")


def test_claim_requires_registration(ready: Any, election: LeaderElection) -> None:
    with pytest.raises(UnregisteredCandidate, match="'a'") as info:
        claim(ready, election, "a", 0, T0)
    assert info.value.process_id == "a"
    assert raw_leader(ready, election) is None


def test_claim_requires_initialize_and_enabled_elections(
    db: Any, election: LeaderElection, config: ElectionConfig
) -> None:
    with pytest.raises(NotInitialized):
        claim(db, election, "a", 0, T0)
    register_then_disable(db, election, config)
    with pytest.raises(ElectionDisabled):
        claim(db, election, "a", 0, T0)
    assert raw_leader(db, election) is None


def test_a_valid_lease_blocks_a_claim_until_it_expires(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a")
    register(ready, election, "b")
    first = claim(ready, election, "a", 0, at(0))
    assert claim(ready, election, "b", 0, at(9.999)) is None
    assert raw_leader(ready, election) == first
    taken = claim(ready, election, "b", 0, at(10))
    assert taken is not None
    assert (taken.leader_id, taken.ballot) == ("b", first.ballot + 1)
    assert taken.lease_expiry_nanos == T0_NS + 20 * SECOND


def test_the_leader_claiming_again_refreshes_with_the_next_ballot(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a", 1)
    first = claim(ready, election, "a", 1, at(0))
    again = claim(ready, election, "a", 4, at(5))
    assert again.ballot == first.ballot + 1
    assert again.lease_expiry_nanos == T0_NS + 15 * SECOND
    assert again.priority == 4  # the claim's priority is recorded


def test_preemption_by_strictly_higher_priority_when_allowed(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "low", 1)
    register(ready, election, "peer", 1)
    register(ready, election, "high", 2)
    first = claim(ready, election, "low", 1, at(0))
    assert claim(ready, election, "peer", 1, at(1)) is None  # equal priority does not preempt
    preempted = claim(ready, election, "high", 2, at(1))
    assert preempted is not None
    assert (preempted.leader_id, preempted.ballot) == ("high", first.ballot + 1)
    assert run(ready, lambda tr: election.is_leader(tr, "low", at(1))) is False


def test_no_preemption_when_forbidden(
    db: Any, election: LeaderElection, config: ElectionConfig
) -> None:
    no_preemption = dataclasses.replace(config, allow_preemption=False)
    run(db, lambda tr: election.initialize_with_config(tr, no_preemption))
    register(db, election, "low", 1)
    register(db, election, "high", 9)
    claim(db, election, "low", 1, at(0))
    assert claim(db, election, "high", 9, at(5)) is None
    assert claim(db, election, "high", 9, at(10)) is not None  # once the lease expires


def test_claim_uses_the_candidates_registration_versionstamp(
    ready: Any, election: LeaderElection
) -> None:
    stamp = register(ready, election, "a")
    run(ready, lambda tr: election.heartbeat_candidate(tr, "a", 0, at(1)))
    assert claim(ready, election, "a", 0, at(1)).versionstamp == stamp


# ---------------------------------------------------------------------------------------------
# refresh_lease


def test_refresh_extends_the_lease_with_the_next_ballot(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a", 3)
    first = claim(ready, election, "a", 3, at(0))
    refreshed = refresh(ready, election, "a", at(4))
    assert refreshed == dataclasses.replace(
        first, ballot=first.ballot + 1, lease_expiry_nanos=T0_NS + 14 * SECOND
    )
    assert raw_leader(ready, election) == refreshed


def test_refresh_by_a_non_leader_returns_none_and_changes_nothing(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a")
    assert refresh(ready, election, "a", at(0)) is None  # nobody leads
    first = claim(ready, election, "a", 0, at(0))
    assert refresh(ready, election, "b", at(1)) is None
    assert raw_leader(ready, election) == first


def test_refresh_after_expiry_succeeds_while_nobody_took_over(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a")
    first = claim(ready, election, "a", 0, at(0))
    refreshed = refresh(ready, election, "a", at(30))
    assert refreshed is not None and refreshed.ballot == first.ballot + 1


def test_refresh_works_while_elections_are_disabled(
    ready: Any, election: LeaderElection, config: ElectionConfig
) -> None:
    register(ready, election, "a")
    claim(ready, election, "a", 0, at(0))
    run(
        ready,
        lambda tr: election.write_config(tr, dataclasses.replace(config, election_enabled=False)),
    )
    assert refresh(ready, election, "a", at(3)) is not None


def test_refresh_requires_initialize(db: Any, election: LeaderElection) -> None:
    with pytest.raises(NotInitialized):
        refresh(db, election, "a", T0)


def test_a_new_lease_duration_applies_from_the_next_refresh(
    ready: Any, election: LeaderElection, config: ElectionConfig
) -> None:
    register(ready, election, "a")
    claim(ready, election, "a", 0, at(0))
    run(
        ready,
        lambda tr: election.write_config(
            tr, dataclasses.replace(config, lease_duration_ns=60 * SECOND)
        ),
    )
    refreshed = refresh(ready, election, "a", at(1))
    assert refreshed is not None and refreshed.lease_expiry_nanos == T0_NS + 61 * SECOND


# ---------------------------------------------------------------------------------------------
# resign_leadership


def test_resign_twice(ready: Any, election: LeaderElection) -> None:
    register(ready, election, "a")
    claim(ready, election, "a", 0, at(0))
    assert resign(ready, election, "a") is True
    assert raw_leader(ready, election) is None
    assert read_raw(ready, layout.leader_key(election.subspace)) is None
    assert resign(ready, election, "a") is False


def test_resign_by_a_non_leader_changes_nothing(ready: Any, election: LeaderElection) -> None:
    register(ready, election, "a")
    first = claim(ready, election, "a", 0, at(0))
    assert resign(ready, election, "b") is False
    assert raw_leader(ready, election) == first


def test_after_resigning_another_candidate_claims_at_once(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a")
    register(ready, election, "b")
    claim(ready, election, "a", 0, at(0))
    resign(ready, election, "a")
    assert claim(ready, election, "b", 0, at(1)) is not None


def test_ballots_never_go_backwards_after_a_resignation(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a")
    register(ready, election, "b")
    claim(ready, election, "a", 0, at(0))
    last = refresh(ready, election, "a", at(1))
    assert last is not None and last.ballot == 2
    resign(ready, election, "a")
    after = claim(ready, election, "b", 0, at(2))
    assert after.ballot == 3  # the seed would restart at 1
    resign(ready, election, "b")
    assert claim(ready, election, "a", 0, at(3)).ballot == 4
    mark = read_raw(ready, layout.ballot_key(election.subspace))
    assert mark is not None and layout.decode_ballot_mark(mark) == 4


def test_ballots_continue_above_a_rust_claim_that_restarted_at_one(
    ready: Any, election: LeaderElection
) -> None:
    stamp = register(ready, election, "a")
    for when in range(5):
        claim(ready, election, "a", 0, at(when))
    resign(ready, election, "a")  # mark = 5
    # A Rust process, which ignores the mark, claims after the resignation: ballot 1.
    rust = LeaderState(1, "rust", 0, T0_NS + 100 * SECOND, stamp)
    set_raw(ready, layout.leader_key(election.subspace), layout.encode_leader(rust))
    taken = claim(ready, election, "a", 0, at(100))
    assert taken is not None and taken.ballot == 6


# ---------------------------------------------------------------------------------------------
# is_leader / get_leader / get_leader_raw


def test_leader_queries_follow_the_lease(ready: Any, election: LeaderElection) -> None:
    register(ready, election, "a")
    state = claim(ready, election, "a", 0, at(0))
    assert run(ready, lambda tr: election.get_leader(tr, at(9))) == state
    assert run(ready, lambda tr: election.is_leader(tr, "a", at(9))) is True
    assert run(ready, lambda tr: election.is_leader(tr, "b", at(9))) is False
    assert run(ready, lambda tr: election.get_leader(tr, at(10))) is None
    assert run(ready, lambda tr: election.is_leader(tr, "a", at(10))) is False
    assert raw_leader(ready, election) == state


def test_leader_queries_with_no_leader(ready: Any, election: LeaderElection) -> None:
    assert run(ready, lambda tr: election.get_leader(tr, T0)) is None
    assert raw_leader(ready, election) is None
    assert run(ready, lambda tr: election.is_leader(tr, "a", T0)) is False


def test_is_leader_requires_initialize_and_enabled_elections(
    db: Any, election: LeaderElection, config: ElectionConfig
) -> None:
    with pytest.raises(NotInitialized):
        run(db, lambda tr: election.is_leader(tr, "a", T0))
    run(
        db,
        lambda tr: election.write_config(tr, dataclasses.replace(config, election_enabled=False)),
    )
    with pytest.raises(ElectionDisabled):
        run(db, lambda tr: election.is_leader(tr, "a", T0))
    # get_leader and get_leader_raw need no configuration, as in the seed.
    assert run(db, lambda tr: election.get_leader(tr, T0)) is None


# ---------------------------------------------------------------------------------------------
# Values written by Rust, and corrupt values


def test_a_rust_written_leader_with_ballot_u64_max_reads_and_cannot_be_exceeded(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a")
    # Rust's tuple encoder writes u64::MAX with the 8-byte code 1c ff*8.
    rust_value = (
        b"\x1c" + b"\xff" * 8
        + tuples.pack(("a", 0, T0_NS + 10 * SECOND, bytes(12)))
    )  # fmt: skip
    set_raw(ready, layout.leader_key(election.subspace), rust_value)
    leader = raw_leader(ready, election)
    assert leader is not None and leader.ballot == 2**64 - 1
    with pytest.raises(InvalidState, match="ballot cannot grow"):
        refresh(ready, election, "a", at(1))
    # The record carries another registration's versionstamp: "a" may claim it once it expired.
    with pytest.raises(InvalidState, match="ballot cannot grow"):
        claim(ready, election, "a", 0, at(11))
    assert read_raw(ready, layout.leader_key(election.subspace)) == rust_value


@pytest.mark.parametrize(
    "operation",
    [
        lambda e, tr: e.get_leader_raw(tr),
        lambda e, tr: e.get_leader(tr, T0),
        lambda e, tr: e.is_leader(tr, "a", T0),
        lambda e, tr: e.try_claim_leadership(tr, "a", 0, T0),
        lambda e, tr: e.refresh_lease(tr, "a", T0),
        lambda e, tr: e.resign_leadership(tr, "a"),
        lambda e, tr: e.run_election_cycle(tr, "a", 0, T0),
    ],
    ids=["get_leader_raw", "get_leader", "is_leader", "claim", "refresh", "resign", "cycle"],
)
def test_a_corrupt_leader_value_is_invalid_state(
    ready: Any, election: LeaderElection, operation: Any
) -> None:
    register(ready, election, "a")
    set_raw(ready, layout.leader_key(election.subspace), tuples.pack((1, "a", 0)))
    with pytest.raises(InvalidState, match="leader value has 3 elements"):
        run(ready, lambda tr: operation(election, tr))


def test_corrupt_config_candidate_and_mark_are_invalid_state(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a")
    set_raw(ready, layout.ballot_key(election.subspace), tuples.pack(("seven",)))
    with pytest.raises(InvalidState, match="ballot mark"):
        claim(ready, election, "a", 0, T0)
    set_raw(ready, layout.candidate_key(election.subspace, "a"), b"\x15")
    with pytest.raises(InvalidState, match="candidate 'a'"):
        run(ready, lambda tr: election.get_candidate(tr, "a"))
    with pytest.raises(InvalidState, match="candidate 'a'"):
        run(ready, lambda tr: election.list_candidates(tr, T0))
    set_raw(ready, layout.config_key(election.subspace), tuples.pack((10,)))
    with pytest.raises(InvalidState, match="config"):
        run(ready, election.read_config)
