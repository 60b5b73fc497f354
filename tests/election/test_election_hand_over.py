"""``hand_over_leadership``: a leader writes its successor's claim instead of resigning."""

from __future__ import annotations

from typing import Any

import pytest
from election_helpers import T0, at, read_raw, register, run

from fdb_election.election import (
    ElectionConfig,
    ElectionDisabled,
    LeaderElection,
    LeaderState,
    NotLeader,
    UnregisteredCandidate,
    layout,
)

SECOND = 1_000_000_000
T0_NS = 1_700_000_000 * SECOND


def claim(db: Any, election: LeaderElection, pid: str, when: Any) -> LeaderState:
    state = run(db, lambda tr: election.try_claim_leadership(tr, pid, 0, when))
    assert state is not None
    return state


def hand_over(
    db: Any, election: LeaderElection, pid: str, successor: str, when: Any, **kw: Any
) -> LeaderState | None:
    return run(db, lambda tr: election.hand_over_leadership(tr, pid, successor, when, **kw))


def test_the_successor_holds_the_next_ballot_with_its_own_priority_and_registration(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a")
    b_stamp = register(ready, election, "b", 7)
    first = claim(ready, election, "a", T0)
    state = hand_over(ready, election, "a", "b", at(2))
    assert state == LeaderState(first.ballot + 1, "b", 7, T0_NS + 12 * SECOND, b_stamp)
    assert run(ready, election.get_leader_raw) == state
    mark = read_raw(ready, layout.ballot_key(election.subspace))
    assert mark is not None and layout.decode_ballot_mark(mark) == state.ballot
    assert run(ready, lambda tr: election.is_leader(tr, "b", at(3)))
    assert not run(ready, lambda tr: election.is_leader(tr, "a", at(3)))


def test_the_successor_starts_a_tenure_of_its_own(ready: Any, election: LeaderElection) -> None:
    register(ready, election, "a")
    register(ready, election, "b")
    claim(ready, election, "a", T0)
    a_state = run(ready, lambda tr: election.refresh_lease(tr, "a", at(1)))
    assert a_state is not None
    state = hand_over(ready, election, "a", "b", at(2))
    assert state is not None
    succession = read_raw(ready, layout.succession_key(election.subspace))
    assert succession is not None and layout.decode_succession(succession) == state.ballot
    tenure = layout.decode_tenure(read_raw(ready, layout.tenure_key(election.subspace)) or b"")
    assert tenure.first_ballot == state.ballot and tenure.lease_ns == 10 * SECOND
    # The old tenure's tokens no longer pass fence; the new one's does.
    with pytest.raises(NotLeader):
        run(ready, lambda tr: election.fence(tr, "a", a_state.ballot))
    run(ready, lambda tr: election.fence(tr, "b", state.ballot))
    # The successor refreshes it as its own.
    refreshed = run(ready, lambda tr: election.refresh_lease(tr, "b", at(3)))
    assert refreshed is not None and refreshed.ballot == state.ballot + 1


def test_only_the_leader_hands_over(ready: Any, election: LeaderElection) -> None:
    register(ready, election, "a")
    register(ready, election, "b")
    register(ready, election, "c")
    first = claim(ready, election, "a", T0)
    assert hand_over(ready, election, "c", "b", at(1)) is None
    assert hand_over(ready, election, "a", "b", at(1), versionstamp=b"\x00" * 12) is None
    assert run(ready, election.get_leader_raw) == first


def test_a_successor_must_be_registered(ready: Any, election: LeaderElection) -> None:
    register(ready, election, "a")
    first = claim(ready, election, "a", T0)
    with pytest.raises(UnregisteredCandidate):
        hand_over(ready, election, "a", "nobody", at(1))
    assert run(ready, election.get_leader_raw) == first


def test_a_leader_cannot_hand_over_to_itself(ready: Any, election: LeaderElection) -> None:
    register(ready, election, "a")
    claim(ready, election, "a", T0)
    with pytest.raises(ValueError, match="itself"):
        hand_over(ready, election, "a", "a", at(1))


def test_no_hand_over_while_elections_are_disabled(
    ready: Any, election: LeaderElection, config: ElectionConfig
) -> None:
    register(ready, election, "a")
    register(ready, election, "b")
    first = claim(ready, election, "a", T0)
    disabled = ElectionConfig(
        lease_duration=config.lease_duration,
        heartbeat_interval=config.heartbeat_interval,
        candidate_timeout=config.candidate_timeout,
        election_enabled=False,
    )
    run(ready, lambda tr: election.write_config(tr, disabled))
    with pytest.raises(ElectionDisabled):
        hand_over(ready, election, "a", "b", at(1))
    assert run(ready, election.get_leader_raw) == first


def test_an_unregistration_racing_the_hand_over_makes_it_conflict(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a")
    register(ready, election, "b")
    claim(ready, election, "a", T0)
    tr = ready.create_transaction()
    assert election.hand_over_leadership(tr, "a", "b", at(1)) is not None
    run(ready, lambda other: election.unregister_candidate(other, "b"))
    with pytest.raises(Exception) as failed:
        tr.commit().wait()
    assert getattr(failed.value, "code", None) == 1020


def test_a_scanned_registration_is_used_with_a_read_conflict(
    ready: Any, election: LeaderElection
) -> None:
    register(ready, election, "a")
    b_stamp = register(ready, election, "b", 3)
    claim(ready, election, "a", T0)
    tr = ready.create_transaction()
    scanned = [c for c in election.read_candidates(tr.snapshot)[0] if c.process_id == "b"]
    state = election.cycle(tr, "a").hand_over("b", at(1), scanned=scanned[0])
    assert state is not None and (state.priority, state.versionstamp) == (3, b_stamp)
    run(ready, lambda other: election.heartbeat_candidate(other, "b", 3, at(1)))
    with pytest.raises(Exception) as failed:
        tr.commit().wait()
    assert getattr(failed.value, "code", None) == 1020
    with pytest.raises(ValueError, match="registration of 'b'"):
        election.cycle(ready.create_transaction(), "a").hand_over("c", at(1), scanned=scanned[0])
